//go:build !amd64 || purego

package infer

// quantizeSIMD is false where there is no assembly kernel.
var quantizeSIMD = false

func quantizeAVX512(dst *int8, src *float32, n int, inv float64, zp int32) int {
	panic("infer: no AVX-512 quantize kernel on this architecture")
}
