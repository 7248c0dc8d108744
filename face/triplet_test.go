package face

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func randRows(rng *rand.Rand, n, d int) [][]float64 {
	y := make([][]float64, n)
	for i := range y {
		y[i] = make([]float64, d)
		for k := range y[i] {
			y[i][k] = rng.NormFloat64()
		}
	}
	return y
}

func zeros(n, d int) [][]float64 {
	g := make([][]float64, n)
	for i := range g {
		g[i] = make([]float64, d)
	}
	return g
}

// The analytic gradient (normalisation included) matches central finite
// differences on the raw outputs, for both minings.
func TestTripletLossGradientFiniteDifferences(t *testing.T) {
	for _, mining := range []Mining{BatchHard, SemiHard} {
		t.Run(mining.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, uint64(mining)))
			const n, d = 9, 5
			labels := []int{0, 0, 0, 1, 1, 1, 2, 2, 2}
			y := randRows(rng, n, d)
			// Scale rows differently so the normalisation matters.
			for i := range y {
				for k := range y[i] {
					y[i][k] *= 0.5 + float64(i)
				}
			}
			g := zeros(n, d)
			loss, active := TripletLoss(y, labels, 1.0, mining, g)
			require.Greater(t, active, 0, "margin large enough for active triplets")
			require.Greater(t, loss, 0.0)
			const h = 1e-6
			for i := range n {
				for k := range d {
					orig := y[i][k]
					y[i][k] = orig + h
					lp, _ := TripletLoss(y, labels, 1.0, mining, nil)
					y[i][k] = orig - h
					lm, _ := TripletLoss(y, labels, 1.0, mining, nil)
					y[i][k] = orig
					num := (lp - lm) / (2 * h)
					assert.InDelta(t, num, g[i][k], 1e-6+1e-4*math.Abs(num), "d loss / d y[%d][%d]", i, k)
				}
			}
		})
	}
}

func TestTripletLossScaleInvariantAndZeroWhenSeparated(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	y := randRows(rng, 6, 4)
	labels := []int{0, 0, 1, 1, 2, 2}
	l1, _ := TripletLoss(y, labels, 0.5, BatchHard, nil)
	for i := range y {
		for k := range y[i] {
			y[i][k] *= 3
		}
	}
	l2, _ := TripletLoss(y, labels, 0.5, BatchHard, nil)
	assert.InDelta(t, l1, l2, 1e-12)
	// Identities on orthogonal axes: D(a,p) = 0, D(a,n) = 2 > margin.
	sep := [][]float64{{1, 0, 0}, {2, 0, 0}, {0, 1, 0}, {0, 3, 0}, {0, 0, 1}, {0, 0, 1}}
	g := zeros(6, 3)
	l, active := TripletLoss(sep, labels, 0.5, SemiHard, g)
	assert.Zero(t, l)
	assert.Zero(t, active)
	for _, r := range g {
		for _, v := range r {
			assert.Zero(t, v)
		}
	}
}

// The head's parameter gradients (through the triplet loss, decay and, for
// the MLP, the ReLU) match finite differences.
func TestHeadGradientFiniteDifferences(t *testing.T) {
	for _, kind := range []string{HeadLinear, HeadMLP} {
		t.Run(kind, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, 9))
			const dim = 4
			p := identityParams(kind, dim, rng, 0.3)
			p0 := identityParams(kind, dim, rng, 0)
			x := randRows(rng, 8, dim)
			labels := []int{0, 0, 1, 1, 2, 2, 3, 3}
			cfg := TrainConfig{Margin: 1, Mining: BatchHard, Decay: 0.1}
			_, g := lossAndGrad(p, p0, x, labels, cfg)
			pv, gv := p.vecs(), g.vecs()
			const h = 1e-6
			for k := range pv {
				for i := range pv[k] {
					orig := pv[k][i]
					pv[k][i] = orig + h
					lp, _ := lossAndGrad(p, p0, x, labels, cfg)
					pv[k][i] = orig - h
					lm, _ := lossAndGrad(p, p0, x, labels, cfg)
					pv[k][i] = orig
					num := (lp - lm) / (2 * h)
					assert.InDelta(t, num, gv[k][i], 1e-6+1e-4*math.Abs(num), "param %d[%d]", k, i)
				}
			}
		})
	}
}

func TestIdentityHeadChangesNothing(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	for _, kind := range []string{HeadLinear, HeadMLP} {
		h := identityParams(kind, 6, rng, 0).head()
		require.NoError(t, h.validate())
		x := []float32{0.3, -1, 2, 0, -0.5, 0.25}
		assert.InDeltaSlice(t, x, h.Forward(x, nil), 1e-6)
	}
}

func TestTrainHeadRefusesTooFew(t *testing.T) {
	_, _, err := TrainHead([][]float32{{1, 0}, {0, 1}}, []int{0, 0}, TrainConfig{})
	assert.ErrorIs(t, err, ErrTooFewExamples)
	assert.ErrorContains(t, err, "at least 2 identities")
	_, _, err = TrainHead([][]float32{{1, 0}, {0, 1}, {1, 1}}, []int{0, 0, 1}, TrainConfig{})
	assert.ErrorIs(t, err, ErrTooFewExamples)
	assert.ErrorContains(t, err, "has 1")
}

// On synthetic clusters that overlap in the raw space but separate along
// a subspace, the trained head lowers the loss and improves verification.
func TestTrainHeadSeparatesClusters(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const dim, ids, per = 16, 4, 12
	centers := randRows(rng, ids, dim)
	var x [][]float32
	var labels []int
	for c := range ids {
		for range per {
			v := make([]float32, dim)
			for k := range v {
				noise := 1.5 * rng.NormFloat64()
				if k < 4 {
					noise *= 0.1 // informative dims are clean
				}
				v[k] = float32(centers[c][k]*0.3 + noise)
			}
			x = append(x, v)
			labels = append(labels, c)
		}
	}
	for _, kind := range []string{HeadLinear, HeadMLP} {
		for _, mining := range []Mining{BatchHard, SemiHard} {
			h, res, err := TrainHead(x, labels, TrainConfig{Kind: kind, Mining: mining, Steps: 200, LR: 3e-3, Seed: 1})
			require.NoError(t, err)
			assert.Less(t, res.LastLoss, res.FirstLoss*0.7, "%s %s: loss %.3f -> %.3f", kind, mining, res.FirstLoss, res.LastLoss)
			before := verifyAUC(x, labels, nil)
			after := verifyAUC(x, labels, h)
			assert.Greater(t, after, before, "%s %s: AUC %.3f -> %.3f", kind, mining, before, after)
		}
	}
}

func verifyAUC(x [][]float32, labels []int, h *Head) float64 {
	emb := make([][]float32, len(x))
	for i, v := range x {
		if h != nil {
			emb[i] = h.Forward(v, nil)
		} else {
			emb[i] = append([]float32(nil), v...)
		}
		Normalize(emb[i])
	}
	names := make([]string, len(labels))
	for i, l := range labels {
		names[i] = string(rune('a' + l))
	}
	return Verification(emb, names, DefaultThreshold).AUC
}
