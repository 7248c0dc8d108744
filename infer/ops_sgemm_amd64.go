//go:build !purego

package infer

import "golang.org/x/sys/cpu"

// sgemmFMA selects the AVX/FMA3 micro-kernels (Haswell and later, Zen).
// Tests switch it off to run the pure-Go kernels; build with -tags purego
// to leave the assembly out.
var sgemmFMA = cpu.X86.HasAVX && cpu.X86.HasFMA

//go:noescape
func sgemm8x4FMA(kc int, a *float32, lda int, b *float32, c *float32, ldc int)

//go:noescape
func sgemm1x4FMA(kc int, a *float32, b *float32, c *float32)

//go:noescape
func sgemm8x8FMA(kc int, a *float32, lda int, b *float32, bstride int, c *float32, ldc int)
