//go:build (!amd64 && !arm64) || purego

package infer

// sgemmFMA is false where there is no assembly micro-kernel.
var sgemmFMA = false

func sgemm8x4FMA(kc int, a *float32, lda int, b *float32, c *float32, ldc int) {
	panic("infer: no FMA kernel on this architecture")
}

func sgemm1x4FMA(kc int, a *float32, b *float32, c *float32) {
	panic("infer: no FMA kernel on this architecture")
}

func sgemm8x8FMA(kc int, a *float32, lda int, b *float32, bstride int, c *float32, ldc int) {
	panic("infer: no FMA kernel on this architecture")
}
