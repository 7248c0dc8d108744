//go:build !purego

package neon

import "golang.org/x/sys/cpu"

// lookupVBMI is usable with the AVX-512 implementation on CPUs with VBMI
// (VPERMI2B); tests switch it off.
var lookupVBMI = cpu.X86.HasAVX512VBMI && cpu.X86.HasAVX512BW

//go:noescape
func lookupAVX512VBMI(dst, src *int8, n int, lut *[256]int8)

// archLookup does the first len(src)&^63 bytes of LookupInt8 and returns
// how many it did.
func archLookup(dst, src []int8, lut *[256]int8) int {
	n := len(src) &^ 63
	if n == 0 || cur.id != idVNNI512 || !lookupVBMI {
		return 0
	}
	_ = dst[n-1]
	lookupAVX512VBMI(&dst[0], &src[0], n, lut)
	return n
}
