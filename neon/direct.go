package neon

import "fmt"

// directBuf is the im2col chunk of ConvDirect's portable path, on the
// stack: ConvDirect takes reductions of at most this many bytes.
const directBuf = 4096

// ConvDirect is a convolution without im2col. Output pixel (r, i), for
// r < rows and i < cols, reads for each tap t seg = p.K/len(taps)
// consecutive bytes at src[r*rowStep+i*pixStep+taps[t]:] (a window row of
// a small-channel input, or one tap's channels), and with o = r*cols+i
//
//	acc = sum over t, k < seg of src[r*rowStep+i*pixStep+taps[t]+k] * w[j][t*seg+k]
//	dst[o*ldd+j] = clamp(Requantize(acc + q.Bias[j], q.Mult[j], q.Shift[j]) + q.ZeroPoint, q.Min, q.Max)
//
// for j < p.N: Gemm on the im2col rows the taps describe. seg must be a
// multiple of 4 (pad each piece with zero weights: the bytes they meet then
// add exactly 0, whatever they are), p.K at most 4096, and every tap
// offset >= 0. Like Gemm it allocates nothing and is safe for concurrent
// use on disjoint outputs.
func ConvDirect(dst []int8, ldd int, src []int8, rows, cols, rowStep, pixStep int, taps []int, p *Packed, q *Requant) {
	convDirect(dst, ldd, src, rows, cols, rowStep, pixStep, taps, p, q, false)
}

// ConvDirectBiased is ConvDirect on a source holding every activation
// XOR 0x80 (the byte activation+128, as XorCopy writes it): the VNNI
// kernels multiply unsigned by signed bytes and would otherwise flip every
// activation they broadcast. DirectBiased says whether the selected
// implementation reads it natively; the others undo the bias while
// gathering their im2col rows, which costs more than ConvDirect.
func ConvDirectBiased(dst []int8, ldd int, src []int8, rows, cols, rowStep, pixStep int, taps []int, p *Packed, q *Requant) {
	convDirect(dst, ldd, src, rows, cols, rowStep, pixStep, taps, p, q, true)
}

// DirectBiased reports whether ConvDirectBiased runs natively on the
// selected implementation (AVX-512 VNNI): callers that can write their
// source biased for free should then use it.
func DirectBiased() bool { return archDirectBiased(cur.id) }

// XorCopy writes dst[i] = src[i] ^ -128 (the byte src[i]+128, reinterpreted)
// for i < len(src): the biased source of ConvDirectBiased.
func XorCopy(dst, src []int8) {
	dst = dst[:len(src)]
	if cur.id != 0 {
		n := archXorCopy(dst, src)
		dst, src = dst[n:], src[n:]
	}
	for i, v := range src {
		dst[i] = v ^ -128
	}
}

func convDirect(dst []int8, ldd int, src []int8, rows, cols, rowStep, pixStep int, taps []int, p *Packed, q *Requant, biased bool) {
	if len(taps) == 0 || p.K%len(taps) != 0 || p.K/len(taps)%groupK != 0 || p.K > directBuf ||
		rows < 0 || cols < 0 || rowStep < 0 || pixStep < 0 || ldd < p.N {
		panic(fmt.Sprintf("neon.ConvDirect: %d taps for K=%d (need whole groups of 4 per tap, K <= %d), %dx%d pixels, steps %d, %d, ldd=%d N=%d",
			len(taps), p.K, directBuf, rows, cols, rowStep, pixStep, ldd, p.N))
	}
	if rows == 0 || cols == 0 || p.N == 0 {
		return
	}
	seg := p.K / len(taps)
	end := 0 // bytes of src read
	for _, o := range taps {
		if o < 0 {
			panic(fmt.Sprintf("neon.ConvDirect: tap offset %d < 0", o))
		}
		end = max(end, (rows-1)*rowStep+(cols-1)*pixStep+o+seg)
	}
	if end > len(src) || len(dst) < (rows*cols-1)*ldd+p.N {
		panic(fmt.Sprintf("neon.ConvDirect: len(src)=%d < %d or len(dst)=%d < %d", len(src), end, len(dst), (rows*cols-1)*ldd+p.N))
	}
	_ = q.Bias[p.N-1]
	_ = q.Mult[p.N-1]
	_ = q.Shift[p.N-1]
	if cur.id != 0 && archDirect(cur.id, dst, ldd, src, rows, cols, rowStep, pixStep, taps, p, q, biased) {
		return
	}
	// Portable path: im2col rows in chunks on the stack, then Gemm.
	var a [directBuf]int8
	chunk := directBuf / p.K
	for r := range rows {
		for i0 := 0; i0 < cols; i0 += chunk {
			n := min(chunk, cols-i0)
			for i := range n {
				for t, o := range taps {
					s := r*rowStep + (i0+i)*pixStep + o
					if biased {
						XorCopy(a[i*p.K+t*seg:i*p.K+(t+1)*seg], src[s:s+seg])
					} else {
						copy(a[i*p.K+t*seg:i*p.K+(t+1)*seg], src[s:s+seg])
					}
				}
			}
			Gemm(dst[(r*cols+i0)*ldd:], ldd, a[:n*p.K], p.K, n, p, q)
		}
	}
}
