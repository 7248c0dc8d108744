package capture

import (
	"image"
	"image/color"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocv.io/x/gocv"
)

// scene returns a 640x480 BGR frame: mid grey with a white rectangle at r (if not empty).
func scene(t *testing.T, r image.Rectangle) gocv.Mat {
	t.Helper()
	m := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(90, 90, 90, 0), 480, 640, gocv.MatTypeCV8UC3)
	if !r.Empty() {
		gocv.Rectangle(&m, r, color.RGBA{255, 255, 255, 0}, -1)
	}
	return m
}

func check(t *testing.T, g *MotionGate, r image.Rectangle) Motion {
	t.Helper()
	m := scene(t, r)
	defer m.Close()
	got, err := g.Check(m)
	require.NoError(t, err)
	return got
}

func TestMotionGateFindsAMovingObject(t *testing.T) {
	g, err := NewMotionGate(MotionConfig{})
	require.NoError(t, err)
	defer g.Close()

	assert.False(t, check(t, g, image.Rectangle{}).Moved, "first frame has nothing to compare with")
	assert.False(t, check(t, g, image.Rectangle{}).Moved, "same picture")

	obj := image.Rect(200, 120, 320, 280)
	m := check(t, g, obj)
	require.True(t, m.Moved)
	assert.True(t, m.Detect())
	assert.InDelta(t, float64(obj.Dx()*obj.Dy())/(640*480), m.Area, 0.02)
	require.Len(t, m.Boxes, 1)
	// The box is found on a 160-wide copy and blurred and dilated there: allow a few
	// downscaled pixels (4 full-size pixels each) of slack.
	box := m.Boxes[0]
	assert.True(t, box.Inset(-1).Overlaps(obj))
	assert.InDelta(t, obj.Min.X, box.Min.X, 20)
	assert.InDelta(t, obj.Min.Y, box.Min.Y, 20)
	assert.InDelta(t, obj.Max.X, box.Max.X, 20)
	assert.InDelta(t, obj.Max.Y, box.Max.Y, 20)

	assert.False(t, check(t, g, obj).Moved, "the object stopped")
	m = check(t, g, obj.Add(image.Pt(100, 0)))
	assert.True(t, m.Moved, "the object moved")
	// A flat object moved by less than its width changes two strips: where it was and
	// where it now is; the overlap looks the same in both frames.
	assert.Len(t, m.Boxes, 2)
}

func TestMotionGateMinAreaAndThreshold(t *testing.T) {
	g, err := NewMotionGate(MotionConfig{MinArea: 0.05})
	require.NoError(t, err)
	defer g.Close()
	check(t, g, image.Rectangle{})
	small := image.Rect(10, 10, 50, 50) // 0.5% of the frame
	m := check(t, g, small)
	assert.False(t, m.Moved)
	assert.Greater(t, m.Area, 0.0)
	assert.Empty(t, m.Boxes)
	assert.True(t, check(t, g, image.Rect(0, 0, 320, 240)).Moved, "a quarter of the frame")

	// A change of grey level below the threshold is noise.
	g2, err := NewMotionGate(MotionConfig{Threshold: 50})
	require.NoError(t, err)
	defer g2.Close()
	a := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(100, 100, 100, 0), 240, 320, gocv.MatTypeCV8UC3)
	defer a.Close()
	b := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(130, 130, 130, 0), 240, 320, gocv.MatTypeCV8UC3)
	defer b.Close()
	_, err = g2.Check(a)
	require.NoError(t, err)
	m, err = g2.Check(b)
	require.NoError(t, err)
	assert.False(t, m.Moved, "30 grey levels < threshold 50")
	assert.Zero(t, m.Area)
}

func TestMotionGateMasks(t *testing.T) {
	// Mask the left half: motion there is ignored, motion on the right is not.
	left := Polygon{{0, 0}, {0.5, 0}, {0.5, 1}, {0, 1}}
	g, err := NewMotionGate(MotionConfig{Masks: []Polygon{left}})
	require.NoError(t, err)
	defer g.Close()
	check(t, g, image.Rectangle{})
	assert.False(t, check(t, g, image.Rect(40, 100, 200, 300)).Moved, "inside the mask")
	check(t, g, image.Rectangle{})
	m := check(t, g, image.Rect(400, 100, 560, 300))
	require.True(t, m.Moved, "outside the mask")
	// The changed fraction is of the unmasked half: twice that of the same change unmasked.
	g2, err := NewMotionGate(MotionConfig{})
	require.NoError(t, err)
	defer g2.Close()
	check(t, g2, image.Rectangle{})
	unmasked := check(t, g2, image.Rect(400, 100, 560, 300))
	assert.InDelta(t, 2*unmasked.Area, m.Area, 0.01)
}

func TestMotionGateEveryN(t *testing.T) {
	g, err := NewMotionGate(MotionConfig{EveryN: 3})
	require.NoError(t, err)
	defer g.Close()
	var forced []int
	for i := 1; i <= 9; i++ {
		m := check(t, g, image.Rectangle{})
		assert.False(t, m.Moved)
		assert.Equal(t, m.Forced, m.Detect())
		if m.Forced {
			forced = append(forced, i)
		}
	}
	assert.Equal(t, []int{3, 6, 9}, forced)
}

func TestMotionGateResolutionChangeAndReset(t *testing.T) {
	g, err := NewMotionGate(MotionConfig{})
	require.NoError(t, err)
	defer g.Close()
	check(t, g, image.Rectangle{})
	other := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(0, 0, 0, 0), 100, 200, gocv.MatTypeCV8UC3)
	defer other.Close()
	m, err := g.Check(other)
	require.NoError(t, err)
	assert.False(t, m.Moved, "a new resolution starts over, it is not motion")
	g.Reset()
	m, err = g.Check(other)
	require.NoError(t, err)
	assert.False(t, m.Moved)

	empty := gocv.NewMat()
	defer empty.Close()
	_, err = g.Check(empty)
	assert.ErrorContains(t, err, "empty frame")
}

func TestMotionConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  MotionConfig
		want string
	}{
		{MotionConfig{Threshold: 256}, "threshold 256"},
		{MotionConfig{MinArea: 1.5}, "min area 1.5"},
		{MotionConfig{MinArea: -0.1}, "min area -0.1"},
		{MotionConfig{Blur: 4}, "blur 4"},
		{MotionConfig{Width: 4}, "width 4"},
		{MotionConfig{EveryN: -1}, "every-n -1"},
		{MotionConfig{Masks: []Polygon{{{0, 0}, {1, 1}}}}, "mask 0: a polygon needs at least 3 points"},
		{MotionConfig{Masks: []Polygon{{{0, 0}, {1, 0}, {1, 1.2}}}}, "mask 0 point 2"},
	} {
		_, err := NewMotionGate(tc.cfg)
		assert.ErrorContains(t, err, tc.want)
	}
	assert.NoError(t, MotionConfig{}.Validate())
}
