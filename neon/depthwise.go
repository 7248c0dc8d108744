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
	depthwise3x3(dst, src, h, w, c, stride, padTop, padLeft, outH, outW, padValue, wts, q, nil, false)
}

// Depthwise3x3 is a 3x3 depthwise convolution's weights [3][3][C] and
// Requant prepared once (at model load) in the layouts the kernels read,
// which DepthwiseConv3x3 otherwise redoes on every call. It is read-only
// after NewDepthwise3x3 and safe for concurrent use.
type Depthwise3x3 struct {
	c    int
	wts  []int8
	q    *Requant
	prep dwPrepared
}

// NewDepthwise3x3 prepares wts [3][3][c] and q (which must not change
// afterwards) for Conv and ConvBiased.
func NewDepthwise3x3(wts []int8, c int, q *Requant) *Depthwise3x3 {
	if c < 0 || len(wts) < 9*c || len(q.Bias) < c || len(q.Mult) < c || len(q.Shift) < c {
		panic(fmt.Sprintf("neon.NewDepthwise3x3: c=%d len(wts)=%d, %d requantization channels", c, len(wts), len(q.Bias)))
	}
	d := &Depthwise3x3{c: c, wts: wts, q: q}
	d.prep.prepare(wts, c, q)
	return d
}

// Conv is DepthwiseConv3x3 with the prepared weights (same arguments,
// same bytes).
func (d *Depthwise3x3) Conv(dst, src []int8, h, w, stride, padTop, padLeft, outH, outW int, padValue int8) {
	depthwise3x3(dst, src, h, w, d.c, stride, padTop, padLeft, outH, outW, padValue, d.wts, d.q, &d.prep, false)
}

// Biased reports whether ConvBiased reads its source biased natively at
// this stride and output width (AVX-512 VNNI with VBMI, channel counts
// the wide kernel takes, parameters within its epilogue): the caller can
// then write the source biased (XorCopy) instead of copying it.
func (d *Depthwise3x3) Biased(stride, outW int) bool {
	return d.prep.biased(d.c, stride, outW)
}

// ConvBiased is Conv on a source holding the activations XOR 0x80 (as
// XorCopy writes them) in which every window lies (no padding: the
// caller wrote it out). Where the implementation cannot read it biased
// (Biased is false) it un-biases src in place first: src may change.
func (d *Depthwise3x3) ConvBiased(dst, src []int8, h, w, stride, outH, outW int) {
	if (outH-1)*stride+3 > h || (outW-1)*stride+3 > w {
		panic(fmt.Sprintf("neon.Depthwise3x3.ConvBiased: %dx%d output at stride %d reads past the %dx%d source", outH, outW, stride, h, w))
	}
	if !d.Biased(stride, outW) {
		XorCopy(src[:h*w*d.c], src[:h*w*d.c])
		d.Conv(dst, src, h, w, stride, 0, 0, outH, outW, 0)
		return
	}
	depthwise3x3(dst, src, h, w, d.c, stride, 0, 0, outH, outW, 0, d.wts, d.q, &d.prep, true)
}

// depthwise3x3 is DepthwiseConv3x3 with optional prepared weights, and,
// when biased (only where prep.biased allows it), a biased source.
func depthwise3x3(dst, src []int8, h, w, c, stride, padTop, padLeft, outH, outW int, padValue int8, wts []int8, q *Requant, prep *dwPrepared, biased bool) {
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
		c0 = archDepthwise(dst, src, h, w, c, stride, padTop, padLeft, outH, outW, padValue, wts, q, prep, biased)
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

// DWGeom is the geometry of a depthwise convolution over one NHWC image
// [H][W][C]: a KH x KW window moved by StrideH, StrideW; output pixel
// (oy, ox) reads rows oy*StrideH-PadTop .. +KH-1 and columns
// ox*StrideW-PadLeft .. +KW-1; the output is [OutH][OutW][C].
type DWGeom struct {
	H, W, C          int
	KH, KW           int
	StrideH, StrideW int
	PadTop, PadLeft  int
	OutH, OutW       int
}

// DepthwiseConv is the depthwise convolution of any window size (5x5 in
// BlazeFace, the 7x7 global depthwise of MobileFaceNet) with weights wts
// [KH][KW][C]; padding takes padValue, the Requant epilogue is per channel.
// 3x3 windows with equal strides of 1 or 2 go to DepthwiseConv3x3 (SIMD);
// the others run in pure Go.
func DepthwiseConv(dst, src []int8, g *DWGeom, padValue int8, wts []int8, q *Requant) {
	if g.KH == 3 && g.KW == 3 && g.StrideH == g.StrideW && (g.StrideH == 1 || g.StrideH == 2) {
		DepthwiseConv3x3(dst, src, g.H, g.W, g.C, g.StrideH, g.PadTop, g.PadLeft, g.OutH, g.OutW, padValue, wts, q)
		return
	}
	c := g.C
	if g.H < 0 || g.W < 0 || c < 0 || g.KH < 1 || g.KW < 1 || g.StrideH < 1 || g.StrideW < 1 ||
		g.PadTop < 0 || g.PadLeft < 0 || g.OutH < 0 || g.OutW < 0 ||
		len(src) < g.H*g.W*c || len(dst) < g.OutH*g.OutW*c || len(wts) < g.KH*g.KW*c ||
		len(q.Bias) < c || len(q.Mult) < c || len(q.Shift) < c {
		panic(fmt.Sprintf("neon.DepthwiseConv: bad arguments %+v len(dst)=%d len(src)=%d len(wts)=%d", *g, len(dst), len(src), len(wts)))
	}
	const chunk = 256 // channels accumulated at once, on the stack
	var acc [chunk]int32
	pv := int32(padValue)
	for oy := 0; oy < g.OutH; oy++ {
		for ox := 0; ox < g.OutW; ox++ {
			out := dst[(oy*g.OutW+ox)*c : (oy*g.OutW+ox)*c+c]
			for c0 := 0; c0 < c; c0 += chunk {
				n := min(chunk, c-c0)
				s := acc[:n]
				clear(s)
				for ky := 0; ky < g.KH; ky++ {
					iy := oy*g.StrideH - g.PadTop + ky
					for kx := 0; kx < g.KW; kx++ {
						ix := ox*g.StrideW - g.PadLeft + kx
						w := wts[(ky*g.KW+kx)*c+c0 : (ky*g.KW+kx)*c+c0+n]
						if iy < 0 || iy >= g.H || ix < 0 || ix >= g.W {
							for i, wv := range w {
								s[i] += pv * int32(wv)
							}
							continue
						}
						in := src[(iy*g.W+ix)*c+c0 : (iy*g.W+ix)*c+c0+n]
						for i, wv := range w {
							s[i] += int32(in[i]) * int32(wv)
						}
					}
				}
				epilogueRow(out[c0:c0+n], s, q, c0)
			}
		}
	}
}
