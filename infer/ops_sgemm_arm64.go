//go:build !purego

package infer

// sgemmFMA selects the NEON FMLA micro-kernels (every arm64 core has
// them). Tests switch it off to run the pure-Go kernels; build with -tags
// purego to leave the assembly out.
var sgemmFMA = true

//go:noescape
func sgemm8x4FMA(kc int, a *float32, lda int, b *float32, c *float32, ldc int)

//go:noescape
func sgemm1x4FMA(kc int, a *float32, b *float32, c *float32)
