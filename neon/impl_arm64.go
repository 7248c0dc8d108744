//go:build !purego

package neon

import "golang.org/x/sys/cpu"

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
func tileSMULL(acc *[tileM * panelN]int32, a *int8, lda, rows, groups int, w *int8, tail *[tileM]uint32)

func archTile(id int, acc *[tileM * panelN]int32, a []int8, off, lda, rows int, p *Packed, pi int) {
	var tw [tileM]uint32
	var tail *[tileM]uint32
	if tailWords(&tw, a, off, lda, rows, p.K) {
		tail = &tw
	}
	// Rows are only read up to (K/4)*4 bytes; a[off:] holds them (checked by checkGemm).
	ap := &a[off]
	w := &p.data[pi*p.kp*panelN]
	switch id {
	case idSDOT:
		tileSDOT(acc, ap, lda, rows, p.K/groupK, w, tail)
	case idSMULL:
		tileSMULL(acc, ap, lda, rows, p.K/groupK, w, tail)
	}
}

func archEpilogue(id int, dst []int8, off, ldd int, acc *[tileM * panelN]int32, rows, nj int, q *Requant, j0 int) bool {
	return false
}
