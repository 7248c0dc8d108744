//go:build !purego

package neon

import "golang.org/x/sys/cpu"

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
