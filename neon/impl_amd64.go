//go:build !purego

package neon

import (
	"math"

	"golang.org/x/sys/cpu"
)

const (
	idAVX2 = 1 + iota
	idVNNI512
)

func archImpls() []*implementation {
	var l []*implementation
	// AVX-512 VNNI on ZMM (Ice Lake and later, Zen 4). AVX-VNNI (VEX) has
	// no ZMM and would need the VEX form, which Go's assembler does not
	// emit; such CPUs (Alder Lake) take the AVX2 path.
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512VNNI {
		l = append(l, &implementation{name: "amd64-avx512vnni", id: idVNNI512})
	}
	if cpu.X86.HasAVX2 {
		l = append(l, &implementation{name: "amd64-avx2", id: idAVX2})
	}
	return l
}

//go:noescape
func tileVNNI512(acc *[tileM * panelN]int32, a *int8, lda, rows, groups int, w *int8, init *int32, tail *[tileM]uint32)

//go:noescape
func tileAVX2(acc *[tileM * panelN]int32, a *int8, lda, rows, groups int, w *int8, tail *[tileM]uint32)

func archTile(id int, acc *[tileM * panelN]int32, a []int8, off, lda, rows int, p *Packed, pi int) {
	var tw [tileM]uint32
	var tail *[tileM]uint32
	if tailWords(&tw, a, off, lda, rows, p.K) {
		tail = &tw
	}
	groups := p.K / groupK
	// Rows are only read up to (groups*4) bytes; a[off:] holds them (checked by checkGemm).
	ap := &a[off]
	w := &p.data[pi*p.kp*panelN]
	switch id {
	case idVNNI512:
		tileVNNI512(acc, ap, lda, rows, groups, w, &p.comp[pi*panelN], tail)
	case idAVX2:
		tileAVX2(acc, ap, lda, rows, groups, w, tail)
	}
}

// epi holds one panel's epilogue parameters in the layout epilogueAVX2
// reads (byte offsets in the assembly).
type epi struct {
	bias, mult [panelN]int32 // 0, 64
	left       [panelN]int32 // 128: max(-shift, 0), the saturating pre-shift
	right      [panelN]int32 // 192: max(shift, 0)
	rm1        [panelN]int32 // 256: right-1, or 32 (an all-sign shift) when right == 0
	one        [panelN]int32 // 320: 1 when right > 0: the rounding bit is (x >> (right-1)) & one
	lo, hi, zp int32         // 384, 388, 392: clamp bounds before adding zp, and zp
}

//go:noescape
func epilogueAVX2(dst *int8, ldd int, acc *[tileM * panelN]int32, rows int, e *epi)

// archEpilogue runs the Requant epilogue of a rows x nj tile in assembly:
// same integer steps as Requantize, 8 lanes at a time (see the .s file).
func archEpilogue(id int, dst []int8, off, ldd int, acc *[tileM * panelN]int32, rows, nj int, q *Requant, j0 int) bool {
	var e epi
	e.set(q, j0, nj)
	if nj == panelN {
		_ = dst[off+(rows-1)*ldd+panelN-1]
		epilogueAVX2(&dst[off], ldd, acc, rows, &e)
		return true
	}
	var tmp [tileM * panelN]int8
	epilogueAVX2(&tmp[0], panelN, acc, rows, &e)
	for r := 0; r < rows; r++ {
		copy(dst[off+r*ldd:off+r*ldd+nj], tmp[r*panelN:])
	}
	return true
}

// set fills e for channels j0 .. j0+nj-1 of q (nj <= 16; the rest stay 0).
func (e *epi) set(q *Requant, j0, nj int) {
	bias, mult, shift := q.Bias[j0:j0+nj], q.Mult[j0:j0+nj], q.Shift[j0:j0+nj]
	for j := range bias {
		e.bias[j], e.mult[j] = bias[j], mult[j]
		s := shift[j]
		e.left[j], e.right[j], e.rm1[j], e.one[j] = max(-s, 0), max(s, 0), 32, 0
		if s > 0 {
			e.rm1[j], e.one[j] = s-1, 1
		}
	}
	e.lo = int32(max(int64(q.Min)-int64(q.ZeroPoint), math.MinInt32))
	e.hi = int32(min(int64(q.Max)-int64(q.ZeroPoint), math.MaxInt32))
	e.zp = q.ZeroPoint
}

//go:noescape
func depthwiseAVX2(dst, src *int8, n, c, rowStride, pixStep int, wp *[160]int16, e *epi)

// archDepthwise computes channels [0, c&^15) of every output pixel in
// assembly and returns c&^15; the caller does the remaining channels.
// Border pixels go through the same kernel on a 3x3x16 copy of their
// window with the padding filled in.
func archDepthwise(dst, src []int8, h, w, c, stride, padTop, padLeft, outH, outW int, padValue int8, wts []int8, q *Requant) int {
	c16 := c &^ 15
	if c16 == 0 || outH == 0 || outW == 0 {
		return c16
	}
	oyA, oyB := interiorRange(h, stride, padTop, outH)
	oxA, oxB := interiorRange(w, stride, padLeft, outW)
	var e epi
	var wp [160]int16
	var win [9 * 16]int8
	for cb := 0; cb < c16; cb += 16 {
		e.set(q, cb, 16)
		for t := 0; t < 9; t++ {
			pair, second := t/2, t%2
			for ch := 0; ch < 16; ch++ {
				wp[pair*32+ch*2+second] = int16(wts[t*c+cb+ch])
			}
		}
		for oy := 0; oy < outH; oy++ {
			interiorRow := oy >= oyA && oy < oyB
			for ox := 0; ox < outW; ox++ {
				if interiorRow && ox == oxA && oxA < oxB {
					so := ((oy*stride-padTop)*w+oxA*stride-padLeft)*c + cb
					do := (oy*outW+oxA)*c + cb
					n := oxB - oxA
					_ = src[so+((n-1)*stride+2)*c+2*w*c+15]
					_ = dst[do+(n-1)*c+15]
					depthwiseAVX2(&dst[do], &src[so], n, c, w*c, stride*c, &wp, &e)
					ox = oxB - 1
					continue
				}
				iy0, ix0 := oy*stride-padTop, ox*stride-padLeft
				for t := 0; t < 9; t++ {
					iy, ix := iy0+t/3, ix0+t%3
					tap := win[t*16 : t*16+16]
					if iy >= 0 && iy < h && ix >= 0 && ix < w {
						copy(tap, src[(iy*w+ix)*c+cb:])
					} else {
						for i := range tap {
							tap[i] = padValue
						}
					}
				}
				do := (oy*outW+ox)*c + cb
				_ = dst[do+15]
				depthwiseAVX2(&dst[do], &win[0], 1, 16, 48, 0, &wp, &e)
			}
		}
	}
	return c16
}
