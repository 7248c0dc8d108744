package neon

import "fmt"

// DepthwiseConv3x3 convolves one NHWC image src [h][w][c] with depthwise
// weights wts [3][3][c] (symmetric, in [-127, 127]) at stride 1 or 2.
// Output pixel (oy, ox) reads input rows oy*stride-padTop .. +2 and columns
// ox*stride-padLeft .. +2; pixels outside the image (the padding, on any
// side, implied by outH and outW) take padValue, the input zero point, so
// the -zpIn*sum(w) the caller folded into q.Bias cancels them exactly.
// dst is [outH][outW][c], each channel through the Requant epilogue.
func DepthwiseConv3x3(dst, src []int8, h, w, c, stride, padTop, padLeft, outH, outW int, padValue int8, wts []int8, q *Requant) {
	if stride != 1 && stride != 2 || len(src) < h*w*c || len(dst) < outH*outW*c || len(wts) < 9*c ||
		len(q.Bias) < c || len(q.Mult) < c || len(q.Shift) < c || padTop < 0 || padLeft < 0 {
		panic(fmt.Sprintf("neon.DepthwiseConv3x3: bad arguments h=%d w=%d c=%d stride=%d pad=%d,%d out=%dx%d len(src)=%d len(dst)=%d len(wts)=%d",
			h, w, c, stride, padTop, padLeft, outH, outW, len(src), len(dst), len(wts)))
	}
	if c == 0 {
		return
	}
	c0 := 0 // channels [0, c0) of every pixel are done by archDepthwise
	if cur.id != 0 {
		c0 = archDepthwise(dst, src, h, w, c, stride, padTop, padLeft, outH, outW, padValue, wts, q)
		if c0 == c {
			return
		}
	}
	bias, mult, shift := q.Bias[:c], q.Mult[:c], q.Shift[:c]
	zp, lo, hi := q.ZeroPoint, int32(q.Min), int32(q.Max)
	pv := int32(padValue)
	var taps [9][]int8
	for oy := 0; oy < outH; oy++ {
		iy0 := oy*stride - padTop
		for ox := 0; ox < outW; ox++ {
			ix0 := ox*stride - padLeft
			out := dst[(oy*outW+ox)*c : (oy*outW+ox)*c+c]
			if iy0 >= 0 && ix0 >= 0 && iy0+3 <= h && ix0+3 <= w {
				for t := range taps {
					o := ((iy0+t/3)*w+ix0+t%3)*c + c0
					taps[t] = src[o : o+c-c0]
				}
				depthwiseInterior(out[c0:], &taps, wts[c0:], c, bias[c0:], mult[c0:], shift[c0:], zp, lo, hi)
				continue
			}
			for ch := c0; ch < c; ch++ {
				var s int32
				for t := 0; t < 9; t++ {
					iy, ix := iy0+t/3, ix0+t%3
					v := pv
					if iy >= 0 && iy < h && ix >= 0 && ix < w {
						v = int32(src[(iy*w+ix)*c+ch])
					}
					s += v * int32(wts[t*c+ch])
				}
				out[ch] = requantOne(s, bias[ch], mult[ch], shift[ch], zp, lo, hi)
			}
		}
	}
}

// depthwiseInterior computes len(out) channels of one pixel whose window
// is inside the image; wts[t*stride+ch] is tap t of channel ch.
func depthwiseInterior(out []int8, taps *[9][]int8, wts []int8, stride int, bias, mult, shift []int32, zp, lo, hi int32) {
	c := len(out)
	t0, t1, t2, t3, t4, t5, t6, t7, t8 := taps[0][:c], taps[1][:c], taps[2][:c], taps[3][:c], taps[4][:c], taps[5][:c], taps[6][:c], taps[7][:c], taps[8][:c]
	s := stride
	w0, w1, w2, w3, w4, w5, w6, w7, w8 := wts[0:c], wts[s:s+c], wts[2*s:2*s+c], wts[3*s:3*s+c], wts[4*s:4*s+c], wts[5*s:5*s+c], wts[6*s:6*s+c], wts[7*s:7*s+c], wts[8*s:8*s+c]
	bias, mult, shift = bias[:c], mult[:c], shift[:c]
	for ch := range out {
		s := int32(t0[ch])*int32(w0[ch]) + int32(t1[ch])*int32(w1[ch]) + int32(t2[ch])*int32(w2[ch]) +
			int32(t3[ch])*int32(w3[ch]) + int32(t4[ch])*int32(w4[ch]) + int32(t5[ch])*int32(w5[ch]) +
			int32(t6[ch])*int32(w6[ch]) + int32(t7[ch])*int32(w7[ch]) + int32(t8[ch])*int32(w8[ch])
		out[ch] = requantOne(s, bias[ch], mult[ch], shift[ch], zp, lo, hi)
	}
}

// interiorRange returns the output indices [a, b) along one axis whose
// 3-tap window at stride, after pad, lies inside [0, size).
func interiorRange(size, stride, pad, out int) (a, b int) {
	a = (pad + stride - 1) / stride
	if size+pad < 3 {
		return a, a
	}
	b = min((size+pad-3)/stride+1, out)
	return a, max(a, b)
}
