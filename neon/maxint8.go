package neon

// MaxInt8 does dst[i] = max(dst[i], src[i]) for i < len(src) (VPMAXSB /
// SMAX on whole blocks, Go for the tail). The int8 executor's max pooling
// runs it over whole image rows, where the per-pixel calls of MaxPoolInt8
// cost more than the maxima for small channel counts.
func MaxInt8(dst, src []int8) {
	dst = dst[:len(src)]
	if cur.id != 0 {
		k := archMax(dst, src)
		dst, src = dst[k:], src[k:]
	}
	for i, v := range src {
		dst[i] = max(dst[i], v)
	}
}
