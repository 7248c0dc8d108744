//go:build !purego

package infer

import "golang.org/x/sys/cpu"

// quantizeSIMD selects quantizeAVX512 for the input quantization; tests
// switch it off to compare with the Go loop.
var quantizeSIMD = cpu.X86.HasAVX512F

// quantizeAVX512 quantizes n (a multiple of 16) floats of src into dst with
// the exact steps of quantizeInto (float64 product, truncation, integer
// half-away rounding, signed saturation) and returns how many it did: it
// stops before a block of 16 holding a NaN, which the caller does in Go.
//
//go:noescape
func quantizeAVX512(dst *int8, src *float32, n int, inv float64, zp int32) int
