package neon

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMaxInt8(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, name := range Impls() {
		t.Run(name, func(t *testing.T) {
			defer SetImpl(name)()
			for n := 0; n <= 200; n++ {
				for _, off := range []int{0, 1, 7} {
					src := make([]int8, n+off)
					dst := make([]int8, n+off+8) // 8 canaries after the n outputs
					for i := range src {
						src[i] = int8(r.IntN(256) - 128)
					}
					for i := range dst {
						dst[i] = int8(r.IntN(256) - 128)
					}
					if n > 0 {
						src[off], dst[off+n-1] = -128, 127
					}
					want := append([]int8(nil), dst...)
					for i := range n {
						want[off+i] = max(dst[off+i], src[off+i])
					}
					MaxInt8(dst[off:off+n], src[off:off+n])
					require.Equal(t, want, dst, "n=%d off=%d", n, off)
				}
			}
			a, b := make([]int8, 4096), make([]int8, 4096)
			require.Zero(t, testing.AllocsPerRun(10, func() { MaxInt8(a, b) }))
		})
	}
}
