//go:build !purego

package neon

import (
	"math"
	"unsafe"

	"golang.org/x/sys/cpu"
)

const (
	idAVX2 = 1 + iota
	idVNNI512
	idAVXVNNI
)

func archImpls() []*implementation {
	var l []*implementation
	// AVX-512 VNNI on ZMM (Ice Lake and later, Zen 4); then AVX-VNNI, the
	// VEX form on YMM (Alder Lake and later client cores, N100).
	// The VNNI path shares the AVX2 epilogue and elementwise kernels.
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512VNNI && cpu.X86.HasAVX2 {
		l = append(l, &implementation{name: "amd64-avx512vnni", id: idVNNI512})
	}
	if cpu.X86.HasAVXVNNI && cpu.X86.HasAVX2 {
		l = append(l, &implementation{name: "amd64-avxvnni", id: idAVXVNNI})
	}
	if cpu.X86.HasAVX2 {
		l = append(l, &implementation{name: "amd64-avx2", id: idAVX2})
	}
	return l
}

//go:noescape
func tileVNNI512(acc *[tileM * panelN]int32, a *int8, lda, rows, groups int, w *int8, init *int32, tail *[tileM]uint32)

//go:noescape
func tileAVXVNNI(acc *[tileM * panelN]int32, a *int8, lda, rows, groups int, w *int8, init *int32, tail *[tileM]uint32)

//go:noescape
func tileAVX2(acc *[tileM * panelN]int32, a *int8, lda, rows, groups int, w *int8, tail *[tileM]uint32)

//go:noescape
func tileVNNI512x2(accA, accB *[tileM * panelN]int32, a *int8, lda, rows, groups int, w *int8, pstride int, init *int32, tail *[tileM]uint32)

// archTile2 computes panels pi and pi+1 in one pass where the kernel can
// (VNNI), and reports whether it did.
func archTile2(id int, acc, acc2 *[tileM * panelN]int32, a []int8, off, lda, rows int, p *Packed, pi int, tail *[tileM]uint32) bool {
	if id != idVNNI512 {
		return false
	}
	_ = p.comp[pi*panelN+2*panelN-1]
	_ = p.data[(pi+2)*p.kp*panelN-1]
	tileVNNI512x2(acc, acc2, &a[off], lda, rows, p.K/groupK, &p.data[pi*p.kp*panelN], p.kp*panelN, &p.comp[pi*panelN], tail)
	return true
}

