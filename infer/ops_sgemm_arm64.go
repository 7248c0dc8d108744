//go:build !purego

package infer

import "unsafe"

// sgemmFMA selects the NEON FMLA micro-kernels (every arm64 core has
// them). Tests switch it off to run the pure-Go kernels; build with -tags
// purego to leave the assembly out.
var sgemmFMA = true

//go:noescape
func sgemm8x4FMA(kc int, a *float32, lda int, b *float32, c *float32, ldc int)

//go:noescape
func sgemm1x4FMA(kc int, a *float32, b *float32, c *float32)

// sgemm8x8FMA covers two adjacent panels; with 4-wide NEON registers that
// is two 8x4 kernels.
func sgemm8x8FMA(kc int, a *float32, lda int, b *float32, bstride int, c *float32, ldc int) {
	sgemm8x4FMA(kc, a, lda, b, c, ldc)
	sgemm8x4FMA(kc, a, lda, (*float32)(unsafe.Add(unsafe.Pointer(b), 4*bstride)), (*float32)(unsafe.Add(unsafe.Pointer(c), 16)), ldc)
}
