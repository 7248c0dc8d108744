package neon

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRequantizeHandValues(t *testing.T) {
	cases := []struct {
		acc, mult, shift, want int32
	}{
		{100, 1 << 30, 0, 50},   // 50 exactly
		{101, 1 << 30, 0, 51},   // 50.5 rounds up
		{-101, 1 << 30, 0, -50}, // -50.5 rounds up (towards +inf)
		{1000, 1 << 30, 3, 63},  // 62.5 -> 63
		{-1000, 1 << 30, 3, -62},
		{-1001, 1 << 30, 3, -62},          // -62.5625, but rounded twice: -500.5 -> -500 -> -62
		{7, 1518500250, 0, 5},             // 7/sqrt(2) = 4.95
		{3, 1 << 30, -2, 6},               // 3*4*0.5
		{1 << 30, 1 << 30, -2, 1 << 30},   // 2^32 saturates to 2^31-1 before the multiply
		{-1 << 30, 1 << 30, -2, -1 << 30}, // -2^32 saturates to -2^31
		{math.MinInt32, math.MaxInt32, 0, -2147483647},
		{math.MaxInt32, math.MaxInt32, 0, 2147483646},
		{math.MaxInt32, math.MaxInt32, 31, 1},
		{12345, 0, 0, 0},
		{0, 1 << 30, 5, 0},
		{-1, 1 << 30, 31, 0},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, Requantize(c.acc, c.mult, c.shift), "Requantize(%d, %d, %d)", c.acc, c.mult, c.shift)
	}
}

func TestQuantizeMultiplier(t *testing.T) {
	cases := []struct {
		real        float64
		mult, shift int32
	}{
		{0.5, 1 << 30, 0},
		{1, 1 << 30, -1},
		{0.25, 1 << 30, 1},
		{0.75, 3 << 29, 0},
		{1 - 1e-12, 1 << 30, -1}, // rounds up to 2^31: renormalized
		{0, 0, 0},
		{-1, 0, 0},
		{math.NaN(), 0, 0},
		{1e-12, 0, 0},
		{1e12, math.MaxInt32, -31},
	}
	for _, c := range cases {
		m, s := QuantizeMultiplier(c.real)
		assert.Equal(t, [2]int32{c.mult, c.shift}, [2]int32{m, s}, "QuantizeMultiplier(%g)", c.real)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 10000; i++ {
		real := math.Exp2(r.Float64()*60 - 31)
		m, s := QuantizeMultiplier(real)
		require.GreaterOrEqual(t, m, int32(1<<30), "real %g", real)
		require.GreaterOrEqual(t, s, int32(-31))
		require.LessOrEqual(t, s, int32(31))
		got := float64(m) * math.Exp2(float64(-31-s))
		assert.InEpsilon(t, real, got, 1.0/(1<<30), "real %g -> (%d, %d)", real, m, s)
	}
}

// TestRequantizeAgainstFloat checks the integer path against exact
// arithmetic: off by at most 1 from round(acc*real).
func TestRequantizeAgainstFloat(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 200000; i++ {
		real := math.Exp2(r.Float64()*34 - 30) // 2^-30 .. 2^4
		m, s := QuantizeMultiplier(real)
		require.NotZero(t, m)
		acc := int32(r.Uint32())
		if i%2 == 0 {
			acc >>= r.IntN(31)
		}
		if s < 0 && (int64(acc)<<-s > math.MaxInt32 || int64(acc)<<-s < math.MinInt32) {
			continue // saturates by design
		}
		// exact acc*m*2^(-31-s), rounded half up
		exact := new(big.Float).SetPrec(200).SetInt64(int64(acc))
		exact.Mul(exact, new(big.Float).SetInt64(int64(m)))
		exact.SetMantExp(exact, int(-31-s))
		exact.Add(exact, big.NewFloat(0.5))
		want, _ := exact.Float64()
		want = math.Floor(want)
		got := Requantize(acc, m, s)
		assert.InDelta(t, want, float64(got), 1, "Requantize(%d, %d, %d) real %g", acc, m, s, real)
		assert.InDelta(t, math.Round(float64(acc)*real), float64(got), 1.0000001+math.Abs(float64(acc)*real)/(1<<30),
			"acc %d * real %g", acc, real)
	}
}
