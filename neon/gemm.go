package neon

import (
	"fmt"
	"unsafe"
)

// Panel geometry of Packed weights, shared by every implementation.
const (
	panelN = 16 // output channels per panel
	groupK = 4  // reduction elements kept together per channel (one SDOT/VPDPBUSD lane)
	tileM  = 32 // rows of A per kernel call (kernels block rows further inside)
)

// Packed holds int8 weights [N][K] (N output channels, K reduction) in the
// layout every kernel reads: panels of 16 output channels; inside a panel,
// for each group of 4 consecutive k, the 4 bytes of channel 0, then channel
// 1, ... channel 15 (64 bytes per group). K is padded with zeros to a
// multiple of 4 and N to a multiple of 16. This is the SDOT/VPDPBUSD layout
// (one int32 lane = one channel x 4 k), and the SMULL and VPMADDWD paths
// read it as pairs of k. Pack once at model load time.
type Packed struct {
	N, K   int
	RowSum []int32 // RowSum[j] = sum over k of w[j][k]

	kp     int     // K rounded up to a multiple of groupK
	data   []int8  // panels, each kp*panelN bytes
	comp   []int32 // -128*RowSum, zero-padded to whole panels: undoes the VNNI unsigned bias
	has128 bool    // some weight is -128: the int16 pair sums of tileSMLAL could overflow
}

// Pack packs w, row-major [n][k], into a Packed. vigil's weights are
// symmetric, in [-127, 127], but no kernel relies on it: every path
// accumulates exact products in int32 (SMULL+SADALP, VPMADDWD, SDOT,
// VPDPBUSD), so -128 is computed exactly too.
func Pack(w []int8, n, k int) *Packed {
	if n < 0 || k < 0 || len(w) < n*k {
		panic(fmt.Sprintf("neon.Pack: %d weights for [%d][%d]", len(w), n, k))
	}
	kp := (k + groupK - 1) / groupK * groupK
	panels := (n + panelN - 1) / panelN
	p := &Packed{N: n, K: k, RowSum: make([]int32, n), kp: kp, data: aligned64[int8](panels * kp * panelN),
		comp: aligned64[int32](panels * panelN)}
	for j := 0; j < n; j++ {
		row := w[j*k : j*k+k]
		base := (j/panelN)*kp*panelN + (j%panelN)*groupK
		var s int32
		for kk, v := range row {
			s += int32(v)
			p.has128 = p.has128 || v == -128
			p.data[base+(kk/groupK)*groupK*panelN+kk%groupK] = v
		}
		p.RowSum[j] = s
		p.comp[j] = -128 * s
	}
	return p
}

// At returns w[j][k] from the packed layout.
func (p *Packed) At(j, k int) int8 {
	return p.data[(j/panelN)*p.kp*panelN+(k/groupK)*groupK*panelN+(j%panelN)*groupK+k%groupK]
}

// panel returns the bytes of panel i.
func (p *Packed) panel(i int) []int8 {
	sz := p.kp * panelN
	return p.data[i*sz : i*sz+sz]
}

func checkGemm(fn string, lenDst, ldd, lenA, lda, m int, p *Packed) {
	if m < 0 || lda < p.K || ldd < p.N {
		panic(fmt.Sprintf("neon.%s: m=%d lda=%d ldd=%d for K=%d N=%d", fn, m, lda, ldd, p.K, p.N))
	}
	if m == 0 {
		return
	}
	if lenA < (m-1)*lda+p.K {
		panic(fmt.Sprintf("neon.%s: len(a)=%d < %d for m=%d lda=%d K=%d", fn, lenA, (m-1)*lda+p.K, m, lda, p.K))
	}
	if lenDst < (m-1)*ldd+p.N {
		panic(fmt.Sprintf("neon.%s: len(dst)=%d < %d for m=%d ldd=%d N=%d", fn, lenDst, (m-1)*ldd+p.N, m, ldd, p.N))
	}
}

