package neon

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLookupInt8(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	var lut [256]int8
	for i := range lut {
		lut[i] = int8(r.IntN(256) - 128)
	}
	for _, name := range Impls() {
		t.Run(name, func(t *testing.T) {
			defer SetImpl(name)()
			for _, n := range []int{0, 1, 15, 63, 64, 65, 127, 128, 129, 200, 256, 1000} {
				for _, off := range []int{0, 1, 33} {
					src := make([]int8, n+off)
					for i := range src {
						src[i] = int8(r.IntN(256) - 128)
					}
					if n >= 4 {
						src[off], src[off+1], src[off+2], src[off+3] = -128, 127, 0, -1
					}
					dst := make([]int8, n+off+8)
					for i := range dst {
						dst[i] = 42
					}
					want := append([]int8(nil), dst...)
					for i := range n {
						want[off+i] = lut[uint8(src[off+i])]
					}
					LookupInt8(dst[off:off+n], src[off:off+n], &lut)
					require.Equal(t, want, dst, "n=%d off=%d", n, off)
				}
			}
			a, b := make([]int8, 4096), make([]int8, 4096)
			require.Zero(t, testing.AllocsPerRun(10, func() { LookupInt8(a, b, &lut) }))
		})
	}
}
