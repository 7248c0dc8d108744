package face

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vigil-edge/vigil/infer"
)

func TestTemplateDlib150(t *testing.T) {
	tpl := Template(ChipSize, ChipPadding)
	// Symmetric about the chip's vertical midline of the mean face (x=0.490127).
	mid := (0.25 + 0.490127) / 1.5 * 150
	assert.InDelta(t, mid-float64(tpl[LeftEye].X), float64(tpl[RightEye].X)-mid, 1e-3)
	assert.InDelta(t, tpl[LeftEye].Y, tpl[RightEye].Y, 1e-4)
	assert.InDelta(t, mid, tpl[Nose].X, 1e-3)
	assert.InDelta(t, 47.5, tpl[LeftEye].X, 0.1)
	assert.InDelta(t, 46.6, tpl[LeftEye].Y, 0.1)
	assert.InDelta(t, 76.6, tpl[Nose].Y, 0.1)
	assert.InDelta(t, 103.0, tpl[MouthLeft].Y, 0.1)
	assert.Less(t, tpl[LeftEye].Y, tpl[Nose].Y)
	assert.Less(t, tpl[Nose].Y, tpl[MouthLeft].Y)
}

func TestEstimateSimilarityRecoversKnownTransform(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tpl := Template(ChipSize, ChipPadding)
	for range 200 {
		angle := (rng.Float64()*2 - 1) * math.Pi
		scale := 0.2 + rng.Float64()*5
		want := Similarity{A: scale * math.Cos(angle), B: scale * math.Sin(angle), TX: rng.Float64()*800 - 400, TY: rng.Float64()*600 - 300}
		var src Landmarks
		for i, p := range tpl {
			src[i] = want.Apply(p)
		}
		// src = want(tpl); estimating src -> tpl recovers want's inverse.
		got, err := EstimateSimilarity(src[:], tpl[:])
		require.NoError(t, err)
		inv := want.Inverse()
		assert.InDelta(t, 1/scale, got.Scale(), 1e-4/scale)
		assert.InDelta(t, 0, angleDiff(-angle, got.Angle()), 1e-4)
		assert.InDelta(t, inv.TX, got.TX, 1e-2)
		assert.InDelta(t, inv.TY, got.TY, 1e-2)
		for i := range src {
			p := got.Apply(src[i])
			assert.InDelta(t, tpl[i].X, p.X, 2e-2)
			assert.InDelta(t, tpl[i].Y, p.Y, 2e-2)
		}
	}
}

func angleDiff(a, b float64) float64 {
	d := math.Mod(a-b+3*math.Pi, 2*math.Pi) - math.Pi
	return d
}

func TestEstimateSimilarityNoisyIsLeastSquares(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	tpl := Template(ChipSize, ChipPadding)
	want := Similarity{A: 2 * math.Cos(0.3), B: 2 * math.Sin(0.3), TX: 40, TY: -7}
	var src Landmarks
	for i, p := range tpl {
		q := want.Apply(p)
		src[i] = Point{q.X + float32(rng.NormFloat64()), q.Y + float32(rng.NormFloat64())}
	}
	got, err := EstimateSimilarity(tpl[:], src[:])
	require.NoError(t, err)
	assert.InDelta(t, 2, got.Scale(), 0.05)
	assert.InDelta(t, 0.3, got.Angle(), 0.03)
	// Perturbing the solution never lowers the residual.
	res := func(s Similarity) float64 {
		var r float64
		for i := range tpl {
			p := s.Apply(tpl[i])
			r += sq(float64(p.X-src[i].X)) + sq(float64(p.Y-src[i].Y))
		}
		return r
	}
	base := res(got)
	for _, d := range []Similarity{{A: 1e-3}, {A: -1e-3}, {B: 1e-3}, {B: -1e-3}, {TX: 0.05}, {TY: -0.05}} {
		p := Similarity{got.A + d.A, got.B + d.B, got.TX + d.TX, got.TY + d.TY}
		assert.Greater(t, res(p), base-1e-6)
	}
}

func sq(x float64) float64 { return x * x }

func TestEstimateSimilarityDegenerate(t *testing.T) {
	p := []Point{{1, 1}, {1, 1}, {1, 1}}
	_, err := EstimateSimilarity(p, p)
	assert.ErrorIs(t, err, ErrDegenerate)
	_, err = EstimateSimilarity(p[:1], p[:1])
	assert.Error(t, err)
	nan := float32(math.NaN())
	_, err = EstimateSimilarity([]Point{{nan, 0}, {1, 1}}, []Point{{0, 0}, {1, 1}})
	assert.Error(t, err)
}