// Gemm computes, for i < m and j < p.N,
//
//	acc = sum over k < p.K of a[i*lda+k] * w[j][k]
//	dst[i*ldd+j] = clamp(Requantize(acc + q.Bias[j], q.Mult[j], q.Shift[j]) + q.ZeroPoint, q.Min, q.Max)
//
// Activations may take any int8 value. Only dst[i*ldd+j] for j < p.N is
// written. Gemm allocates nothing and is safe for concurrent use on
// disjoint dst rows (split m across goroutines for multi-core).
func Gemm(dst []int8, ldd int, a []int8, lda int, m int, p *Packed, q *Requant) {
	checkGemm("Gemm", len(dst), ldd, len(a), lda, m, p)
	if m == 0 || p.N == 0 {
		return
	}
	_ = q.Bias[p.N-1]
	_ = q.Mult[p.N-1]
	_ = q.Shift[p.N-1]
	var slots [8]epiSlot // epilogue parameters of panel j, kept across row tiles in slot j%8
	var acc, acc2 [tileM * panelN]int32
	var tw [tileM]uint32
	panels := (p.N + panelN - 1) / panelN
	// Pairs of panels with the epilogue fused into the tile kernel, and a
	// last odd panel, take every row, a block of rows at a time (about
	// 16 KB of A, which stays in L1 across the panels), when no row has a
	// K%4 tail: panels [0, pi0). The last block takes the rest, so every
	// block has at least 8 rows; a pair's last rows%8 rows come back raw in
	// acc, acc2 for the separate epilogue. Which panels fuse depends only
	// on q and p: the first block decides for all.
	pi0 := 0
	if p.K%groupK == 0 && m >= 8 {
		blk := max(8, (16<<10)/max(lda, 1)&^7)
		pairs, single := -1, false
		for r0 := 0; r0 < m; {
			rows := blk
			if m-r0 < 2*blk {
				rows = m - r0
			}
			n := 0
			for pi := 0; pi+1 < panels && (pairs < 0 || n < pairs); pi += 2 {
				done, ok := archTile2Fused(cur.id, dst, r0*ldd+pi*panelN, ldd, &acc, &acc2, a, r0*lda, lda, rows, p, pi, nil, q, &slots)
				if !ok {
					if pairs >= 0 {
						panic("neon: a fused panel pair refused a later block")
					}
					break
				}
				if done < rows {
					for t, ac := range [2]*[tileM * panelN]int32{&acc, &acc2} {
						j0 := (pi + t) * panelN
						archEpilogue(cur.id, dst, (r0+done)*ldd+j0, ldd, ac, rows-done, panelN, q, j0, &slots[(pi+t)%len(slots)])
					}
				}
				n++
			}
			pi := 2 * n
			switch {
			case pairs < 0:
				pairs = n
				single = pi == panels-1 && archTile1Fused(cur.id, dst, r0*ldd+pi*panelN, ldd, a[r0*lda:], lda, rows, p, pi, q, &slots[pi%len(slots)])
			case single:
				if !archTile1Fused(cur.id, dst, r0*ldd+pi*panelN, ldd, a[r0*lda:], lda, rows, p, pi, q, &slots[pi%len(slots)]) {
					panic("neon: the fused last panel refused a later block")
				}
			}
			r0 += rows
		}
		pi0 = 2 * pairs
		if single {
			pi0++
		}
	}
	for i0 := 0; i0 < m && pi0 < panels; i0 += tileM {
		rows := min(tileM, m-i0)
		tail := tailWords(&tw, a, i0*lda, lda, rows, p.K)
		for pi := pi0; pi < panels; {
			if done, ok := archTile2Fused(cur.id, dst, i0*ldd+pi*panelN, ldd, &acc, &acc2, a, i0*lda, lda, rows, p, pi, tail, q, &slots); ok {
				// Blocks of 8 rows are written; the rest are raw in acc, acc2.
				if done < rows {
					for t, ac := range [2]*[tileM * panelN]int32{&acc, &acc2} {
						j0 := (pi + t) * panelN
						archEpilogue(cur.id, dst, (i0+done)*ldd+j0, ldd, ac, rows-done, panelN, q, j0, &slots[(pi+t)%len(slots)])
					}
				}
				pi += 2
				continue
			}
			n := gemmTiles(&acc, &acc2, a, i0*lda, lda, rows, p, pi, panels, tail)
			for t := 0; t < n; t++ {
				ac := &acc
				if t == 1 {
					ac = &acc2
				}
				j0 := (pi + t) * panelN
				nj := min(panelN, p.N-j0)
				if cur.id != 0 && archEpilogue(cur.id, dst, i0*ldd+j0, ldd, ac, rows, nj, q, j0, &slots[(pi+t)%len(slots)]) {
					continue
				}
				for r := 0; r < rows; r++ {
					o := (i0+r)*ldd + j0
					epilogueRow(dst[o:o+nj], ac[r*panelN:r*panelN+nj], q, j0)
				}
			}
			pi += n
		}
	}
}

