package face

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func unit(v ...float32) []float32 {
	Normalize(v)
	return v
}

func TestNormalizeAndDistance(t *testing.T) {
	v := []float32{3, 4}
	require.True(t, Normalize(v))
	assert.InDeltaSlice(t, []float32{0.6, 0.8}, v, 1e-7)
	assert.False(t, Normalize([]float32{0, 0}))
	assert.False(t, Normalize([]float32{float32(math.NaN()), 1}))
	a, b := unit(1, 0), unit(0, 1)
	assert.InDelta(t, 0, Distance(a, a), 1e-7)
	assert.InDelta(t, 1, Distance(a, b), 1e-7)
	assert.InDelta(t, 2, Distance(a, unit(-1, 0)), 1e-7)
	// Half the squared Euclidean distance of unit vectors.
	c := unit(1, 2)
	var e float32
	for i := range a {
		e += (a[i] - c[i]) * (a[i] - c[i])
	}
	assert.InDelta(t, e/2, Distance(a, c), 1e-6)
}

func snapshotOf(ids map[string][][]float32) *Snapshot {
	s := &Snapshot{NextID: 1}
	for _, name := range []string{"alice", "bob", "carol"} {
		es, ok := ids[name]
		if !ok {
			continue
		}
		id := Identity{Name: name}
		for _, e := range es {
			id.Samples = append(id.Samples, Sample{ID: s.NextID, Embedding: e})
			s.NextID++
		}
		s.Identities = append(s.Identities, id)
		s.Dim = len(es[0])
	}
	return s
}

func TestMatcher(t *testing.T) {
	s := snapshotOf(map[string][][]float32{
		"alice": {unit(1, 0, 0), unit(1, 0.1, 0), unit(-1, 0, 0)}, // one bad sample
		"bob":   {unit(0, 1, 0)},
	})
	m := NewMatcher(s, 0.1, AggMin)
	got := m.Match(unit(1, 0.05, 0))
	assert.Equal(t, "alice", got.Name)
	assert.Less(t, got.Distance, float32(0.01))
	got = m.Match(unit(0, 0, 1))
	assert.Equal(t, Unknown, got.Name, "over the threshold")
	assert.InDelta(t, 1, got.Distance, 1e-6)
	assert.NotEmpty(t, got.Nearest)

	// Trimmed mean drops alice's farthest sample (3 samples: drop 1).
	tm := NewMatcher(s, 0.1, AggTrimmedMean)
	got = tm.Match(unit(1, 0.05, 0))
	assert.Equal(t, "alice", got.Name)
	assert.Less(t, got.Distance, float32(0.01))
	assert.Equal(t, float32(2), aggregate([]float32{2}, AggTrimmedMean))
	assert.InDelta(t, 1.5, aggregate([]float32{1, 2}, AggTrimmedMean), 1e-7)
	assert.InDelta(t, 2, aggregate([]float32{1, 2, 3, 100}, AggTrimmedMean), 1e-6)

	empty := NewMatcher(&Snapshot{}, 0.5, AggMin)
	assert.Equal(t, Unknown, empty.Match(unit(1, 0)).Name)

	// A head is applied to both sides.
	s.Head = &Head{Kind: HeadLinear, In: 3, Out: 3, W1: []float32{0, 1, 0, 1, 0, 0, 0, 0, 1}, B1: make([]float32, 3), Threshold: 0.05}
	hm := NewMatcher(s, s.Threshold(), AggMin)
	assert.Equal(t, float32(0.05), s.Threshold())
	assert.Equal(t, "bob", hm.Match(unit(0, 1, 0)).Name)
	assert.Equal(t, DefaultThreshold, (&Snapshot{}).Threshold())
}

