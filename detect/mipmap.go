package detect

import "github.com/vigil-edge/vigil/infer"

// mipmap holds an image and its successive halvings (2x2 box averages).
// infer.Meta.Preprocess samples bilinearly without a low-pass filter, which
// aliases badly when shrinking by more than 2 (a face crop of 90 pixels to
// R-Net's 24, a 640-pixel frame to a pyramid level of 60): preprocessing from
// the halving that leaves a ratio in (1/2, 1] keeps every source pixel in play,
// close to the area interpolation the MTCNN and SSD reference code use.
type mipmap struct {
	levels []*infer.Image
}

// reset builds the halvings of im down to minSide pixels, reusing buffers.
func (m *mipmap) reset(im *infer.Image, minSide int) {
	if len(m.levels) == 0 {
		m.levels = append(m.levels, im)
	}
	m.levels[0] = im
	n := 1
	src := im
	for src.W/2 >= max(minSide, 1) && src.H/2 >= max(minSide, 1) {
		w, h := src.W/2, src.H/2
		var dst *infer.Image
		if n < len(m.levels) && cap(m.levels[n].Pix) >= 3*w*h {
			dst = m.levels[n]
			dst.W, dst.H, dst.Pix = w, h, dst.Pix[:3*w*h]
		} else {
			dst = infer.NewImage(w, h)
			if n < len(m.levels) {
				m.levels[n] = dst
			} else {
				m.levels = append(m.levels, dst)
			}
		}
		halve(dst, src)
		src = dst
		n++
	}
	m.levels = m.levels[:n]
}

func halve(dst, src *infer.Image) {
	sw := 3 * src.W
	for y := range dst.H {
		r0 := src.Pix[2*y*sw : 2*y*sw+sw]
		r1 := src.Pix[(2*y+1)*sw : (2*y+1)*sw+sw]
		out := dst.Pix[3*y*dst.W : 3*(y+1)*dst.W]
		for x := range dst.W {
			i := 6 * x
			for c := range 3 {
				s := uint16(r0[i+c]) + uint16(r0[i+3+c]) + uint16(r1[i+c]) + uint16(r1[i+3+c])
				out[3*x+c] = uint8((s + 2) / 4)
			}
		}
	}
}

// preprocess is infer.Meta.Preprocess of the region (x0, y0, w, h) of the
// original image into dw x dh, read from the halving that shrinks least
// while still leaving a ratio of at most 2.
func (m *mipmap) preprocess(meta *infer.Meta, dst []float32, dw, dh int, x0, y0, w, h float32) error {
	k := 0
	ratio := min(w/float32(dw), h/float32(dh))
	for k+1 < len(m.levels) && ratio >= 2 {
		ratio /= 2
		k++
	}
	f := float32(int(1) << k)
	return meta.Preprocess(dst, dw, dh, m.levels[k], x0/f, y0/f, w/f, h/f)
}
