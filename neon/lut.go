package neon

// LookupInt8 maps every byte through a 256-entry table:
// dst[i] = lut[uint8(src[i])] for i < len(src). The int8 executor runs its
// non-linear operators (sigmoid, LeakyReLU, ...) this way. With AVX-512
// VBMI (Ice Lake and later, Zen 4) 64 bytes take two VPERMI2B and a masked
// move; elsewhere, and for the tail, Go.
func LookupInt8(dst, src []int8, lut *[256]int8) {
	dst = dst[:len(src)]
	if cur.id != 0 {
		k := archLookup(dst, src, lut)
		dst, src = dst[k:], src[k:]
	}
	for i, v := range src {
		dst[i] = lut[uint8(v)]
	}
}