// A synthetic face: dots painted at the template positions of a large
// image, rotated and scaled; alignment must bring them back onto the template.
func TestAlignPutsLandmarksOnTemplate(t *testing.T) {
	tpl := Template(ChipSize, ChipPadding)
	fwd := Similarity{A: 2.2 * math.Cos(-0.5), B: 2.2 * math.Sin(-0.5), TX: 120, TY: 260}
	img := infer.NewImage(640, 480)
	var lm Landmarks
	for i, p := range tpl {
		lm[i] = fwd.Apply(p)
		paintDot(img, lm[i], 5, uint8(50*(i+1)))
	}
	chip, _, err := Align(img, lm, ChipSize)
	require.NoError(t, err)
	for i, p := range tpl {
		r, _, _ := chip.At(int(math.Round(float64(p.X))), int(math.Round(float64(p.Y))))
		assert.InDelta(t, 50*(i+1), int(r), 30, "landmark %d", i)
	}
}

func paintDot(img *infer.Image, c Point, r int, v uint8) {
	for y := int(c.Y) - r; y <= int(c.Y)+r; y++ {
		for x := int(c.X) - r; x <= int(c.X)+r; x++ {
			if x >= 0 && y >= 0 && x < img.W && y < img.H {
				o := 3 * (y*img.W + x)
				img.Pix[o], img.Pix[o+1], img.Pix[o+2] = v, v, v
			}
		}
	}
}

func TestWarpIdentityIsExact(t *testing.T) {
	img := infer.NewImage(31, 17)
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	out := infer.NewImage(31, 17)
	require.NoError(t, Warp(out, img, Similarity{A: 1}))
	assert.Equal(t, img.Pix, out.Pix)
}

func TestCropBoxFramesTheBox(t *testing.T) {
	img := infer.NewImage(200, 100)
	// Box (50,20)-(90,60) painted white; with zero margin the chip is all white.
	for y := 20; y < 60; y++ {
		for x := 50; x < 90; x++ {
			o := 3 * (y*img.W + x)
			img.Pix[o], img.Pix[o+1], img.Pix[o+2] = 255, 255, 255
		}
	}
	chip, _, err := CropBox(img, 50, 20, 40, 40, 0, 20)
	require.NoError(t, err)
	for i, v := range chip.Pix {
		require.Equal(t, uint8(255), v, "byte %d", i)
	}
	chip, _, err = CropBox(img, 50, 20, 40, 40, 0.5, 40)
	require.NoError(t, err)
	r, _, _ := chip.At(0, 0)
	assert.Equal(t, uint8(0), r)
	r, _, _ = chip.At(20, 20)
	assert.Equal(t, uint8(255), r)
	_, _, err = CropBox(img, 0, 0, 0, 10, 0, 20)
	assert.ErrorIs(t, err, ErrDegenerate)
}

func TestQuality(t *testing.T) {
	flat := infer.NewImage(50, 50)
	assert.Zero(t, Sharpness(flat))
	checker := infer.NewImage(50, 50)
	for y := range 50 {
		for x := range 50 {
			if (x/2+y/2)%2 == 0 {
				o := 3 * (y*50 + x)
				checker.Pix[o], checker.Pix[o+1], checker.Pix[o+2] = 255, 255, 255
			}
		}
	}
	assert.Greater(t, Sharpness(checker), 1000.0)
	tpl := Template(ChipSize, ChipPadding)
	assert.InDelta(t, 0, Yaw(tpl), 0.01)
	turned := tpl
	turned[Nose].X = tpl[RightEye].X
	assert.InDelta(t, 1, Yaw(turned), 1e-6)
	q := MeasureQuality(checker, &tpl, 0)
	assert.InDelta(t, ChipSize/(1+2*ChipPadding), q.Size, 1)
	assert.NoError(t, DefaultQualityMin.Check(q))
	assert.ErrorContains(t, DefaultQualityMin.Check(Quality{Sharpness: 1, Size: 100}), "blurred")
	assert.ErrorContains(t, DefaultQualityMin.Check(Quality{Sharpness: 100, Size: 10}), "small")
	assert.ErrorContains(t, DefaultQualityMin.Check(Quality{Sharpness: 100, Size: 100, Yaw: 0.9}), "turned")
}