func archTile(id int, acc *[tileM * panelN]int32, a []int8, off, lda, rows int, p *Packed, pi int, tail *[tileM]uint32) {
	groups := p.K / groupK
	// Rows are only read up to (groups*4) bytes; a[off:] holds them (checked by checkGemm).
	ap := &a[off]
	w := &p.data[pi*p.kp*panelN]
	switch id {
	case idVNNI512:
		tileVNNI512(acc, ap, lda, rows, groups, w, &p.comp[pi*panelN], tail)
	case idAVXVNNI:
		tileAVXVNNI(acc, ap, lda, rows, groups, w, &p.comp[pi*panelN], tail)
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
	_          int32
	// The fast epilogue (fast: every lane's shift r in [1, 22], or a zero
	// multiplier, and the zero point in [-256, 256]): Requantize's two
	// roundings and the zero point in one 64-bit add and arithmetic shift,
	//
	//	x + zp = (acc*mult + 2^30 + 2^(30+r) + zp*2^(31+r)) >> (31+r)
	//
	// (floor divisions compose: floor(floor(a/2^31 + c)/2^r) =
	// floor((a + c*2^31)/2^(31+r)) for an integer c). |acc*mult| < 2^62 and
	// the constant stays below 2^61, so the sum cannot overflow; with r >= 1
	// |x| <= 2^30 and x+zp fits in int32. Even lanes shift by 31+r (the
	// result in the low dword), odd lanes by r-1 (the result in the high
	// dword), and one masked blend puts the 16 lanes back in order.
	rndEven [panelN / 2]int64 // 400: 2^30 + 2^(30+r) + zp*2^(31+r) of channel 2i
	rndOdd  [panelN / 2]int64 // 464: the same for channel 2i+1
	shEven  [panelN / 2]int64 // 528: 31+r of channel 2i
	shOdd   [panelN / 2]int64 // 592: r-1 of channel 2i+1
	min     int32             // 656: Min
	max     int32             // 660: Max
	fast    bool              // 664
	multOdd [panelN]int32     // 668: mult of lane 2m+1 at lane 2m (gemmVNNI512x2Fused)
}

// fastParams gives the fast epilogue's rounding constant and the shifts
// of the even and odd lanes for one multiplier, shift and zero point, and
// whether they allow it (see epi).
func fastParams(mult, shift, zp int32) (rnd, shEven, shOdd int64, ok bool) {
	r := shift
	if mult == 0 {
		r = 1 // the result is 0 whatever the shift: Requantize(acc, 0, s) == 0
	}
	if r < 1 || r > 22 || zp < -256 || zp > 256 {
		return 0, 0, 0, false
	}
	return int64(1)<<30 + int64(1)<<(30+r) + int64(zp)<<(31+r), int64(31 + r), int64(r - 1), true
}

// setFast fills the fast-epilogue fields from lane j's multiplier and
// shift (called for every lane, with mult 0 for unused ones) and reports
// whether the lane allows it.
func (e *epi) setFast(j int, mult, shift, zp int32) bool {
	rnd, se, so, ok := fastParams(mult, shift, zp)
	if !ok {
		return false
	}
	if j%2 == 0 {
		e.rndEven[j/2], e.shEven[j/2] = rnd, se
	} else {
		e.rndOdd[j/2], e.shOdd[j/2] = rnd, so
	}
	return true
}

//go:noescape
func epilogueAVX2(dst *int8, ldd int, acc *[tileM * panelN]int32, rows int, e *epi)

//go:noescape
func epilogueAVX512(dst *int8, ldd int, acc *[tileM * panelN]int32, rows int, e *epi)

// archEpilogue runs the Requant epilogue of a rows x nj tile in assembly:
// same integer steps as Requantize, 8 lanes at a time (see the .s file).
// epiSlot caches one panel's epilogue parameters across the row tiles of
// a Gemm call.
type epiSlot struct {
	pe     *epi // the panel's epi in q.prep, or nil: own
	own    epi
	q      *Requant
	j0, nj int
	noLeft bool // every shift >= 0: the epilogue can skip the saturating pre-shift
}

// requantPrep is Requant.Prepare's result: each panel's epi, as
// epiSlot.update would compute it, and its noLeft.
type requantPrep struct {
	e      []epi
	noLeft []bool
}

func newRequantPrep(q *Requant) *requantPrep {
	n := len(q.Bias)
	panels := (n + panelN - 1) / panelN
	p := &requantPrep{e: make([]epi, panels), noLeft: make([]bool, panels)}
	for i := range panels {
		j0 := i * panelN
		nj := min(panelN, n-j0)
		p.e[i].set(q, j0, nj)
		p.noLeft[i] = true
		for _, sh := range q.Shift[j0 : j0+nj] {
			p.noLeft[i] = p.noLeft[i] && sh >= 0
		}
	}
	return p
}

//go:noescape
func epilogueAVX512NoLeft(dst *int8, ldd int, acc *[tileM * panelN]int32, rows int, e *epi)

//go:noescape
func epilogueAVX512Fast(dst *int8, ldd int, acc *[tileM * panelN]int32, rows int, e *epi)

func (s *epiSlot) epilogue(id int, dst *int8, ldd int, acc *[tileM * panelN]int32, rows int) {
	switch {
	case id != idVNNI512:
		epilogueAVX2(dst, ldd, acc, rows, s.e())
	case s.e().fast && fastEpilogue:
		epilogueAVX512Fast(dst, ldd, acc, rows, s.e())
	case s.noLeft:
		epilogueAVX512NoLeft(dst, ldd, acc, rows, s.e())
	default:
		epilogueAVX512(dst, ldd, acc, rows, s.e())
	}
}

// e is the slot's current epi.
func (s *epiSlot) e() *epi {
	if s.pe != nil {
		return s.pe
	}
	return &s.own
}

// update makes s hold the epilogue of channels j0 .. j0+nj-1 of q.
func (s *epiSlot) update(q *Requant, j0, nj int) {
	if s.q == q && s.j0 == j0 && s.nj == nj {
		return
	}
	s.q, s.j0, s.nj = q, j0, nj
	if pr := q.prep; pr != nil && j0%panelN == 0 && j0/panelN < len(pr.e) && nj == min(panelN, len(q.Bias)-j0) {
		s.pe, s.noLeft = &pr.e[j0/panelN], pr.noLeft[j0/panelN]
		return
	}
	s.own.set(q, j0, nj)
	s.pe = nil
	s.noLeft = true
	for _, sh := range q.Shift[j0 : j0+nj] {
		s.noLeft = s.noLeft && sh >= 0
	}
}

func archEpilogue(id int, dst []int8, off, ldd int, acc *[tileM * panelN]int32, rows, nj int, q *Requant, j0 int, s *epiSlot) bool {
	s.update(q, j0, nj)
	if nj == panelN {
		_ = dst[off+(rows-1)*ldd+panelN-1]
		s.epilogue(id, &dst[off], ldd, acc, rows)
		return true
	}
	var tmp [tileM * panelN]int8
	s.epilogue(id, &tmp[0], panelN, acc, rows)
	for r := 0; r < rows; r++ {
		copy(dst[off+r*ldd:off+r*ldd+nj], tmp[r*panelN:])
	}
	return true
}

// set fills e for channels j0 .. j0+nj-1 of q (nj <= 16; the rest stay 0).
func (e *epi) set(q *Requant, j0, nj int) {
	*e = epi{}
	bias, mult, shift := q.Bias[j0:j0+nj], q.Mult[j0:j0+nj], q.Shift[j0:j0+nj]
	e.fast = true
	for j := range bias {
		e.bias[j], e.mult[j] = bias[j], mult[j]
		s := shift[j]
		e.left[j], e.right[j], e.rm1[j], e.one[j] = max(-s, 0), max(s, 0), 32, 0
		if s > 0 {
			e.rm1[j], e.one[j] = s-1, 1
		}
		e.fast = e.setFast(j, mult[j], s, q.ZeroPoint) && e.fast
		if j%2 == 1 {
			e.multOdd[j-1] = mult[j]
		}
	}
	for j := nj; j < panelN; j++ {
		e.setFast(j, 0, 0, q.ZeroPoint) // unused lanes: any valid parameters
	}
	e.lo = int32(max(int64(q.Min)-int64(q.ZeroPoint), math.MinInt32))
	e.hi = int32(min(int64(q.Max)-int64(q.ZeroPoint), math.MaxInt32))
	e.zp = q.ZeroPoint
	e.min, e.max = int32(q.Min), int32(q.Max)
}

//go:noescape
func depthwiseAVX2(dst, src *int8, n, c, rowStride, pixStep int, wp *[160]int16, e *epi)

// dwBlock is one 16-channel block of depthwise weights and epilogue in
// the layout depthwiseAVX2 reads.
type dwBlock struct {
	wp [160]int16 // int16 tap pairs (t0,t1) (t2,t3) (t4,t5) (t6,t7) (t8,0), each [2 halves][8 channels][2]
	e  epi
}

func (k *dwBlock) set(q *Requant, wts []int8, c, cb int) {
	k.e.set(q, cb, 16)
	for t := 0; t < 9; t++ {
		pair, second := t/2, t%2
		for ch := 0; ch < 16; ch++ {
			k.wp[pair*32+ch*2+second] = int16(wts[t*c+cb+ch])
		}
	}
}

//go:noescape
func depthwiseAVX512(dst, src *int8, n, c, rowStride, pixStep int, wp *[160]int16, e *epi)

//go:noescape
func depthwiseAVX512Fast(dst, src *int8, n, c, rowStride, pixStep int, wp *[160]int16, e *epi)

// fastEpilogue lets the AVX-512 kernels take the fast epilogue where the
// parameters allow it, and fusedGemm lets Gemm fuse it into the tile
// kernel (tests and benchmarks switch them off to compare).
var fastEpilogue, fusedGemm = true, true

func dwKernel(dst, src *int8, n, c, rowStride, pixStep int, k *dwBlock) {
	if cur.id == idVNNI512 && k.e.fast && fastEpilogue {
		depthwiseAVX512Fast(dst, src, n, c, rowStride, pixStep, &k.wp, &k.e)
		return
	}
	if cur.id == idVNNI512 {
		depthwiseAVX512(dst, src, n, c, rowStride, pixStep, &k.wp, &k.e)
		return
	}
	depthwiseAVX2(dst, src, n, c, rowStride, pixStep, &k.wp, &k.e)
}

// uniform fills every lane of e with one bias, multiplier and shift, and the
// output clamp [lo, hi] after adding zp (lo/hi as in set).
func (e *epi) uniform(bias, mult, shift, zp int32, lo, hi int64) {
	for j := range e.bias {
		e.bias[j], e.mult[j] = bias, mult
		e.left[j], e.right[j], e.rm1[j], e.one[j] = max(-shift, 0), max(shift, 0), 32, 0
		if shift > 0 {
			e.rm1[j], e.one[j] = shift-1, 1
		}
	}
	e.lo = int32(max(lo-int64(zp), math.MinInt32))
	e.hi = int32(min(hi-int64(zp), math.MaxInt32))
	e.zp = zp
}

//go:noescape
func addAVX2(dst, a, b *int8, n int, zp *[2]int32, ea, eb, eo *epi)

//go:noescape
func addAVX2NoLeft(dst, a, b *int8, n int, zp *[2]int32, ea, eb, eo *epi)

//go:noescape
func requantizeAVX2(dst, src *int8, n int, e *epi)

// archAdd does the first len(a)&^15 elements of AddInt8 and returns how
// many it did.
func archAdd(dst, a, b []int8, zpA, multA, shiftA, zpB, multB, shiftB, zpOut, multOut, shiftOut int32, lo, hi int8) int {
	done := 0 // elements done by addAVX512
	if n64 := len(a) &^ 63; n64 > 0 && cur.id == idVNNI512 && cpu.X86.HasAVX512VBMI && cpu.X86.HasAVX512BW && fastAdd {
		// The input of the larger scale has multiplier exactly 1/2: its
		// rescale is (v-zp) << 19 (floor(v*2^19 + 1/2) of an integer), which
		// addAVX512E takes for input A. The sum commutes: put it first.
		exact := func(m, s int32) bool { return m == 1<<30 && s == 0 }
		fa, fb, zA, mA, sA, zB, mB, sB := a, b, zpA, multA, shiftA, zpB, multB, shiftB
		if !exact(mA, sA) && exact(mB, sB) {
			fa, fb, zA, mA, sA, zB, mB, sB = b, a, zpB, multB, shiftB, zpA, multA, shiftA
		}
		var f addFast
		if f.set(zA, mA, sA, zB, mB, sB, zpOut, multOut, shiftOut, lo, hi) {
			_, _, _ = dst[n64-1], fa[n64-1], fb[n64-1]
			if exact(mA, sA) {
				addAVX512E(&dst[0], &fa[0], &fb[0], n64, &f)
			} else {
				addAVX512(&dst[0], &fa[0], &fb[0], n64, &f)
			}
			done = n64
			dst, a, b = dst[n64:], a[n64:], b[n64:]
		}
	}
	n := len(a) &^ 15
	if n == 0 {
		return done
	}
	var ea, eb, eo epi
	ea.uniform(0, multA, shiftA, 0, math.MinInt32, math.MaxInt32)
	eb.uniform(0, multB, shiftB, 0, math.MinInt32, math.MaxInt32)
	eo.uniform(0, multOut, shiftOut, zpOut, int64(lo), int64(hi))
	zp := [2]int32{zpA, zpB}
	_, _ = dst[n-1], b[n-1]
	if shiftA >= 0 && shiftB >= 0 {
		addAVX2NoLeft(&dst[0], &a[0], &b[0], n, &zp, &ea, &eb, &eo)
	} else {
		addAVX2(&dst[0], &a[0], &b[0], n, &zp, &ea, &eb, &eo)
	}
	return done + n
}

// archRequantize does the first len(src)&^15 elements of RequantizeInt8.
func archRequantize(dst, src []int8, zpIn, mult, shift, zpOut int32, lo, hi int8) int {
	n := len(src) &^ 15
	if n == 0 {
		return 0
	}
	var e epi
	e.uniform(-zpIn, mult, shift, zpOut, int64(lo), int64(hi))
	_ = dst[n-1]
	requantizeAVX2(&dst[0], &src[0], n, &e)
	return n
}

//go:noescape
func maxAVX2(dst, src *int8, n int)

// archMax does dst[i] = max(dst[i], src[i]) for the first len(src)&^31
// bytes and returns how many it did.
func archMax(dst, src []int8) int {
	n := len(src) &^ 31
	if n == 0 {
		return 0
	}
	_ = dst[n-1]
	maxAVX2(&dst[0], &src[0], n)
	return n
}

//go:noescape
func tileDirectVNNI512(acc *[tileM * panelN]int32, src *int8, pixStep, rows int, taps *int, ntaps, gpt int, w *int8, init *int32)

//go:noescape
func directVNNI512BFused(dst *int8, src *int8, pixStep, rows int, taps *int, ntaps, gpt int, w *int8, init *int32, ldd int, e *epi, mask int)

//go:noescape
func tileDirectVNNI512B(acc *[tileM * panelN]int32, src *int8, pixStep, rows int, taps *int, ntaps, gpt int, w *int8, init *int32)

func archDirectBiased(id int) bool { return id == idVNNI512 }

//go:noescape
func xorCopyAVX2(dst, src *int8, n int)

// archXorCopy does the first len(src)&^31 bytes of XorCopy.
func archXorCopy(dst, src []int8) int {
	n := len(src) &^ 31
	if n == 0 {
		return 0
	}
	_ = dst[n-1]
	xorCopyAVX2(&dst[0], &src[0], n)
	return n
}

// archDirect runs ConvDirect with VPDPBUSD straight from the taps (no
// im2col) and reports whether it did (AVX-512 VNNI only). Tiles are runs
// of up to 32 pixels of one row.
func archDirect(id int, dst []int8, ldd int, src []int8, rows, cols, rowStep, pixStep int, taps []int, p *Packed, q *Requant, biased bool) bool {
	if id != idVNNI512 {
		return false
	}
	var slots [8]epiSlot
	var acc [tileM * panelN]int32
	gpt := p.K / len(taps) / groupK
	panels := (p.N + panelN - 1) / panelN
	if biased && fastEpilogue && fusedGemm {
		// Every panel through the fused kernel, a whole output row per call.
		var initF [panelN]int32
		s := &slots[0]
		done := 0
		for pi := range panels {
			j0 := pi * panelN
			nj := min(panelN, p.N-j0)
			s.update(q, j0, nj)
			if !s.e().fast {
				break
			}
			for j := range nj {
				initF[j] = p.comp[j0+j] + q.Bias[j0+j]
			}
			for r := range rows {
				o := r*cols*ldd + j0
				_ = dst[o+(cols-1)*ldd+nj-1]
				directVNNI512BFused(&dst[o], &src[r*rowStep], pixStep, cols, &taps[0], len(taps), gpt, &p.data[pi*p.kp*panelN], &initF[0], ldd, s.e(), 1<<nj-1)
			}
			done++
		}
		if done == panels {
			return true
		}
		// A panel outside the fast epilogue: the tiles below redo every
		// panel (the same bytes).
	}
	for r := range rows {
		for i0 := 0; i0 < cols; i0 += tileM {
			n := min(tileM, cols-i0)
			o := (r*cols + i0) * ldd
			for pi := range panels {
				if biased {
					tileDirectVNNI512B(&acc, &src[r*rowStep+i0*pixStep], pixStep, n, &taps[0], len(taps), gpt, &p.data[pi*p.kp*panelN], &p.comp[pi*panelN])
				} else {
					tileDirectVNNI512(&acc, &src[r*rowStep+i0*pixStep], pixStep, n, &taps[0], len(taps), gpt, &p.data[pi*p.kp*panelN], &p.comp[pi*panelN])
				}
				j0 := pi * panelN
				archEpilogue(id, dst, o+j0, ldd, &acc, n, min(panelN, p.N-j0), q, j0, &slots[pi%len(slots)])
			}
		}
	}
	return true
}

// dwUnit is a 64-byte unit of 3x3 depthwise work in the layout
// depthwiseVNNI512 reads: 64 channels of one pixel, or, at stride 1,
// 64/c pixels of c = 16 or 32 channels (their taps are then 64
// consecutive bytes too). Byte u of a tap load is channel ch(u). The
// kernel transposes four taps' bytes into dwords (VPUNPCK?BW, VPUNPCK?WD)
// so that one VPDPBUSD adds four taps: accumulator k, dword lane i holds
// byte u = (i/4)*16 + k*4 + i%4 of the unit, and the three groups are taps
// 0-3, 4-7 and 8 (moved into place by VPERMB, with zero weights beside it).
// VPACKSSDW and VPACKSSWB put the four accumulators back in byte order.
type dwUnit struct {
	w     [3][4][64]int8       // 0: group, accumulator, 16 lanes x 4 taps
	perm  [4][64]int8          // 768: VPERMB indices moving tap 8's bytes into lane order
	init  [4][16]int32         // 1024: bias - 128*sum(w): undoes the XOR 0x80 of the activations
	multE [4][16]int32         // 1280: multiplier of each lane (read at even lanes)
	multO [4][16]int32         // 1536: multiplier of lane 2m+1 at lane 2m
	rndE  [4][panelN / 2]int64 // 1792: fast-epilogue constants of lanes 2m (see epi)
	rndO  [4][panelN / 2]int64 // 2048: and of lanes 2m+1
	shE   [4][panelN / 2]int64 // 2304
	shO   [4][panelN / 2]int64 // 2560
	min   int8                 // 2816: output clamp
	max   int8                 // 2817
}

// set fills u for the 64 bytes starting at channel cb (c >= 64), or for
// the 64/c pixels of c channels (c = 16 or 32), and reports whether every
// channel takes the fast epilogue (otherwise u must not be used).
func (u *dwUnit) set(q *Requant, wts []int8, c, cb int) bool {
	var e epi // only its setFast
	for k := range 4 {
		for i := range 16 {
			b := (i/4)*16 + k*4 + i%4
			ch := cb + b%min(c, 64)
			var sum int32
			for t := range 9 {
				sum += int32(wts[t*c+ch])
			}
			for j := range 4 {
				u.w[0][k][4*i+j] = wts[j*c+ch]
				u.w[1][k][4*i+j] = wts[(4+j)*c+ch]
				u.w[2][k][4*i+j] = 0
				u.perm[k][4*i+j] = int8(b)
			}
			u.w[2][k][4*i] = wts[8*c+ch]
			u.init[k][i] = q.Bias[ch] - 128*sum
			mult := q.Mult[ch]
			u.multE[k][i] = mult
			if !e.setFast(i, mult, q.Shift[ch], q.ZeroPoint) {
				return false
			}
			if i%2 == 1 {
				u.multO[k][i-1] = mult
			}
		}
		u.rndE[k], u.rndO[k], u.shE[k], u.shO[k] = e.rndEven, e.rndOdd, e.shEven, e.shOdd
	}
	u.min, u.max = q.Min, q.Max
	return q.Min <= q.Max
}

//go:noescape
func depthwiseVNNI512(dst, src *int8, n, c, rowStride, srcStep, dstStep int, u *dwUnit)

//go:noescape
func depthwiseVNNI512S2(dst, src *int8, n, c, rowStride, srcStep, dstStep int, u *dwUnit)

// The same kernels on a source holding the activations XOR 0x80.
//
//go:noescape
func depthwiseVNNI512B(dst, src *int8, n, c, rowStride, srcStep, dstStep int, u *dwUnit)

//go:noescape
func depthwiseVNNI512S2B(dst, src *int8, n, c, rowStride, srcStep, dstStep int, u *dwUnit)

// wideDepthwise lets archDepthwiseWide run (tests switch it off).
var wideDepthwise = true

// archDepthwiseWide computes, for the interior output rows [oyA, oyB), the
// first pixels of the interior run [oxA, oxB) with depthwiseVNNI512, every
// channel, and returns how many pixels of each run it did (0 when the
// kernel does not apply: AVX-512 VBMI missing, channels not a multiple of
// 64 nor 16 or 32 at stride 1 nor 32 at stride 2, or parameters outside
// the fast epilogue).
func archDepthwiseWide(dst, src []int8, w, c, stride, padTop, padLeft, outW, oyA, oyB, oxA, oxB int, wts []int8, q *Requant, prep *dwPrepared, biased bool) int {
	if cur.id != idVNNI512 || !wideDepthwise || !cpu.X86.HasAVX512VBMI || !cpu.X86.HasAVX512BW || oyA >= oyB || oxA >= oxB {
		return 0
	}
	px := 1        // pixels per unit
	pairs := false // two pixels at stride 2 (a direct call each: u stays on the stack)
	switch {
	case c%64 == 0:
	case stride == 1 && (c == 16 || c == 32):
		px = 64 / c
	case stride == 2 && c == 32:
		px, pairs = 2, true
	default:
		return 0
	}
	n := (oxB - oxA) / px
	if n == 0 || prep != nil && prep.units == nil {
		return 0
	}
	// The kernel reads every parameter vector from u: 64-byte aligned, no
	// load splits a cache line (15-20% faster than wherever the stack put it).
	var ubuf [unsafe.Sizeof(dwUnit{}) + 63]byte
	u := (*dwUnit)(unsafe.Add(unsafe.Pointer(&ubuf[0]), -uintptr(unsafe.Pointer(&ubuf[0]))&63))
	for cb := 0; cb < c; cb += 64 {
		if prep != nil {
			u = &prep.units[cb/64]
		} else if !u.set(q, wts, c, cb) {
			return 0 // the caller's kernels redo every pixel, blocks done here included: the same bytes
		}
		for oy := oyA; oy < oyB; oy++ {
			so := ((oy*stride-padTop)*w+oxA*stride-padLeft)*c + cb
			do := (oy*outW+oxA)*c + cb
			_ = src[so+((n*px-1)*stride+2)*c+2*w*c+min(c, 64)-1]
			_ = dst[do+(n*px-1)*c+min(c, 64)-1]
			switch {
			case pairs && biased:
				depthwiseVNNI512S2B(&dst[do], &src[so], n, c, w*c, px*stride*c, px*c, u)
			case pairs:
				depthwiseVNNI512S2(&dst[do], &src[so], n, c, w*c, px*stride*c, px*c, u)
			case biased:
				depthwiseVNNI512B(&dst[do], &src[so], n, c, w*c, px*stride*c, px*c, u)
			default:
				depthwiseVNNI512(&dst[do], &src[so], n, c, w*c, px*stride*c, px*c, u)
			}
		}
	}
	return n * px
}

// dwPrepared holds a Depthwise3x3's units, 64-byte aligned, when the wide
// kernel can take the layer (nil units otherwise).
type dwPrepared struct {
	buf   []byte
	units []dwUnit
}

func (p *dwPrepared) prepare(wts []int8, c int, q *Requant) {
	if c == 0 || c%64 != 0 && c != 16 && c != 32 {
		return
	}
	nb := max(1, c/64)
	size := int(unsafe.Sizeof(dwUnit{}))
	p.buf = make([]byte, size*nb+63)
	off := int(-uintptr(unsafe.Pointer(&p.buf[0])) & 63)
	p.units = unsafe.Slice((*dwUnit)(unsafe.Pointer(&p.buf[off])), nb)
	for i := range p.units {
		if !p.units[i].set(q, wts, c, i*64) {
			p.buf, p.units = nil, nil // outside the fast epilogue: the 16-channel kernels
			return
		}
	}
}

// biased reports whether the wide kernel does every pixel of a pre-padded
// source at this stride and output width, reading it biased.
func (p *dwPrepared) biased(c, stride, outW int) bool {
	if p.units == nil || cur.id != idVNNI512 || !wideDepthwise || !cpu.X86.HasAVX512VBMI || !cpu.X86.HasAVX512BW || outW == 0 {
		return false
	}
	switch {
	case c%64 == 0:
		return true
	case stride == 1 && (c == 16 || c == 32):
		return outW%(64/c) == 0
	case stride == 2 && c == 32:
		return outW%2 == 0
	}
	return false
}

// addFast holds AddInt8's parameters for addAVX512: the three
// requantizations through the fast epilogue (inputs with zero point 0,
// the output's folded into its rounding constant). The larger input's
// multiplier is 1/2 (shift 0), outside the fast epilogue: that input is
// shifted left by 21 instead of 20 and divided by 2^32 instead of 2^31,
// floor((2v*m + 2^31) / 2^32) = floor((v*m + 2^30) / 2^31) exactly.
type addFast struct {
	zpA, zpB            int32 // 0, 4
	multA, multB, multO int32 // 8, 12, 16
	min, max            int8  // 20, 21
	_                   [2]int8
	rndA, rndB, rndO    int64    // 24, 32, 40
	shA, shB, shO       [2]int64 // 48, 64, 80: even and odd lanes' shifts
	lshA, lshB          int64    // 96, 104: the inputs' left shifts
}

// fastAdd lets AddInt8 take addAVX512 (tests switch it off).
var fastAdd = true

// addInput fills one input's parameters and reports whether they allow the
// fast path.
func addInput(mult, shift int32) (rnd int64, sh [2]int64, lsh int64, ok bool) {
	if shift == 0 && mult != 0 {
		return 1 << 31, [2]int64{32, 0}, AddLeftShift + 1, true
	}
	rnd, sh[0], sh[1], ok = fastParams(mult, shift, 0)
	return rnd, sh, AddLeftShift, ok
}

func (f *addFast) set(zpA, multA, shiftA, zpB, multB, shiftB, zpOut, multOut, shiftOut int32, lo, hi int8) bool {
	var okA, okB, okO bool
	f.rndA, f.shA, f.lshA, okA = addInput(multA, shiftA)
	f.rndB, f.shB, f.lshB, okB = addInput(multB, shiftB)
	f.rndO, f.shO[0], f.shO[1], okO = fastParams(multOut, shiftOut, zpOut)
	f.zpA, f.zpB, f.multA, f.multB, f.multO, f.min, f.max = zpA, zpB, multA, multB, multOut, lo, hi
	// |a-zp| < 256: (a-zp) << 21 cannot overflow int32.
	return okA && okB && okO && zpA >= -128 && zpA <= 127 && zpB >= -128 && zpB <= 127
}

//go:noescape
func addAVX512(dst, a, b *int8, n int, f *addFast)

// addAVX512E is addAVX512 for an input A of multiplier 1/2 (shift 0),
// rescaled by a shift alone.
//
//go:noescape
func addAVX512E(dst, a, b *int8, n int, f *addFast)

//go:noescape
func gemmVNNI512x2Fused(accA, accB *[tileM * panelN]int32, a *int8, lda, rows, groups int, w *int8, pstride int, init *int32, tail *[tileM]uint32, dst *int8, ldd int, initF *int32, eA, eB *epi)

// archTile2Fused computes panels pi and pi+1 of rows a[off:] with the
// epilogue fused into the tile kernel, writing dst[doff:] directly, where
// both panels are whole and take the fast epilogue (AVX-512 VNNI and
// VBMI). It returns how many rows (whole blocks of 8) it wrote and
// whether it ran: the other rows' raw accumulators (fewer than 8) are then
// in acc and acc2 from row 0. rows may exceed tileM when tail is nil.
func archTile2Fused(id int, dst []int8, doff, ldd int, acc, acc2 *[tileM * panelN]int32, a []int8, off, lda, rows int, p *Packed, pi int, tail *[tileM]uint32, q *Requant, slots *[8]epiSlot) (int, bool) {
	j0 := pi * panelN
	if id != idVNNI512 || !fastEpilogue || !fusedGemm || rows < 8 || rows > tileM && tail != nil || p.K == 0 || j0+2*panelN > p.N || !cpu.X86.HasAVX512VBMI || !cpu.X86.HasAVX512BW {
		return 0, false
	}
	sA, sB := &slots[pi%len(slots)], &slots[(pi+1)%len(slots)]
	sA.update(q, j0, panelN)
	sB.update(q, j0+panelN, panelN)
	if !sA.e().fast || !sB.e().fast {
		return 0, false
	}
	var initF [2 * panelN]int32
	for j := range initF {
		initF[j] = p.comp[j0+j] + q.Bias[j0+j]
	}
	done := rows &^ 7
	_ = dst[doff+(done-1)*ldd+2*panelN-1]
	_ = p.comp[j0+2*panelN-1]
	_ = p.data[(pi+2)*p.kp*panelN-1]
	gemmVNNI512x2Fused(acc, acc2, &a[off], lda, rows, p.K/groupK, &p.data[pi*p.kp*panelN], p.kp*panelN, &p.comp[j0], tail,
		&dst[doff], ldd, &initF[0], sA.e(), sB.e())
	return done, true
}

//go:noescape
func gemmVNNI512Fused1(dst *int8, a *int8, lda, rows, groups int, w *int8, init *int32, tail *[tileM]uint32, ldd int, e *epi, mask int)

// archTile1Fused computes panel pi (whole or partial) for all rows of a,
// which have no K%4 tail, with the fast epilogue fused, and reports
// whether it did (AVX-512 VNNI; the layers with few output channels, or
// the odd panel after the pairs).
func archTile1Fused(id int, dst []int8, doff, ldd int, a []int8, lda, rows int, p *Packed, pi int, q *Requant, s *epiSlot) bool {
	j0 := pi * panelN
	nj := min(panelN, p.N-j0)
	if id != idVNNI512 || !fastEpilogue || !fusedGemm || rows == 0 || p.K == 0 || p.K%groupK != 0 || nj <= 0 {
		return false
	}
	s.update(q, j0, nj)
	if !s.e().fast {
		return false
	}
	var initF [panelN]int32
	for j := range nj {
		initF[j] = p.comp[j0+j] + q.Bias[j0+j]
	}
	_ = dst[doff+(rows-1)*ldd+nj-1]
	_ = p.data[(pi+1)*p.kp*panelN-1]
	gemmVNNI512Fused1(&dst[doff], &a[0], lda, rows, p.K/groupK, &p.data[pi*p.kp*panelN], &initF[0], nil, ldd, s.e(), 1<<nj-1)
	return true
}

// dwStripMax is the largest padded strip (3 input rows) archDepthwiseBorders
// builds on the stack.
const dwStripMax = 24 << 10

// archDepthwiseBorders computes the pixels the wide kernel left, once it
// did the interior runs [oxA, oxW) of rows [oyA, oyB): whole border rows,
// and the ends of the interior rows, each from a copy of the 3 input rows
// its windows read with the padding written out, through the wide kernel
// with prepared units. Pieces are whole units (px pixels): a piece may
// redo pixels already done, with the same bytes. It reports false, having
// done nothing, where it does not apply (no prepared units, a row narrower
// than a unit, a strip larger than dwStripMax); the caller's 16-channel
// kernels then do those pixels.
func archDepthwiseBorders(dst, src []int8, h, w, c, stride, padTop, padLeft, outH, outW int, padValue int8, prep *dwPrepared, oyA, oyB, oxA, oxW int) bool {
	if prep == nil || prep.units == nil {
		return false
	}
	px := 1
	if c < 64 {
		px = 64 / c
	}
	if outW < px || 3*((outW-1)*stride+3)*c > dwStripMax {
		return false
	}
	var strip [dwStripMax]int8
	// piece computes output pixels [x0, x0+n) of row oy (n a multiple of px).
	piece := func(oy, x0, n int) {
		sw := (n-1)*stride + 3 // strip width in pixels
		ix0 := x0*stride - padLeft
		for r := range 3 {
			row := strip[r*sw*c : (r+1)*sw*c]
			iy := oy*stride - padTop + r
			if iy < 0 || iy >= h {
				fill(row, padValue)
				continue
			}
			a, b := max(ix0, 0), min(ix0+sw, w) // input columns inside
			if a >= b {
				fill(row, padValue)
				continue
			}
			fill(row[:(a-ix0)*c], padValue)
			copy(row[(a-ix0)*c:(b-ix0)*c], src[(iy*w+a)*c:(iy*w+b)*c])
			fill(row[(b-ix0)*c:], padValue)
		}
		do := (oy*outW + x0) * c
		archDepthwiseWide(dst[do:do+n*c], strip[:3*sw*c], sw, c, stride, 0, 0, n, 0, 1, 0, n, nil, nil, prep, false)
	}
	// columns computes output pixels [x0, x0+n) of every interior row in
	// one pass, from a narrow padded copy of the input columns they read
	// (all rows: the interior rows' windows are inside vertically), or
	// reports false when that copy does not fit.
	columns := func(x0, n int) bool {
		nw := (n-1)*stride + 3 // narrow image width in pixels
		rows := (oyB-oyA-1)*stride + 3
		if rows*nw*c > dwStripMax {
			return false
		}
		ix0 := x0*stride - padLeft
		a, b := max(ix0, 0), min(ix0+nw, w) // input columns inside
		for r := range rows {
			row := strip[r*nw*c : (r+1)*nw*c]
			iy := oyA*stride - padTop + r
			if a >= b {
				fill(row, padValue)
				continue
			}
			fill(row[:(a-ix0)*c], padValue)
			copy(row[(a-ix0)*c:(b-ix0)*c], src[(iy*w+a)*c:(iy*w+b)*c])
			fill(row[(b-ix0)*c:], padValue)
		}
		do := (oyA*outW + x0) * c
		archDepthwiseWide(dst[do:], strip[:rows*nw*c], nw, c, stride, 0, 0, outW, 0, oyB-oyA, 0, n, nil, nil, prep, false)
		return true
	}
	whole := outW / px * px
	left, right := 0, 0 // pixels of every interior row done by columns
	if oxA > 0 && columns(0, min((oxA+px-1)/px*px, whole)) {
		left = oxA
	}
	if oxW < outW {
		if n := min((outW-oxW+px-1)/px*px, whole); columns(outW-n, n) {
			right = outW - oxW
		}
	}
	for oy := range outH {
		if oy < oyA || oy >= oyB {
			piece(oy, 0, whole)
			if whole < outW {
				piece(oy, outW-px, px)
			}
			continue
		}
		if oxA > left {
			piece(oy, 0, min((oxA+px-1)/px*px, whole))
		}
		if outW-oxW > right {
			n := min((outW-oxW+px-1)/px*px, whole)
			piece(oy, outW-n, n)
		}
	}
	return true
}

// fill sets every byte of b to v.
func fill(b []int8, v int8) {
	for i := range b {
		b[i] = v
	}
}
