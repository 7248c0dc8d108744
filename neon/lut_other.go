//go:build !amd64 || purego

package neon

// archLookup has no SIMD kernel here: LookupInt8 runs in Go.
func archLookup(dst, src []int8, lut *[256]int8) int { return 0 }
