package face

import (
	"math"
	"math/rand/v2"

	"github.com/vigil-edge/vigil/infer"
)

// Flip returns img mirrored left to right.
func Flip(img *infer.Image) *infer.Image {
	out := infer.NewImage(img.W, img.H)
	for y := range img.H {
		src := img.Pix[3*y*img.W : 3*(y+1)*img.W]
		dst := out.Pix[3*y*img.W : 3*(y+1)*img.W]
		for x := range img.W {
			copy(dst[3*(img.W-1-x):3*(img.W-x)], src[3*x:3*x+3])
		}
	}
	return out
}

// Augmentation bounds the random changes Augment makes to a chip.
type Augmentation struct {
	Flip       bool    // mirror half the time
	Shift      float64 // max shift, as a fraction of the chip side
	Rotate     float64 // max rotation, radians
	Scale      float64 // max relative scale change
	Brightness float64 // max added brightness, 0..255 units
	Contrast   float64 // max relative contrast change
}

// DefaultAugmentation is mild: what an aligned chip of the same person
// plausibly varies by (alignment jitter, lighting), nothing that would
// make it look like someone else.
var DefaultAugmentation = Augmentation{Flip: true, Shift: 0.04, Rotate: 8 * math.Pi / 180, Scale: 0.06, Brightness: 20, Contrast: 0.2}

// Augment returns a randomly changed copy of chip.
func Augment(chip *infer.Image, a Augmentation, rng *rand.Rand) *infer.Image {
	src := chip
	if a.Flip && rng.IntN(2) == 1 {
		src = Flip(chip)
	}
	u := func(m float64) float64 { return (rng.Float64()*2 - 1) * m }
	angle, scale := u(a.Rotate), 1+u(a.Scale)
	dx, dy := u(a.Shift)*float64(chip.W), u(a.Shift)*float64(chip.H)
	// Rotate and scale about the chip's centre, then shift.
	cx, cy := float64(chip.W-1)/2, float64(chip.H-1)/2
	A, B := scale*math.Cos(angle), scale*math.Sin(angle)
	t := Similarity{A: A, B: B, TX: cx - (A*cx - B*cy) + dx, TY: cy - (B*cx + A*cy) + dy}
	out := infer.NewImage(chip.W, chip.H)
	_ = Warp(out, src, t) // sizes are valid and the transform is not degenerate
	gain, bias := 1+u(a.Contrast), u(a.Brightness)
	for i, v := range out.Pix {
		f := (float64(v)-128)*gain + 128 + bias
		out.Pix[i] = uint8(math.Max(0, math.Min(255, math.Round(f))))
	}
	return out
}
