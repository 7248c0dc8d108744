package detect

import (
	"fmt"

	"github.com/vigil-edge/vigil/infer"
)

// letterbox writes im into a dw x dh model input, keeping its aspect ratio:
// scaled by s = min(dw/W, dh/H) into the top-left corner, the rest black
// (after the model's normalisation). It returns s; a box in input pixels
// maps back to the image by dividing by the returned per-axis scales (s up
// to rounding). tmp is scratch, grown as needed.
func letterbox(meta *infer.Meta, dst []float32, dw, dh int, im *infer.Image, tmp *[]float32) (sx, sy float32, err error) {
	if im.W <= 0 || im.H <= 0 {
		return 0, 0, fmt.Errorf("empty image %dx%d", im.W, im.H)
	}
	s := min(float32(dw)/float32(im.W), float32(dh)/float32(im.H))
	cw := min(max(int(float32(im.W)*s+0.5), 1), dw)
	ch := min(max(int(float32(im.H)*s+0.5), 1), dh)
	if cap(*tmp) < cw*ch*3 {
		*tmp = make([]float32, cw*ch*3)
	}
	t := (*tmp)[:cw*ch*3]
	if err := meta.Preprocess(t, cw, ch, im, 0, 0, float32(im.W), float32(im.H)); err != nil {
		return 0, 0, err
	}
	var black [3]float32
	scale := meta.Scale
	if scale == [3]float32{} {
		scale = [3]float32{1, 1, 1}
	}
	for c := range 3 {
		black[c] = (0 - meta.Mean[c]) * scale[c]
	}
	for y := range dh {
		row := dst[y*dw*3 : (y+1)*dw*3]
		x0 := 0
		if y < ch {
			copy(row, t[y*cw*3:(y+1)*cw*3])
			x0 = cw
		}
		for x := x0; x < dw; x++ {
			row[3*x], row[3*x+1], row[3*x+2] = black[0], black[1], black[2]
		}
	}
	return float32(cw) / float32(im.W), float32(ch) / float32(im.H), nil
}
