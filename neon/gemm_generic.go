package neon

// tileGeneric is the pure-Go GEMM kernel: rows x 16 channels of one panel.
// It reads the packed layout directly so that it shares Pack with the SIMD
// kernels; the tests check it against a plain triple loop on unpacked weights.
func tileGeneric(acc *[tileM * panelN]int32, a []int8, off, lda, rows, k int, w []int8) {
	groups := k / groupK
	for r := 0; r < rows; r++ {
		row := a[off+r*lda : off+r*lda+k]
		var s [panelN]int32
		for g := 0; g < groups; g++ {
			x := row[g*groupK : g*groupK+groupK : g*groupK+groupK]
			a0, a1, a2, a3 := int32(x[0]), int32(x[1]), int32(x[2]), int32(x[3])
			wg := w[g*groupK*panelN : (g+1)*groupK*panelN]
			for j := range s {
				v := wg[j*groupK : j*groupK+groupK : j*groupK+groupK]
				s[j] += a0*int32(v[0]) + a1*int32(v[1]) + a2*int32(v[2]) + a3*int32(v[3])
			}
		}
		if t := k - groups*groupK; t > 0 {
			x := row[groups*groupK:]
			wg := w[groups*groupK*panelN : (groups+1)*groupK*panelN]
			for j := range s {
				v := wg[j*groupK : j*groupK+groupK]
				for kk := 0; kk < t; kk++ {
					s[j] += int32(x[kk]) * int32(v[kk])
				}
			}
		}
		copy(acc[r*panelN:], s[:])
	}
}
