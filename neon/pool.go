package neon

import "fmt"

// Pool describes a 2-D pooling window over one NHWC image [H][W][C]:
// a KH x KW window moved by StrideH, StrideW; output pixel (oy, ox) covers
// input rows oy*StrideH-PadTop .. +KH-1 and columns ox*StrideW-PadLeft ..
// +KW-1. Positions outside the image (the padding) are excluded: they
// neither count for the max nor for the average's divisor. The output is
// [OutH][OutW][C], in the input's quantization, clamped to [Min, Max]
// (a fused ReLU/ReLU6). A window with no pixel in the image (only possible
// with pads of a whole window) gives clamp(0, Min, Max).
type Pool struct {
	H, W, C          int
	KH, KW           int
	StrideH, StrideW int
	PadTop, PadLeft  int
	OutH, OutW       int
	Min, Max         int8
}

func (p *Pool) check(fn string, lenDst, lenSrc int) {
	if p.H < 0 || p.W < 0 || p.C < 0 || p.KH < 1 || p.KW < 1 || p.StrideH < 1 || p.StrideW < 1 ||
		p.PadTop < 0 || p.PadLeft < 0 || p.OutH < 0 || p.OutW < 0 ||
		lenSrc < p.H*p.W*p.C || lenDst < p.OutH*p.OutW*p.C {
		panic(fmt.Sprintf("neon.%s: bad arguments %+v len(dst)=%d len(src)=%d", fn, *p, lenDst, lenSrc))
	}
}

// window returns the in-image rows [y0, y1) and columns [x0, x1) of output pixel (oy, ox).
func (p *Pool) window(oy, ox int) (y0, y1, x0, x1 int) {
	y0 = oy*p.StrideH - p.PadTop
	x0 = ox*p.StrideW - p.PadLeft
	y1, x1 = min(y0+p.KH, p.H), min(x0+p.KW, p.W)
	return max(y0, 0), y1, max(x0, 0), x1
}

// MaxPoolInt8 writes the maximum over each window, clamped to [p.Min, p.Max]
// (VPMAXSB / SMAX over the channels).
func MaxPoolInt8(dst, src []int8, p *Pool) {
	p.check("MaxPoolInt8", len(dst), len(src))
	c := p.C
	simd := cur.id != 0
	for oy := 0; oy < p.OutH; oy++ {
		for ox := 0; ox < p.OutW; ox++ {
			out := dst[(oy*p.OutW+ox)*c : (oy*p.OutW+ox)*c+c]
			y0, y1, x0, x1 := p.window(oy, ox)
			if y0 >= y1 || x0 >= x1 {
				for i := range out {
					out[i] = clamp8(0, p.Min, p.Max)
				}
				continue
			}
			for i := range out {
				out[i] = -128
			}
			for y := y0; y < y1; y++ {
				for x := x0; x < x1; x++ {
					in := src[(y*p.W+x)*c : (y*p.W+x)*c+c]
					o := out
					if simd {
						k := archMax(o, in)
						o, in = o[k:], in[k:]
					}
					for i, v := range in {
						o[i] = max(o[i], v)
					}
				}
			}
			for i, v := range out {
				out[i] = min(max(v, p.Min), p.Max)
			}
		}
	}
}

// AvgPoolInt8 writes the average over the in-image pixels of each window,
// rounded half away from zero (as TFLite), clamped to [p.Min, p.Max]. It
// averages the stored int8 values, so input and output share scale and
// zero point. C is at most 4096 (the per-pixel sums live on the stack).
func AvgPoolInt8(dst, src []int8, p *Pool) {
	p.check("AvgPoolInt8", len(dst), len(src))
	const maxC = 4096
	if p.C > maxC {
		panic(fmt.Sprintf("neon.AvgPoolInt8: C=%d > %d", p.C, maxC))
	}
	var sums [maxC]int32
	c := p.C
	for oy := 0; oy < p.OutH; oy++ {
		for ox := 0; ox < p.OutW; ox++ {
			out := dst[(oy*p.OutW+ox)*c : (oy*p.OutW+ox)*c+c]
			s := sums[:c]
			clear(s)
			y0, y1, x0, x1 := p.window(oy, ox)
			n := int32(max(y1-y0, 0) * max(x1-x0, 0))
			if n == 0 {
				for i := range out {
					out[i] = clamp8(0, p.Min, p.Max)
				}
				continue
			}
			for y := y0; y < y1; y++ {
				for x := x0; x < x1; x++ {
					in := src[(y*p.W+x)*c : (y*p.W+x)*c+c]
					for i, v := range in {
						s[i] += int32(v)
					}
				}
			}
			for i, v := range s {
				if v >= 0 {
					v = (v + n/2) / n
				} else {
					v = (v - n/2) / n
				}
				out[i] = clamp8(int64(v), p.Min, p.Max)
			}
		}
	}
}
