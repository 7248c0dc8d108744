package quant

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParamsForRepresentsZero(t *testing.T) {
	for _, r := range [][2]float32{{-1, 1}, {0, 6}, {0.5, 3}, {-7, -2}, {-0.3, 11}, {0, 0}, {-1e-12, 1e-12}} {
		p := ParamsFor(r[0], r[1])
		require.Greater(t, p.Scale, float32(0), "%v", r)
		assert.Equal(t, float32(0), p.Dequantize(int8(p.ZeroPoint)), "%v: zero must be exact", r)
		assert.LessOrEqual(t, p.Min(), min(r[0], 0)+p.Scale, "%v", r)
		assert.GreaterOrEqual(t, p.Max(), max(r[1], 0)-p.Scale, "%v", r)
		// Round trip within half a step inside the range.
		for i := range 101 {
			x := min(r[0], 0) + (max(r[1], 0)-min(r[0], 0))*float32(i)/100
			if x < p.Min() || x > p.Max() {
				continue
			}
			assert.InDelta(t, x, p.Dequantize(p.Quantize(x)), float64(p.Scale)/2*1.001, "%v at %v", r, x)
		}
	}
	p := ParamsFor(0, 6)
	assert.Equal(t, int32(-128), p.ZeroPoint, "ReLU outputs use every level")
	assert.Equal(t, int8(127), p.Quantize(100), "saturates")
	assert.Equal(t, int8(-128), p.Quantize(-100), "saturates")
}

func TestQuantizeWeights(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	w := make([]float32, 4*50)
	for i := range w {
		w[i] = float32(r.NormFloat64()) * float32(1+i/50)
	}
	clear(w[150:]) // an all-zero channel
	q, s, err := QuantizeWeights(w, 4)
	require.NoError(t, err)
	require.Len(t, s, 4)
	for c := range 4 {
		hit := false
		for i := c * 50; i < (c+1)*50; i++ {
			assert.NotEqual(t, int8(-128), q[i])
			assert.InDelta(t, w[i], float32(q[i])*s[c], float64(s[c])/2*1.001)
			hit = hit || q[i] == 127 || q[i] == -127
		}
		if c < 3 {
			assert.True(t, hit, "channel %d uses the full range", c)
		}
	}
	assert.Equal(t, float32(1), s[3])
	_, _, err = QuantizeWeights(w[:7], 4)
	assert.Error(t, err)
	w[3] = float32(math.NaN())
	_, _, err = QuantizeWeights(w, 4)
	assert.ErrorContains(t, err, "output channel 0")
}

func TestSQNRAndCosine(t *testing.T) {
	ref := []float32{1, -1, 1, -1}
	got := []float32{1.1, -0.9, 1.1, -0.9}
	assert.InDelta(t, 20.0, SQNR(ref, got), 1e-4) // signal 4, noise 0.04
	assert.True(t, math.IsInf(SQNR(ref, ref), 1))
	assert.InDelta(t, 1.0, Cosine(ref, ref), 1e-12)
	assert.InDelta(t, -1.0, Cosine(ref, []float32{-1, 1, -1, 1}), 1e-12)
	assert.Zero(t, Cosine(ref, make([]float32, 4)))
	assert.InDelta(t, 0.1, MaxAbsDiff(ref, got), 1e-6)
}

func gaussWithOutliers(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	x[0], x[1] = 40, -35
	return x
}

