package infer

import (
	"fmt"
	"math"
)

// quantizeInto writes round(x/scale)+zp clamped to int8.
func quantizeInto(dst []int8, src []float32, scale float32, zp int32) {
	inv := 1 / float64(scale)
	dst = dst[:len(src)]
	for i, x := range src {
		v := math.Round(float64(x)*inv) + float64(zp)
		dst[i] = int8(min(max(v, -128), 127))
	}
}

// dequantizeInto writes (q-zp)*scale.
func dequantizeInto(dst []float32, src []int8, scale float32, zp int32) {
	dst = dst[:len(src)]
	for i, q := range src {
		dst[i] = float32(int32(q)-zp) * scale
	}
}

func (m *Model) assignQuant() error { return fmt.Errorf("infer: int8 executor not ready") }

func (m *Model) compileInt8(n *Node) (layer, error) { return nil, nodeErr(n, "no int8 implementation") }
