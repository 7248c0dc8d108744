package face

import (
	"errors"
	"fmt"
	"math"

	"github.com/vigil-edge/vigil/infer"
)

// Point is a position in image pixels (x to the right, y down).
type Point struct{ X, Y float32 }

// Landmarks are the five facial landmarks a detector gives, in the order of
// the Left/Right constants below (left and right as seen in the image).
type Landmarks [5]Point

// Indices into Landmarks.
const (
	LeftEye    = 0 // eye centre on the image's left (the subject's right eye)
	RightEye   = 1
	Nose       = 2 // nose tip
	MouthLeft  = 3 // mouth corner on the image's left
	MouthRight = 4
)

// ChipSize is the side of the aligned chip the face-api recognition ResNet
// (a port of dlib's dlib_face_recognition_resnet_model_v1) takes.
const ChipSize = 150

// ChipPadding is the padding dlib uses for its recognition chips
// (get_face_chip_details(det, 150, 0.25)): the mean face occupies the
// central 1/(1+2*0.25) of the chip.
const ChipPadding = 0.25

// dlibMeanFace is dlib's mean face shape (image_transforms/interpolation.h,
// get_face_chip_details): the 68-point iBUG landmarks without the 17 jaw
// points, in a unit square. Index i here is iBUG point i+17.
var dlibMeanFace = [51][2]float64{
	{0.000213256, 0.106454}, {0.0752622, 0.038915}, {0.18113, 0.0187482}, {0.29077, 0.0344891}, {0.393397, 0.0773906},
	{0.586856, 0.0773906}, {0.689483, 0.0344891}, {0.799124, 0.0187482}, {0.904991, 0.038915}, {0.98004, 0.106454},
	{0.490127, 0.203352}, {0.490127, 0.307009}, {0.490127, 0.409805}, {0.490127, 0.515625}, {0.36688, 0.587326},
	{0.426036, 0.609345}, {0.490127, 0.628106}, {0.554217, 0.609345}, {0.613373, 0.587326}, {0.121737, 0.216423},
	{0.187122, 0.178758}, {0.265825, 0.179852}, {0.334606, 0.231733}, {0.260918, 0.245099}, {0.182743, 0.244077},
	{0.645647, 0.231733}, {0.714428, 0.179852}, {0.793132, 0.178758}, {0.858516, 0.216423}, {0.79751, 0.244077},
	{0.719335, 0.245099}, {0.254149, 0.780233}, {0.340985, 0.745405}, {0.428858, 0.727388}, {0.490127, 0.742578},
	{0.551395, 0.727388}, {0.639268, 0.745405}, {0.726104, 0.780233}, {0.642159, 0.864805}, {0.556721, 0.902192},
	{0.490127, 0.909281}, {0.423532, 0.902192}, {0.338094, 0.864805}, {0.290379, 0.784792}, {0.428096, 0.778746},
	{0.490127, 0.785343}, {0.552157, 0.778746}, {0.689874, 0.784792}, {0.553364, 0.824182}, {0.490127, 0.831803},
	{0.42689, 0.824182},
}

// Template returns where the five landmarks fall on a size x size chip cut
// the way dlib cuts its recognition chips (so that a chip we make matches
// the chips the ResNet was trained on and the dlib chips in testdata).
//
// Derivation: dlib aligns its mean face shape (above) into the chip with
// padding p: a mean-shape point m lands at (p + m) / (1 + 2p) * size. Our
// detectors give eye centres, the nose tip and the mouth corners rather
// than dlib's eye corners, so each is taken from the mean shape as the
// corresponding iBUG point: each eye centre is the mean of its six points
// (36-41, 42-47), the nose tip is point 30, the mouth corners points 48 and
// 54. For size 150 and p = 0.25 this gives eyes at (47.5, 46.6) and
// (100.5, 46.6), the nose at (74.0, 76.6), mouth corners at (50.4, 103.0)
// and (97.6, 103.0). (The ArcFace 112x112 template, scaled to 150, sits
// about 20 px lower and tighter: it was not used because the face-api
// ResNet was trained on dlib's framing.)
func Template(size int, padding float64) Landmarks {
	mean := func(idx ...int) (x, y float64) {
		for _, i := range idx {
			x += dlibMeanFace[i-17][0]
			y += dlibMeanFace[i-17][1]
		}
		return x / float64(len(idx)), y / float64(len(idx))
	}
	var t Landmarks
	s := float64(size) / (1 + 2*padding)
	for k, idx := range [5][]int{
		LeftEye:    {36, 37, 38, 39, 40, 41},
		RightEye:   {42, 43, 44, 45, 46, 47},
		Nose:       {30},
		MouthLeft:  {48},
		MouthRight: {54},
	} {
		x, y := mean(idx...)
		t[k] = Point{X: float32((padding + x) * s), Y: float32((padding + y) * s)}
	}
	return t
}

