//go:build !purego

package neon

import (
	"math"

	"golang.org/x/sys/cpu"
)

const (
	idSMULL = 1 + iota
	idSDOT
)

func archImpls() []*implementation {
	var l []*implementation
	if cpu.ARM64.HasASIMDDP {
		l = append(l, &implementation{name: "arm64-sdot", id: idSDOT})
	}
	// Advanced SIMD is mandatory on arm64 (and Go requires it).
	return append(l, &implementation{name: "arm64-smull", id: idSMULL})
}

//go:noescape
func tileSDOT(acc *[tileM * panelN]int32, a *int8, lda, rows, groups int, w *int8, tail *[tileM]uint32)

//go:noescape
func tileSMLAL(acc *[tileM * panelN]int32, a *int8, lda, rows, groups int, w *int8, tail *[tileM]uint32)

//go:noescape
func tileSMULL(acc *[tileM * panelN]int32, a *int8, lda, rows, groups int, w *int8, tail *[tileM]uint32)

func archTile(id int, acc *[tileM * panelN]int32, a []int8, off, lda, rows int, p *Packed, pi int, tail *[tileM]uint32) {
	// Rows are only read up to (K/4)*4 bytes; a[off:] holds them (checked by checkGemm).
	ap := &a[off]
	w := &p.data[pi*p.kp*panelN]
	switch id {
	case idSDOT:
		tileSDOT(acc, ap, lda, rows, p.K/groupK, w, tail)
	case idSMULL:
		if p.has128 {
			tileSMULL(acc, ap, lda, rows, p.K/groupK, w, tail)
		} else {
			tileSMLAL(acc, ap, lda, rows, p.K/groupK, w, tail)
		}
	}
}

// epiNEON holds one panel's epilogue parameters in the order
// epilogueNEON loads them.
type epiNEON struct {
	bias, mult [panelN]int32
	left       [panelN]int32 // max(-shift, 0): SQSHL amount
	negRight   [panelN]int32 // -max(shift, 0): SRSHL amount (a rounding right shift)
	lo, hi, zp int32         // clamp bounds before adding zp, and zp
}

//go:noescape
func epilogueNEON(dst *int8, ldd int, acc *[tileM * panelN]int32, rows int, e *epiNEON)

// epiSlot caches one panel's epilogue parameters across the row tiles of
// a Gemm call.
type epiSlot struct {
	e      epiNEON
	q      *Requant
	j0, nj int
}

func archEpilogue(id int, dst []int8, off, ldd int, acc *[tileM * panelN]int32, rows, nj int, q *Requant, j0 int, s *epiSlot) bool {
	if s.q != q || s.j0 != j0 || s.nj != nj {
		s.e.set(q, j0, nj)
		s.q, s.j0, s.nj = q, j0, nj
	}
	if nj == panelN {
		_ = dst[off+(rows-1)*ldd+panelN-1]
		epilogueNEON(&dst[off], ldd, acc, rows, &s.e)
		return true
	}
	var tmp [tileM * panelN]int8
	epilogueNEON(&tmp[0], panelN, acc, rows, &s.e)
	for r := 0; r < rows; r++ {
		copy(dst[off+r*ldd:off+r*ldd+nj], tmp[r*panelN:])
	}
	return true
}

// dwBlock is one 16-channel block of depthwise weights and epilogue in
// the layout depthwiseNEON reads.
type dwBlock struct {
	w [9 * 16]int8 // tap-major: w[t*16+ch]
	e epiNEON
}

func (k *dwBlock) set(q *Requant, wts []int8, c, cb int) {
	k.e.set(q, cb, 16)
	for t := 0; t < 9; t++ {
		copy(k.w[t*16:t*16+16], wts[t*c+cb:])
	}
}

//go:noescape
func depthwiseNEON(dst, src *int8, n, c, rowStride, pixStep int, w *[9 * 16]int8, e *epiNEON)

func dwKernel(dst, src *int8, n, c, rowStride, pixStep int, k *dwBlock) {
	depthwiseNEON(dst, src, n, c, rowStride, pixStep, &k.w, &k.e)
}

// set fills e for channels j0 .. j0+nj-1 of q (nj <= 16).
func (e *epiNEON) set(q *Requant, j0, nj int) {
	bias, mult, shift := q.Bias[j0:j0+nj], q.Mult[j0:j0+nj], q.Shift[j0:j0+nj]
	for j := range bias {
		e.bias[j], e.mult[j] = bias[j], mult[j]
		e.left[j], e.negRight[j] = max(-shift[j], 0), min(-shift[j], 0)
	}
	e.lo = int32(max(int64(q.Min)-int64(q.ZeroPoint), math.MinInt32))
	e.hi = int32(min(int64(q.Max)-int64(q.ZeroPoint), math.MaxInt32))
	e.zp = q.ZeroPoint
}