func TestObservers(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var batches [][]float32
	for i := range 10 {
		b := gaussWithOutliers(r, 20000)
		if i > 0 {
			b[0], b[1] = float32(r.NormFloat64()), float32(r.NormFloat64())
		}
		batches = append(batches, b)
	}
	// A later batch with a larger value makes the histogram grow.
	batches = append(batches, []float32{90})
	ranges := map[string][2]float32{}
	for _, m := range Methods {
		o, err := NewObserver(m)
		require.NoError(t, err)
		lo, hi := o.Range()
		assert.Equal(t, [2]float32{0, 0}, [2]float32{lo, hi}, "%s before data", m)
		for _, b := range batches {
			o.Observe(b)
		}
		lo, hi = o.Range()
		ranges[m] = [2]float32{lo, hi}
		t.Logf("%-10s [%.3f, %.3f]", m, lo, hi)
		assert.LessOrEqual(t, lo, float32(0))
		assert.GreaterOrEqual(t, hi, float32(0))
	}
	assert.Equal(t, [2]float32{-35, 90}, ranges["minmax"])
	// 99.99% of a unit normal lies within about 3.9; outliers are clipped.
	assert.InDelta(t, 3.9, ranges["percentile"][1], 0.6)
	assert.InDelta(t, -3.9, ranges["percentile"][0], 0.6)
	// Entropy clips far harder than min/max but keeps the bulk.
	assert.Less(t, ranges["entropy"][1], float32(20))
	assert.Greater(t, ranges["entropy"][1], float32(2))

	_, err := NewObserver("median")
	assert.ErrorContains(t, err, "median")
}

func TestEntropyNonNegativeUsesAllLevels(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	x := make([]float32, 50000)
	for i := range x {
		x[i] = float32(r.ExpFloat64()) // ReLU-like: all >= 0, long tail
	}
	e := &Entropy{}
	e.Observe(x)
	lo, hi := e.Range()
	assert.Equal(t, float32(0), lo)
	assert.Greater(t, hi, float32(3))
	var mx float32
	for _, v := range x {
		mx = max(mx, v)
	}
	assert.Less(t, hi, mx)
}

func TestConstantTensor(t *testing.T) {
	for _, m := range Methods {
		o, _ := NewObserver(m)
		o.Observe(make([]float32, 100))
		lo, hi := o.Range()
		assert.Equal(t, [2]float32{0, 0}, [2]float32{lo, hi}, m)
		p := ParamsFor(lo, hi)
		assert.Greater(t, p.Scale, float32(0))
		assert.Equal(t, float32(0), p.Dequantize(p.Quantize(0)))
	}
}

func TestEntropyIgnoresTheReLUSpike(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	x := make([]float32, 60000)
	for i := range x {
		if i%2 == 0 {
			x[i] = float32(math.Abs(r.NormFloat64())) // half the values are exact zeros
		}
	}
	x[1] = 12 // one outlier stretches min/max
	e := &Entropy{}
	e.SetMaxAbs(12)
	e.Observe(x)
	lo, hi := e.Range()
	assert.Equal(t, float32(0), lo)
	assert.Greater(t, hi, float32(2.5), "the bulk of a half-normal is kept")
	assert.LessOrEqual(t, hi, float32(12))
}

func TestEntropyFewValuesKeepsMinMax(t *testing.T) {
	e := &Entropy{}
	e.Observe([]float32{-0.5, 0.1, 0.2, 3})
	lo, hi := e.Range()
	assert.Equal(t, [2]float32{-0.5, 3}, [2]float32{lo, hi})
}

// A long tail that carries signal: KL alone would clip it to a fraction of
// its range; the clipping-error guard keeps the threshold where clipping
// costs no more than min/max rounding.
func TestEntropyKeepsHeavyTails(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	x := make([]float32, 100000)
	for i := range x {
		v := r.NormFloat64() * 0.02
		if i%500 == 0 {
			v = r.NormFloat64() // 0.2% of the values, 50 times wider
		}
		x[i] = float32(v)
	}
	e := &Entropy{}
	var mm MinMax
	mm.Observe(x)
	lo, hi := mm.Range()
	e.SetMaxAbs(max(-lo, hi))
	e.Observe(x)
	elo, ehi := e.Range()
	t.Logf("min/max [%.3f, %.3f], entropy [%.3f, %.3f]", lo, hi, elo, ehi)
	// KL alone clips at about 0.48 here.
	assert.Greater(t, ehi, float32(1.2), "the wide component is not clipped away")
}