func TestVote(t *testing.T) {
	for _, c := range []struct {
		recent []string
		n, m   int
		want   string
		ok     bool
	}{
		{[]string{"a", "a", "b"}, 2, 3, "a", true},
		{[]string{"a", "b", "c"}, 2, 3, "", false},
		{[]string{"a", "a", "b", "b", "b"}, 2, 3, "b", true},   // only the last 3 count
		{[]string{"a", "a", "b", "c", "c"}, 3, 3, "", false},   // "a" is outside the window
		{[]string{Unknown, Unknown, Unknown}, 2, 3, "", false}, // unknown never wins
		{[]string{"a", Unknown, "a", Unknown}, 2, 4, "a", true},
		{[]string{"a", "b", "a", "b"}, 2, 4, "b", true}, // tie: the most recent
		{nil, 1, 3, "", false},
		{[]string{"a"}, 0, 3, "", false},
	} {
		got, ok := Vote(c.recent, c.n, c.m)
		assert.Equal(t, c.ok, ok, "%v %d/%d", c.recent, c.n, c.m)
		assert.Equal(t, c.want, got, "%v %d/%d", c.recent, c.n, c.m)
	}
}

func TestVerificationMetrics(t *testing.T) {
	// Four 1-d "embeddings" on the unit circle at known angles: distances are 1-cos.
	at := func(deg float64) []float32 {
		r := deg * math.Pi / 180
		return []float32{float32(math.Cos(r)), float32(math.Sin(r))}
	}
	// Perfectly separable: two tight pairs far apart.
	emb := [][]float32{at(0), at(5), at(90), at(95)}
	labels := []string{"a", "a", "b", "b"}
	r := Verification(emb, labels, 0.1)
	assert.Equal(t, 2, r.Genuine)
	assert.Equal(t, 4, r.Impostor)
	assert.InDelta(t, 1, r.AUC, 1e-9)
	assert.InDelta(t, 0, r.EER, 1e-9)
	assert.InDelta(t, 1, r.TAR1e2, 1e-9)
	assert.InDelta(t, 1, r.Accuracy, 1e-9)

	// Genuine pair distances {g1 < g2}, impostors straddle them: AUC by hand.
	gen := []float64{0.1, 0.3}
	imp := []float64{0.05, 0.2, 0.4, 0.5}
	// 0.1 beats 3 impostors, 0.3 beats 2: (3+2)/8.
	assert.InDelta(t, 5.0/8, auc(gen, imp), 1e-12)
	// Ties count half.
	assert.InDelta(t, 0.5, auc([]float64{0.2}, []float64{0.2}), 1e-12)
	// TAR at FAR: with 4 impostors and FAR 0.25 one false accept is allowed
	// (accept d < 0.2): one of two genuine pairs.
	assert.InDelta(t, 0.5, tarAtFAR(gen, imp, 0.25), 1e-12)
	assert.InDelta(t, 0, tarAtFAR(gen, imp, 0.01), 1e-12)
	assert.InDelta(t, 1, tarAtFAR(gen, imp, 1), 1e-12)
	// EER: FAR and FRR cross between thresholds; the rate is within both's range.
	e, th := eer(gen, imp)
	assert.GreaterOrEqual(t, e, 0.25)
	assert.LessOrEqual(t, e, 0.5)
	assert.Greater(t, th, 0.0)
	// Fully inverted scores: EER 1, AUC 0.
	e, _ = eer([]float64{0.9}, []float64{0.1})
	assert.InDelta(t, 1, e, 1e-12)
	assert.InDelta(t, 0, auc([]float64{0.9}, []float64{0.1}), 1e-12)
}

func TestRankOne(t *testing.T) {
	at := func(x, y float32) []float32 { return unit(x, y) }
	emb := [][]float32{at(1, 0), at(1, 0.1), at(1, 0.2), at(0, 1), at(0.1, 1), at(1, 0.15)}
	labels := []string{"a", "a", "a", "b", "b", "b"} // the last "b" sits among the a's
	keys := []string{"1", "2", "3", "1", "2", "3"}
	// LOO: a@(1,0.1) and a@(1,0.2) have the stray b nearest, and the stray b
	// has a's nearest: 3 of 6 right.
	assert.InDelta(t, 3.0/6, RankOneLOO(emb, labels), 1e-9)
	// One-shot gallery: a@(1,0), b@(0,1); probes: a,a,b,b(at a's place).
	assert.InDelta(t, 3.0/4, RankOneOneShot(emb, labels, keys), 1e-9)
	r := Evaluate(emb, labels, keys, 0.1)
	assert.Equal(t, 2, r.Identities)
	assert.Equal(t, 6, r.Images)
}
