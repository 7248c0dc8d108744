//go:build (!arm64 && !amd64) || purego

package neon

func archImpls() []*implementation { return nil }

func archTile(id int, acc *[tileM * panelN]int32, a []int8, off, lda, rows int, p *Packed, pi int, tail *[tileM]uint32) {
	panic("neon: no kernel")
}

type epiSlot struct{}

func archEpilogue(id int, dst []int8, off, ldd int, acc *[tileM * panelN]int32, rows, nj int, q *Requant, j0 int, s *epiSlot) bool {
	return false
}

func archDepthwise(dst, src []int8, h, w, c, stride, padTop, padLeft, outH, outW int, padValue int8, wts []int8, q *Requant, prep *dwPrepared, biased bool) int {
	return 0
}

func archAdd(dst, a, b []int8, zpA, multA, shiftA, zpB, multB, shiftB, zpOut, multOut, shiftOut int32, lo, hi int8) int {
	return 0
}

func archRequantize(dst, src []int8, zpIn, mult, shift, zpOut int32, lo, hi int8) int {
	return 0
}

func archTile2(id int, acc, acc2 *[tileM * panelN]int32, a []int8, off, lda, rows int, p *Packed, pi int, tail *[tileM]uint32) bool {
	return false
}

func archMax(dst, src []int8) int { return 0 }

func archDirect(id int, dst []int8, ldd int, src []int8, rows, cols, rowStep, pixStep int, taps []int, p *Packed, q *Requant, biased bool) bool {
	return false
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

type requantPrep struct{}

func newRequantPrep(q *Requant) *requantPrep { return nil }