// GemmInt32 writes the raw accumulators of Gemm (no epilogue):
// dst[i*ldd+j] = sum over k of a[i*lda+k] * w[j][k].
func GemmInt32(dst []int32, ldd int, a []int8, lda int, m int, p *Packed) {
	checkGemm("GemmInt32", len(dst), ldd, len(a), lda, m, p)
	if m == 0 || p.N == 0 {
		return
	}
	var acc, acc2 [tileM * panelN]int32
	var tw [tileM]uint32
	panels := (p.N + panelN - 1) / panelN
	for i0 := 0; i0 < m; i0 += tileM {
		rows := min(tileM, m-i0)
		tail := tailWords(&tw, a, i0*lda, lda, rows, p.K)
		for pi := 0; pi < panels; {
			n := gemmTiles(&acc, &acc2, a, i0*lda, lda, rows, p, pi, panels, tail)
			for t := 0; t < n; t++ {
				ac := &acc
				if t == 1 {
					ac = &acc2
				}
				j0 := (pi + t) * panelN
				nj := min(panelN, p.N-j0)
				for r := 0; r < rows; r++ {
					o := (i0+r)*ldd + j0
					copy(dst[o:o+nj], ac[r*panelN:r*panelN+nj])
				}
			}
			pi += n
		}
	}
}

// tile kernels compute rows (1..tileM) x 16 int32 dot products of length k
// between a[off+r*lda:][:k] and one packed panel w, into acc[r*16+j].

// gemmTiles fills acc with panel pi and, where the implementation does two
// panels at once and pi+1 exists, acc2 with panel pi+1. It returns the
// number of panels done.
// tail holds the rows' last K%4 activations (nil when K%4 == 0).
func gemmTiles(acc, acc2 *[tileM * panelN]int32, a []int8, off, lda, rows int, p *Packed, pi, panels int, tail *[tileM]uint32) int {
	if p.K > 0 && cur.id != 0 && pi+1 < panels && archTile2(cur.id, acc, acc2, a, off, lda, rows, p, pi, tail) {
		return 2
	}
	gemmTile(acc, a, off, lda, rows, p, pi, tail)
	return 1
}

// gemmTile fills acc[r*16+j] for r < rows with the dot products of rows
// a[off+r*lda:][:K] and the 16 channels of panel pi, using the selected
// implementation.
func gemmTile(acc *[tileM * panelN]int32, a []int8, off, lda, rows int, p *Packed, pi int, tail *[tileM]uint32) {
	if p.K == 0 {
		*acc = [tileM * panelN]int32{}
		return
	}
	if cur.id == 0 {
		tileGeneric(acc, a, off, lda, rows, p.K, p.panel(pi))
		return
	}
	archTile(cur.id, acc, a, off, lda, rows, p, pi, tail)
}

// tailWords gathers, for each of rows rows, the last K%4 activations
// (zero-padded) into one little-endian word, so that the assembly kernels
// never read past the end of a row. It returns tw, or nil when K%4 == 0.
// It runs once per tile of rows, for all panels.
func tailWords(tw *[tileM]uint32, a []int8, off, lda, rows, k int) *[tileM]uint32 {
	g := k &^ (groupK - 1)
	if k == g || cur.id == 0 {
		return nil
	}
	o := off + g
	_ = a[o+(rows-1)*lda+(k-g)-1]
	switch k - g {
	case 1:
		for r := 0; r < rows; r++ {
			tw[r] = uint32(uint8(a[o]))
			o += lda
		}
	case 2:
		for r := 0; r < rows; r++ {
			tw[r] = uint32(uint8(a[o])) | uint32(uint8(a[o+1]))<<8
			o += lda
		}
	default:
		for r := 0; r < rows; r++ {
			tw[r] = uint32(uint8(a[o])) | uint32(uint8(a[o+1]))<<8 | uint32(uint8(a[o+2]))<<16
			o += lda
		}
	}
	return tw
}

// aligned64 makes a zeroed slice of n elements starting on a 64-byte
// boundary: the kernels load panels and their constants 64 bytes at a
// time, and a load that splits two cache lines costs about twice as much.
func aligned64[T int8 | int32](n int) []T {
	var z T
	extra := 64 / int(unsafe.Sizeof(z))
	b := make([]T, n+extra)
	off := int(-uintptr(unsafe.Pointer(unsafe.SliceData(b)))&63) / int(unsafe.Sizeof(z))
	return b[off : off+n : off+n]
}