// Similarity is a 2-D similarity transform (rotation, uniform scale,
// translation, no reflection): x' = A*x - B*y + TX, y' = B*x + A*y + TY,
// so the scale is hypot(A, B) and the rotation atan2(B, A).
type Similarity struct{ A, B, TX, TY float64 }

// Apply maps p.
func (s Similarity) Apply(p Point) Point {
	x, y := float64(p.X), float64(p.Y)
	return Point{X: float32(s.A*x - s.B*y + s.TX), Y: float32(s.B*x + s.A*y + s.TY)}
}

// Scale is the uniform scale factor.
func (s Similarity) Scale() float64 { return math.Hypot(s.A, s.B) }

// Angle is the rotation in radians (counter-clockwise in x-right, y-up
// terms; clockwise on screen, where y points down).
func (s Similarity) Angle() float64 { return math.Atan2(s.B, s.A) }

// Inverse is the inverse transform. It panics on a degenerate (zero-scale) one.
func (s Similarity) Inverse() Similarity {
	d := s.A*s.A + s.B*s.B
	if d == 0 {
		panic("face: inverse of a zero-scale similarity")
	}
	a, b := s.A/d, -s.B/d
	return Similarity{A: a, B: b, TX: -(a*s.TX - b*s.TY), TY: -(b*s.TX + a*s.TY)}
}

// ErrDegenerate is returned when points cannot define a transform
// (all source points coincide, or values are not finite).
var ErrDegenerate = errors.New("degenerate landmarks")

// EstimateSimilarity returns the similarity transform T minimising
// sum |T(src[i]) - dst[i]|² (least squares; Umeyama 1991 restricted to 2-D
// rotations, where the SVD has this closed form). It needs at least two
// distinct source points.
func EstimateSimilarity(src, dst []Point) (Similarity, error) {
	if len(src) != len(dst) || len(src) < 2 {
		return Similarity{}, fmt.Errorf("similarity: %d source and %d destination points, want equal and >= 2", len(src), len(dst))
	}
	n := float64(len(src))
	var msx, msy, mdx, mdy float64
	for i := range src {
		msx += float64(src[i].X)
		msy += float64(src[i].Y)
		mdx += float64(dst[i].X)
		mdy += float64(dst[i].Y)
	}
	msx, msy, mdx, mdy = msx/n, msy/n, mdx/n, mdy/n
	var ss, sa, sb float64
	for i := range src {
		ax, ay := float64(src[i].X)-msx, float64(src[i].Y)-msy
		bx, by := float64(dst[i].X)-mdx, float64(dst[i].Y)-mdy
		ss += ax*ax + ay*ay
		sa += ax*bx + ay*by
		sb += ax*by - ay*bx
	}
	if !(ss > 1e-12) || math.IsInf(ss, 0) || math.IsNaN(sa) || math.IsNaN(sb) {
		return Similarity{}, fmt.Errorf("similarity: %w: source points coincide or are not finite", ErrDegenerate)
	}
	a, b := sa/ss, sb/ss
	return Similarity{A: a, B: b, TX: mdx - (a*msx - b*msy), TY: mdy - (b*msx + a*msy)}, nil
}

// Warp fills dst (dst.W x dst.H) by sampling src bilinearly at
// T⁻¹(x, y) for every destination pixel centre, where t maps source pixels
// to destination pixels. Pixels that fall outside src take its nearest edge
// pixel (as infer's preprocessing does), so no black borders appear.
func Warp(dst, src *infer.Image, t Similarity) error {
	if src == nil || src.W <= 0 || src.H <= 0 || len(src.Pix) < 3*src.W*src.H {
		return errors.New("warp: empty or short source image")
	}
	if dst == nil || dst.W <= 0 || dst.H <= 0 || len(dst.Pix) < 3*dst.W*dst.H {
		return errors.New("warp: empty or short destination image")
	}
	if t.A == 0 && t.B == 0 {
		return fmt.Errorf("warp: %w: zero-scale transform", ErrDegenerate)
	}
	inv := t.Inverse()
	for y := range dst.H {
		row := dst.Pix[3*y*dst.W : 3*(y+1)*dst.W]
		fy := float64(y)
		for x := range dst.W {
			fx := float64(x)
			sx := inv.A*fx - inv.B*fy + inv.TX
			sy := inv.B*fx + inv.A*fy + inv.TY
			bilinear(row[3*x:3*x+3], src, sx, sy)
		}
	}
	return nil
}

