package capture

import (
	"fmt"
	"image"
	"image/color"
	"math"

	"gocv.io/x/gocv"
)

// Point is a position in frame fractions: (0, 0) is the top-left corner, (1, 1) the
// bottom-right, whatever the resolution.
type Point struct{ X, Y float64 }

// Polygon is a closed polygon in frame fractions.
type Polygon []Point

// MotionConfig configures the motion gate. The zero value of each field picks its default.
type MotionConfig struct {
	// Width is the width in pixels of the grey frame the gate compares; the height keeps the
	// aspect ratio. Small is fast and ignores sensor noise. Default 160.
	Width int
	// Threshold is the per-pixel grey difference, 1..255, that counts as change. Default 25.
	Threshold int
	// MinArea is the fraction of the unmasked frame, in (0, 1], that must change for the frame
	// to count as motion. Default 0.002.
	MinArea float64
	// Blur is the odd size, in downscaled pixels, of the Gaussian blur applied before
	// differencing (sensor noise and compression artefacts); 1 turns it off. Default 5.
	Blur int
	// Masks are regions where change is ignored (a tree in the wind, a clock, a busy road).
	Masks []Polygon
	// EveryN forces detection on every Nth frame the gate sees, motion or not, so that a
	// still face is still found now and then; 0 never forces it.
	EveryN int
}

// Defaults for the zero fields of MotionConfig.
const (
	DefaultMotionWidth     = 160
	DefaultMotionThreshold = 25
	DefaultMotionMinArea   = 0.002
	DefaultMotionBlur      = 5
)

func (c MotionConfig) withDefaults() MotionConfig {
	if c.Width == 0 {
		c.Width = DefaultMotionWidth
	}
	if c.Threshold == 0 {
		c.Threshold = DefaultMotionThreshold
	}
	if c.MinArea == 0 {
		c.MinArea = DefaultMotionMinArea
	}
	if c.Blur == 0 {
		c.Blur = DefaultMotionBlur
	}
	return c
}

// Validate reports the first out-of-range field.
func (c MotionConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Width < 8 || c.Width > 4096:
		return fmt.Errorf("motion width %d: must be between 8 and 4096", c.Width)
	case c.Threshold < 1 || c.Threshold > 255:
		return fmt.Errorf("motion threshold %d: must be between 1 and 255", c.Threshold)
	case !(c.MinArea > 0 && c.MinArea <= 1):
		return fmt.Errorf("motion min area %g: must be above 0 and at most 1", c.MinArea)
	case c.Blur < 1 || c.Blur%2 == 0 || c.Blur > 31:
		return fmt.Errorf("motion blur %d: must be odd, between 1 and 31", c.Blur)
	case c.EveryN < 0:
		return fmt.Errorf("motion every-n %d: must be 0 (never) or positive", c.EveryN)
	}
	for i, p := range c.Masks {
		if len(p) < 3 {
			return fmt.Errorf("motion mask %d: a polygon needs at least 3 points, got %d", i, len(p))
		}
		for j, pt := range p {
			if !(pt.X >= 0 && pt.X <= 1 && pt.Y >= 0 && pt.Y <= 1) {
				return fmt.Errorf("motion mask %d point %d (%g, %g): coordinates are frame fractions in [0, 1]", i, j, pt.X, pt.Y)
			}
		}
	}
	return nil
}

// Motion is the gate's verdict on one frame.
type Motion struct {
	// Moved is true when at least MinArea of the unmasked frame changed since the previous
	// frame. The first frame (nothing to compare with) has not moved.
	Moved bool
	// Area is the changed fraction of the unmasked frame, in [0, 1].
	Area float64
	// Forced is true when the EveryN counter came due on this frame.
	Forced bool
	// Boxes bound the changed regions, in the full frame's pixels. Only set when Moved.
	Boxes []image.Rectangle
}

// Detect tells whether detection should run on the frame: motion, or forced by EveryN.
func (m Motion) Detect() bool { return m.Moved || m.Forced }

// MotionGate decides which frames are worth running the detector on, by differencing each
// frame against the previous one on a downscaled, blurred grey copy (as Frigate does).
// It is not safe for concurrent use; it keeps its Mats between frames and reuses them.
// Close releases them.
type MotionGate struct {
	cfg MotionConfig

	small, grey, prev, diff, mask, kernel gocv.Mat
	size                                  image.Point // downscaled size; zero until the first frame
	full                                  image.Point // full frame size the mask was drawn for
	unmasked                              int         // pixels of the downscaled frame outside every mask
	hasPrev                               bool
	seen                                  int // frames seen, for EveryN
	boxes                                 []image.Rectangle
}

// NewMotionGate validates cfg and returns a gate. Close it when done.
func NewMotionGate(cfg MotionConfig) (*MotionGate, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &MotionGate{
		cfg:    cfg.withDefaults(),
		small:  gocv.NewMat(),
		grey:   gocv.NewMat(),
		prev:   gocv.NewMat(),
		diff:   gocv.NewMat(),
		mask:   gocv.NewMat(),
		kernel: gocv.GetStructuringElement(gocv.MorphRect, image.Pt(3, 3)),
	}, nil
}

