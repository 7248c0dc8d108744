// Package detect finds faces in images: boxes and their geometry (IoU,
// greedy and soft non-maximum suppression, regression decoding), image
// pyramids, the detectors that run on the infer engine (the MTCNN cascade,
// a sliding-window path for any small classifier, and single-shot decoders
// for the tiny face detector, UltraFace and BlazeFace), and evaluation
// against labelled photographs (dlib imglab XML).
//
// Invariants:
//   - Boxes are float32 pixel rectangles of the image handed to the detector:
//     (X, Y) is the top-left corner, W and H the size; a box with W <= 0 or
//     H <= 0 is empty and overlaps nothing.
//   - Every detector returns []Detection in original-image pixels, sorted by
//     descending score, and works on the float32 and the int8 executor alike.
//   - The package is plain Go: no gocv, no cgo.
package detect

import "math"

// Box is an axis-aligned rectangle in pixels: top-left (X, Y), width W, height H.
type Box struct {
	X, Y, W, H float32
}

// BoxFromCorners makes a box from its top-left (x1, y1) and bottom-right (x2, y2) corners.
func BoxFromCorners(x1, y1, x2, y2 float32) Box { return Box{X: x1, Y: y1, W: x2 - x1, H: y2 - y1} }

// BoxFromCenter makes a box from its centre and size.
func BoxFromCenter(cx, cy, w, h float32) Box { return Box{X: cx - w/2, Y: cy - h/2, W: w, H: h} }

// X2 is the right edge.
func (b Box) X2() float32 { return b.X + b.W }

// Y2 is the bottom edge.
func (b Box) Y2() float32 { return b.Y + b.H }

// Center is the centre point.
func (b Box) Center() (cx, cy float32) { return b.X + b.W/2, b.Y + b.H/2 }

// Empty reports whether the box has no area (or is NaN).
func (b Box) Empty() bool { return !(b.W > 0 && b.H > 0) }

// Area is W*H, or 0 for an empty box.
func (b Box) Area() float32 {
	if b.Empty() {
		return 0
	}
	return b.W * b.H
}

// Intersect is the overlap of two boxes (empty when they are disjoint).
func (b Box) Intersect(o Box) Box {
	x1, y1 := max(b.X, o.X), max(b.Y, o.Y)
	x2, y2 := min(b.X2(), o.X2()), min(b.Y2(), o.Y2())
	if x2 <= x1 || y2 <= y1 {
		return Box{X: x1, Y: y1}
	}
	return Box{X: x1, Y: y1, W: x2 - x1, H: y2 - y1}
}

// Scale multiplies every coordinate by s (from a resized image back to the original).
func (b Box) Scale(sx, sy float32) Box {
	return Box{X: b.X * sx, Y: b.Y * sy, W: b.W * sx, H: b.H * sy}
}

// Clip clamps the box to the image [0, w) x [0, h).
func (b Box) Clip(w, h float32) Box {
	x1, y1 := min(max(b.X, 0), w), min(max(b.Y, 0), h)
	x2, y2 := min(max(b.X2(), 0), w), min(max(b.Y2(), 0), h)
	return Box{X: x1, Y: y1, W: x2 - x1, H: y2 - y1}
}

// Square grows the shorter side so the box is square around the same centre
// (MTCNN's "rerec": the next stage takes square crops).
func (b Box) Square() Box {
	s := max(b.W, b.H)
	cx, cy := b.Center()
	return BoxFromCenter(cx, cy, s, s)
}

// IoU is intersection over union, in [0, 1]; 0 when either box is empty.
// Areas are taken from the corners so identical boxes give exactly 1.
func IoU(a, b Box) float32 {
	inter, aa, ab := overlap(a, b)
	if inter <= 0 {
		return 0
	}
	return min(inter/(aa+ab-inter), 1)
}

// IoM is intersection over the smaller area, in [0, 1]; MTCNN suppresses
// boxes nested in a larger one with it at the last stage.
func IoM(a, b Box) float32 {
	inter, aa, ab := overlap(a, b)
	if inter <= 0 {
		return 0
	}
	return min(inter/min(aa, ab), 1)
}

// overlap returns the intersection area and both areas, all computed from
// corners the same way (0 intersection for empty or NaN boxes).
func overlap(a, b Box) (inter, aa, ab float32) {
	if a.Empty() || b.Empty() {
		return 0, 0, 0
	}
	ax2, ay2, bx2, by2 := a.X2(), a.Y2(), b.X2(), b.Y2()
	iw := min(ax2, bx2) - max(a.X, b.X)
	ih := min(ay2, by2) - max(a.Y, b.Y)
	if !(iw > 0 && ih > 0) {
		return 0, 0, 0
	}
	return iw * ih, (ax2 - a.X) * (ay2 - a.Y), (bx2 - b.X) * (by2 - b.Y)
}

// Detection is one found object: its box in original-image pixels, a score
// (a probability in [0, 1] for every detector here) and optional landmarks in
// pixels (MTCNN and BlazeFace give five or six: eyes, nose, mouth...).
type Detection struct {
	Box       Box
	Score     float32
	Landmarks [][2]float32
	// Class is the class index for multi-class detectors; faces are class 0.
	Class int
}

func finite(f float32) bool { return !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0) }

// Sigmoid is the logistic function, stable for large |x|.
func Sigmoid(x float32) float32 {
	if x >= 0 {
		return 1 / (1 + float32(math.Exp(float64(-x))))
	}
	e := float32(math.Exp(float64(x)))
	return e / (1 + e)
}
