package detect

import (
	"fmt"
	"math"
)

// PyramidScales returns the scales at which a detector with a window of win
// pixels sees faces from minFace pixels up to the whole image: the first scale
// maps minFace onto win (win/minFace), each next one is the previous times
// factor (0 < factor < 1), down to where the shorter image side would be
// smaller than the window. The image is resized by each scale; a window at
// scale s covers win/s original pixels.
func PyramidScales(w, h, win int, minFace, factor float64) ([]float64, error) {
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("pyramid: image %dx%d is empty", w, h)
	}
	if win <= 0 {
		return nil, fmt.Errorf("pyramid: window %d must be positive", win)
	}
	if !(minFace > 0) {
		return nil, fmt.Errorf("pyramid: min face %v must be positive", minFace)
	}
	if !(factor > 0 && factor < 1) {
		return nil, fmt.Errorf("pyramid: scale factor %v must be in (0, 1)", factor)
	}
	// The largest useful scale: the smallest face the window can see. Faces
	// smaller than the window would need upsampling beyond what the model
	// was trained for, which we allow (minFace < win gives scale > 1).
	s := float64(win) / minFace
	side := float64(min(w, h))
	var out []float64
	for side*s >= float64(win) {
		out = append(out, s)
		s *= factor
		if len(out) > 64 {
			break
		}
	}
	return out, nil
}

// ScaledSize is the pixel size of the image at scale s, rounded up as MTCNN does.
func ScaledSize(w, h int, s float64) (int, int) {
	return max(int(math.Ceil(float64(w)*s)), 1), max(int(math.Ceil(float64(h)*s)), 1)
}
