package face

import (
	"errors"
	"fmt"
	"math"

	"github.com/vigil-edge/vigil/infer"
)

// Quality describes how usable a face is for enrolment or identification.
type Quality struct {
	// Sharpness is the variance of the 4-neighbour Laplacian of the luma
	// (0..255 scale) over the chip: low for blurred or flat faces. A sharp
	// 150x150 chip is typically in the hundreds; motion blur drops it
	// below ~30.
	Sharpness float64
	// Size is the face's size in source pixels: the inter-ocular distance
	// scaled to the chip's face width when landmarks exist, else the box side.
	Size float64
	// Yaw is a pose proxy in [-1, 1] from the landmarks: how far the nose
	// sits from the midpoint between the eyes, relative to the eye
	// distance (0 frontal, +-1 nose level with one eye: profile). NaN when
	// there are no landmarks.
	Yaw float64
}

// QualityMin is the minimum a face must reach to be used. The zero value
// accepts everything.
type QualityMin struct {
	Sharpness float64 // minimum Laplacian variance
	Size      float64 // minimum face size in source pixels
	MaxYaw    float64 // maximum |Yaw|; 0 means no limit
}

// DefaultQualityMin rejects faces that are clearly unusable: heavy blur,
// faces under 40 pixels, near-profile poses.
var DefaultQualityMin = QualityMin{Sharpness: 20, Size: 40, MaxYaw: 0.6}

// ErrLowQuality is matched (errors.Is) by QualityMin.Check's errors.
var ErrLowQuality = errors.New("face below the quality minimum")

// qualityError is a Check failure: its text says which measure failed.
type qualityError string

func (e qualityError) Error() string        { return string(e) }
func (e qualityError) Is(target error) bool { return target == ErrLowQuality }

// Check returns nil when q meets m, else an error (matching ErrLowQuality)
// that says which measure failed and by how much.
func (m QualityMin) Check(q Quality) error {
	if q.Sharpness < m.Sharpness {
		return qualityError(fmt.Sprintf("face too blurred: sharpness %.1f < minimum %.1f", q.Sharpness, m.Sharpness))
	}
	if q.Size < m.Size {
		return qualityError(fmt.Sprintf("face too small: %.0f px < minimum %.0f px", q.Size, m.Size))
	}
	if m.MaxYaw > 0 && !math.IsNaN(q.Yaw) && math.Abs(q.Yaw) > m.MaxYaw {
		return qualityError(fmt.Sprintf("face turned too far: yaw proxy %.2f exceeds %.2f", q.Yaw, m.MaxYaw))
	}
	return nil
}

// Sharpness is the variance of the Laplacian of img's luma (BT.601), the
// classic focus measure (Pech-Pacheco et al. 2000).
func Sharpness(img *infer.Image) float64 {
	w, h := img.W, img.H
	if w < 3 || h < 3 {
		return 0
	}
	// Luma computed where it is read (five times per pixel) rather than kept in a
	// w*h copy: the same float64 values in the same order, and nothing allocated
	// per face in the daemon.
	luma := func(i int) float64 {
		p := img.Pix[3*i : 3*i+3]
		return 0.299*float64(p[0]) + 0.587*float64(p[1]) + 0.114*float64(p[2])
	}
	var sum, sum2 float64
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			i := y*w + x
			l := luma(i-1) + luma(i+1) + luma(i-w) + luma(i+w) - 4*luma(i)
			sum += l
			sum2 += l * l
		}
	}
	n := float64((w - 2) * (h - 2))
	mean := sum / n
	return sum2/n - mean*mean
}

// Yaw is the pose proxy of Quality.Yaw: signed horizontal offset of the
// nose from the eyes' midpoint, measured along the eye line, divided by
// half the eye distance, clamped to [-1, 1].
func Yaw(lm Landmarks) float64 {
	ex := float64(lm[RightEye].X - lm[LeftEye].X)
	ey := float64(lm[RightEye].Y - lm[LeftEye].Y)
	d := math.Hypot(ex, ey)
	if d == 0 {
		return math.NaN()
	}
	mx := float64(lm[LeftEye].X+lm[RightEye].X) / 2
	my := float64(lm[LeftEye].Y+lm[RightEye].Y) / 2
	off := ((float64(lm[Nose].X)-mx)*ex + (float64(lm[Nose].Y)-my)*ey) / d
	return math.Max(-1, math.Min(1, off/(d/2)))
}

// MeasureQuality scores an aligned chip. lm are the landmarks in the
// source image (nil when the face came from a box only) and boxSide the
// detector box's larger side in source pixels.
func MeasureQuality(chip *infer.Image, lm *Landmarks, boxSide float64) Quality {
	q := Quality{Sharpness: Sharpness(chip), Size: boxSide, Yaw: math.NaN()}
	if lm != nil {
		q.Yaw = Yaw(*lm)
		// In the template the eyes are 0.53 of the mean face's width apart,
		// and the face (brow to chin) is about as tall as it is wide; scale
		// the eye distance up to a face size comparable to a box side.
		eye := math.Hypot(float64(lm[RightEye].X-lm[LeftEye].X), float64(lm[RightEye].Y-lm[LeftEye].Y))
		tpl := Template(ChipSize, ChipPadding)
		tplEye := float64(tpl[RightEye].X - tpl[LeftEye].X)
		faceOnChip := ChipSize / (1 + 2*ChipPadding)
		q.Size = eye * faceOnChip / tplEye
	}
	return q
}