// Close releases the gate's Mats.
func (g *MotionGate) Close() error {
	for _, m := range []*gocv.Mat{&g.small, &g.grey, &g.prev, &g.diff, &g.mask, &g.kernel} {
		m.Close()
	}
	return nil
}

// Reset forgets the previous frame, e.g. after the source was reopened: the next frame is
// compared with nothing rather than with a picture from before the gap.
func (g *MotionGate) Reset() { g.hasPrev = false }

// Check compares frame (8-bit BGR or grey, any size) with the previous one. The returned
// Boxes slice is reused by the next call.
func (g *MotionGate) Check(frame gocv.Mat) (Motion, error) {
	if frame.Empty() {
		return Motion{}, fmt.Errorf("motion gate: empty frame")
	}
	full := image.Pt(frame.Cols(), frame.Rows())
	if full != g.full {
		g.setSize(full)
	}
	g.seen++
	var m Motion
	if g.cfg.EveryN > 0 && g.seen%g.cfg.EveryN == 0 {
		m.Forced = true
	}

	gocv.Resize(frame, &g.small, g.size, 0, 0, gocv.InterpolationArea)
	switch g.small.Channels() {
	case 1:
		g.small.CopyTo(&g.grey)
	case 3:
		gocv.CvtColor(g.small, &g.grey, gocv.ColorBGRToGray)
	case 4:
		gocv.CvtColor(g.small, &g.grey, gocv.ColorBGRAToGray)
	default:
		return Motion{}, fmt.Errorf("motion gate: frame has %d channels, want 1, 3 or 4", g.small.Channels())
	}
	if g.cfg.Blur > 1 {
		gocv.GaussianBlur(g.grey, &g.grey, image.Pt(g.cfg.Blur, g.cfg.Blur), 0, 0, gocv.BorderDefault)
	}
	if !g.hasPrev {
		g.grey.CopyTo(&g.prev)
		g.hasPrev = true
		return m, nil
	}

	gocv.AbsDiff(g.grey, g.prev, &g.diff)
	// The current frame becomes the reference: swap rather than copy.
	g.grey, g.prev = g.prev, g.grey
	gocv.Threshold(g.diff, &g.diff, float32(g.cfg.Threshold), 255, gocv.ThresholdBinary)
	if len(g.cfg.Masks) > 0 {
		gocv.BitwiseAnd(g.diff, g.mask, &g.diff)
	}
	// Join the speckles of one moving object into one region.
	gocv.Dilate(g.diff, &g.diff, g.kernel)

	changed := gocv.CountNonZero(g.diff)
	if g.unmasked > 0 {
		m.Area = float64(changed) / float64(g.unmasked)
	}
	if m.Area < g.cfg.MinArea || changed == 0 {
		return m, nil
	}
	m.Moved = true

	contours := gocv.FindContours(g.diff, gocv.RetrievalExternal, gocv.ChainApproxSimple)
	defer contours.Close()
	sx := float64(full.X) / float64(g.size.X)
	sy := float64(full.Y) / float64(g.size.Y)
	g.boxes = g.boxes[:0]
	for i := 0; i < contours.Size(); i++ {
		r := gocv.BoundingRect(contours.At(i))
		g.boxes = append(g.boxes, image.Rect(
			int(math.Floor(float64(r.Min.X)*sx)), int(math.Floor(float64(r.Min.Y)*sy)),
			min(full.X, int(math.Ceil(float64(r.Max.X)*sx))), min(full.Y, int(math.Ceil(float64(r.Max.Y)*sy)))))
	}
	m.Boxes = g.boxes
	return m, nil
}

// setSize picks the downscaled size for frames of size full and draws the mask for it.
func (g *MotionGate) setSize(full image.Point) {
	w := min(g.cfg.Width, full.X)
	h := max(1, int(math.Round(float64(full.Y)*float64(w)/float64(full.X))))
	g.full, g.size, g.hasPrev = full, image.Pt(w, h), false
	g.unmasked = w * h
	if len(g.cfg.Masks) == 0 {
		return
	}
	// 255 where motion counts, 0 inside the masks.
	g.mask.Close()
	g.mask = gocv.NewMatWithSizeFromScalar(gocv.NewScalar(255, 0, 0, 0), h, w, gocv.MatTypeCV8UC1)
	pts := make([][]image.Point, len(g.cfg.Masks))
	for i, poly := range g.cfg.Masks {
		for _, p := range poly {
			pts[i] = append(pts[i], image.Pt(int(math.Round(p.X*float64(w))), int(math.Round(p.Y*float64(h)))))
		}
	}
	pv := gocv.NewPointsVectorFromPoints(pts)
	gocv.FillPoly(&g.mask, pv, color.RGBA{})
	pv.Close()
	g.unmasked = gocv.CountNonZero(g.mask)
}