func bilinear(out []uint8, src *infer.Image, sx, sy float64) {
	if math.IsNaN(sx) || math.IsNaN(sy) {
		sx, sy = 0, 0
	}
	// Clamp far-away coordinates before converting to int.
	sx = math.Min(math.Max(sx, -1), float64(src.W))
	sy = math.Min(math.Max(sy, -1), float64(src.H))
	x0, y0 := int(math.Floor(sx)), int(math.Floor(sy))
	ax, ay := sx-float64(x0), sy-float64(y0)
	r00, g00, b00 := src.At(x0, y0)
	r01, g01, b01 := src.At(x0+1, y0)
	r10, g10, b10 := src.At(x0, y0+1)
	r11, g11, b11 := src.At(x0+1, y0+1)
	mix := func(a, b, c, d uint8) uint8 {
		top := float64(a) + (float64(b)-float64(a))*ax
		bot := float64(c) + (float64(d)-float64(c))*ax
		v := top + (bot-top)*ay + 0.5
		return uint8(min(max(v, 0), 255))
	}
	out[0] = mix(r00, r01, r10, r11)
	out[1] = mix(g00, g01, g10, g11)
	out[2] = mix(b00, b01, b10, b11)
}

// Align cuts a size x size chip from img with the face's landmarks moved
// onto Template(size, ChipPadding).
func Align(img *infer.Image, lm Landmarks, size int) (*infer.Image, Similarity, error) {
	chip := infer.NewImage(size, size)
	t, err := alignInto(chip, img, lm)
	if err != nil {
		return nil, Similarity{}, err
	}
	return chip, t, nil
}

// alignInto is Align into an existing chip (its size is the chip's).
func alignInto(chip, img *infer.Image, lm Landmarks) (Similarity, error) {
	tpl := Template(chip.W, ChipPadding)
	t, err := EstimateSimilarity(lm[:], tpl[:])
	if err != nil {
		return Similarity{}, fmt.Errorf("align: %w", err)
	}
	if err := Warp(chip, img, t); err != nil {
		return Similarity{}, fmt.Errorf("align: %w", err)
	}
	return t, nil
}

// BoxMargin is the margin CropBox adds around a detector box on each side,
// as a fraction of the box's larger side. Face detector boxes run from the
// brows to the chin; dlib chips show the whole head with padding 0.25, so
// the crop is widened to roughly the same framing.
const BoxMargin = 0.2

// CropBox is the fallback when a detector gives no landmarks: a square
// centred on the box, of side max(w, h)*(1+2*margin), resized to
// size x size (bilinear; outside the image, edge pixels repeat).
func CropBox(img *infer.Image, x, y, w, h float32, margin float64, size int) (*infer.Image, Similarity, error) {
	chip := infer.NewImage(size, size)
	t, err := cropBoxInto(chip, img, x, y, w, h, margin)
	if err != nil {
		return nil, Similarity{}, err
	}
	return chip, t, nil
}

// cropBoxInto is CropBox into an existing square chip.
func cropBoxInto(chip, img *infer.Image, x, y, w, h float32, margin float64) (Similarity, error) {
	if !(w > 0 && h > 0) {
		return Similarity{}, fmt.Errorf("crop: %w: empty box %gx%g", ErrDegenerate, w, h)
	}
	side := float64(max(w, h)) * (1 + 2*margin)
	cx, cy := float64(x)+float64(w)/2, float64(y)+float64(h)/2
	s := float64(chip.W) / side
	// Map the square's top-left corner to (-0.5, -0.5) so pixel centres line up.
	t := Similarity{A: s, TX: -(cx-side/2)*s - 0.5 + s*0.5, TY: -(cy-side/2)*s - 0.5 + s*0.5}
	if err := Warp(chip, img, t); err != nil {
		return Similarity{}, fmt.Errorf("crop: %w", err)
	}
	return t, nil
}