// addParams is addNEON's parameter block, in load order.
type addParams struct {
	zpA, zpB                int32
	leftA, multA, negRightA int32
	leftB, multB, negRightB int32
	leftO, multO, negRightO int32
	lo, hi, zpO             int32
}

//go:noescape
func addNEON(dst, a, b *int8, n int, p *addParams)

//go:noescape
func requantizeNEON(dst, src *int8, n int, p *[7]int32)

func clampBounds(lo, hi int8, zp int32) (int32, int32) {
	return int32(max(int64(lo)-int64(zp), math.MinInt32)), int32(min(int64(hi)-int64(zp), math.MaxInt32))
}

// archAdd does the first len(a)&^15 elements of AddInt8 and returns how
// many it did.
func archAdd(dst, a, b []int8, zpA, multA, shiftA, zpB, multB, shiftB, zpOut, multOut, shiftOut int32, lo, hi int8) int {
	n := len(a) &^ 15
	if n == 0 {
		return 0
	}
	p := addParams{
		zpA: zpA, zpB: zpB,
		leftA: max(-shiftA, 0), multA: multA, negRightA: min(-shiftA, 0),
		leftB: max(-shiftB, 0), multB: multB, negRightB: min(-shiftB, 0),
		leftO: max(-shiftOut, 0), multO: multOut, negRightO: min(-shiftOut, 0),
		zpO: zpOut,
	}
	p.lo, p.hi = clampBounds(lo, hi, zpOut)
	_, _ = dst[n-1], b[n-1]
	addNEON(&dst[0], &a[0], &b[0], n, &p)
	return n
}

// archRequantize does the first len(src)&^15 elements of RequantizeInt8.
func archRequantize(dst, src []int8, zpIn, mult, shift, zpOut int32, lo, hi int8) int {
	n := len(src) &^ 15
	if n == 0 {
		return 0
	}
	p := [7]int32{zpIn, max(-shift, 0), mult, min(-shift, 0), 0, 0, zpOut}
	p[4], p[5] = clampBounds(lo, hi, zpOut)
	_ = dst[n-1]
	requantizeNEON(&dst[0], &src[0], n, &p)
	return n
}

func archTile2(id int, acc, acc2 *[tileM * panelN]int32, a []int8, off, lda, rows int, p *Packed, pi int, tail *[tileM]uint32) bool {
	return false
}

//go:noescape
func maxNEON(dst, src *int8, n int)

// archMax does dst[i] = max(dst[i], src[i]) for the first len(src)&^15
// bytes and returns how many it did.
func archMax(dst, src []int8) int {
	n := len(src) &^ 15
	if n == 0 {
		return 0
	}
	_ = dst[n-1]
	maxNEON(&dst[0], &src[0], n)
	return n
}

func archDirect(id int, dst []int8, ldd int, src []int8, rows, cols, rowStep, pixStep int, taps []int, p *Packed, q *Requant, biased bool) bool {
	return false
}

func archDepthwiseWide(dst, src []int8, w, c, stride, padTop, padLeft, outW, oyA, oyB, oxA, oxB int, wts []int8, q *Requant, prep *dwPrepared, biased bool) int {
	return 0
}

func archTile2Fused(id int, dst []int8, doff, ldd int, acc, acc2 *[tileM * panelN]int32, a []int8, off, lda, rows int, p *Packed, pi int, tail *[tileM]uint32, q *Requant, slots *[8]epiSlot) (int, bool) {
	return 0, false
}

func archDirectBiased(id int) bool { return false }

func archXorCopy(dst, src []int8) int { return 0 }

func archTile1Fused(id int, dst []int8, doff, ldd int, a []int8, lda, rows int, p *Packed, pi int, q *Requant, s *epiSlot) bool {
	return false
}

type dwPrepared struct{}

func (p *dwPrepared) prepare(wts []int8, c int, q *Requant) {}

func (p *dwPrepared) biased(c, stride, outW int) bool { return false }

func archDepthwiseBorders(dst, src []int8, h, w, c, stride, padTop, padLeft, outH, outW int, padValue int8, prep *dwPrepared, oyA, oyB, oxA, oxW int) bool {
	return false
}

type requantPrep struct{}

func newRequantPrep(q *Requant) *requantPrep { return nil }
