package face

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/infer"
)

// gap is the smallest impostor distance minus the largest genuine one:
// positive when a threshold separates every pair, larger is safer.
func gap(emb [][]float32, labels []string) float64 {
	maxG, minI := spread(emb, labels)
	return minI - maxG
}

// spread is the largest genuine and the smallest impostor distance.
func spread(emb [][]float32, labels []string) (maxG, minI float64) {
	maxG, minI = 0.0, 2.0
	for i := range emb {
		for j := i + 1; j < len(emb); j++ {
			d := float64(Distance(emb[i], emb[j]))
			if labels[i] == labels[j] {
				maxG = max(maxG, d)
			} else {
				minI = min(minI, d)
			}
		}
	}
	return maxG, minI
}

// errorsAt counts the pairs misjudged at threshold.
func errorsAt(emb [][]float32, labels []string, th float32) (falseAccepts, falseRejects int) {
	for i := range emb {
		for j := i + 1; j < len(emb); j++ {
			d := Distance(emb[i], emb[j])
			switch {
			case labels[i] == labels[j] && d > th:
				falseRejects++
			case labels[i] != labels[j] && d <= th:
				falseAccepts++
			}
		}
	}
	return falseAccepts, falseRejects
}

func project(h *Head, emb [][]float32) [][]float32 {
	out := make([][]float32, len(emb))
	for i, v := range emb {
		out[i] = h.Forward(v, nil)
		Normalize(out[i])
	}
	return out
}

// TestAdaptJohns enrols the first 4 chips (by file name) of two johns
// identities, adapts a head on them with augmentation, and measures
// verification on the held-out chips before and after: on the enrolled
// identities' other photographs, and with the third identity (never
// enrolled) mixed in.
func TestAdaptJohns(t *testing.T) {
	set := loadJohns(t)
	// int8, as on the device (and 2.5x faster than float here).
	e, err := NewGraphEmbedder("face-api-resnet128", embeddedInt8(t), infer.Options{Precision: infer.Int8, Threads: 2})
	require.NoError(t, err)
	defer e.Close()
	g, err := OpenGallery(t.TempDir())
	require.NoError(t, err)
	g.sync = false
	enrolled := map[string]int{}
	var heldSeen, heldAll []labelled
	for _, s := range set {
		if s.label == "John_Schneider" {
			heldAll = append(heldAll, s)
			continue
		}
		if enrolled[s.label] < 4 {
			v := make([]float32, e.Dim())
			require.NoError(t, e.Embed(s.img, v))
			chip, err := EncodeChip(s.img)
			require.NoError(t, err)
			_, err = g.Enroll(s.label, e.Name(), NewSample{Embedding: v, Chip: chip, Source: s.file})
			require.NoError(t, err)
			enrolled[s.label]++
			continue
		}
		heldSeen = append(heldSeen, s)
		heldAll = append(heldAll, s)
	}
	// A harder held-out set, as a camera far away in poor light would see
	// the same people: each held-out chip degraded once (strong geometric
	// and photometric changes, then down to 36 px and back up).
	rng := rand.New(rand.NewPCG(5, 6))
	hard := Augmentation{Flip: true, Shift: 0.08, Rotate: 15 * math.Pi / 180, Scale: 0.12, Brightness: 50, Contrast: 0.5}
	var hardAll []labelled
	for _, s := range heldAll {
		d := Augment(s.img, hard, rng)
		small, _, err := CropBox(d, 0, 0, float32(d.W), float32(d.H), 0, 36)
		require.NoError(t, err)
		d, _, err = CropBox(small, 0, 0, 36, 36, 0, d.W)
		require.NoError(t, err)
		hardAll = append(hardAll, labelled{d, s.label, s.file})
	}
	hardEmb, hardLab, hardKeys := embedAll(t, e, hardAll)
	beforeHard := Evaluate(hardEmb, hardLab, hardKeys, DefaultThreshold)
	t.Logf("before: degraded held-out with unseen (%d chips): EER %.4f TAR@FAR1%% %.4f AUC %.4f acc %.4f", len(hardAll), beforeHard.EER, beforeHard.TAR1e2, beforeHard.AUC, beforeHard.Accuracy)
	seenEmb, seenLab, seenKeys := embedAll(t, e, heldSeen)
	allEmb, allLab, allKeys := embedAll(t, e, heldAll)
	beforeSeen := Evaluate(seenEmb, seenLab, seenKeys, DefaultThreshold)
	beforeAll := Evaluate(allEmb, allLab, allKeys, DefaultThreshold)
	t.Logf("before: seen held-out (%d chips): EER %.4f TAR@FAR1%% %.4f AUC %.4f gap %.4f acc %.4f; with unseen identity (%d chips): EER %.4f TAR@FAR1%% %.4f AUC %.4f gap %.4f acc %.4f",
		len(heldSeen), beforeSeen.EER, beforeSeen.TAR1e2, beforeSeen.AUC, gap(seenEmb, seenLab), beforeSeen.Accuracy, len(heldAll), beforeAll.EER, beforeAll.TAR1e2, beforeAll.AUC, gap(allEmb, allLab), beforeAll.Accuracy)

	x, labels, err := AdaptExamples(g.Snapshot(), e, AdaptConfig{Train: TrainConfig{Seed: 1}})
	require.NoError(t, err)
	require.Len(t, x, 8*9, "4 chips of 2 identities, each with 8 augmented copies")
	for _, margin := range []float64{0.2, DefaultMargin} {
		for _, kind := range []string{HeadLinear, HeadMLP} {
			for _, mining := range []Mining{BatchHard, SemiHard} {
				h, res, err := TrainHead(x, labels, TrainConfig{Kind: kind, Mining: mining, Margin: margin, Seed: 1})
				require.NoError(t, err)
				ps, pa := project(h, seenEmb), project(h, allEmb)
				afterSeen := Evaluate(ps, seenLab, seenKeys, h.Threshold)
				afterAll := Evaluate(pa, allLab, allKeys, h.Threshold)
				t.Logf("after %s/%s margin %.1f (loss %.4f -> %.4f, threshold %.4f): seen: EER %.4f TAR@FAR1%% %.4f AUC %.4f gap %.4f acc %.4f; with unseen: EER %.4f TAR@FAR1%% %.4f AUC %.4f gap %.4f acc %.4f",
					kind, mining, margin, res.FirstLoss, res.LastLoss, h.Threshold, afterSeen.EER, afterSeen.TAR1e2, afterSeen.AUC, gap(ps, seenLab), afterSeen.Accuracy, afterAll.EER, afterAll.TAR1e2, afterAll.AUC, gap(pa, allLab), afterAll.Accuracy)
				ah := Evaluate(project(h, hardEmb), hardLab, hardKeys, h.Threshold)
				fa, fr := errorsAt(project(h, hardEmb), hardLab, h.Threshold)
				t.Logf("  degraded held-out with unseen: EER %.4f TAR@FAR1%% %.4f AUC %.4f acc %.4f (%d false accepts, %d false rejects)", ah.EER, ah.TAR1e2, ah.AUC, ah.Accuracy, fa, fr)
				g1, i1 := spread(pa, allLab)
				t.Logf("  held-out with unseen: genuine max %.4f, impostor min %.4f", g1, i1)
				assert.GreaterOrEqual(t, afterSeen.Accuracy, beforeSeen.Accuracy-1e-9, "%s/%s: accuracy at the head's threshold", kind, mining)
				assert.GreaterOrEqual(t, afterAll.Accuracy, beforeAll.Accuracy-0.02, "%s/%s: accuracy with a never-enrolled identity at the head's threshold", kind, mining)
				assert.LessOrEqual(t, afterSeen.EER, beforeSeen.EER+1e-9, "%s/%s: adaptation must not raise the EER on the enrolled identities", kind, mining)
				assert.GreaterOrEqual(t, afterSeen.TAR1e2, beforeSeen.TAR1e2-1e-9, "%s/%s", kind, mining)
				assert.LessOrEqual(t, res.LastLoss, res.FirstLoss)
			}
		}
	}

	// The head is stored with the gallery and used for matching.
	h, _, err := Adapt(g.Snapshot(), e, AdaptConfig{Train: TrainConfig{Seed: 2}, Augment: -1})
	require.NoError(t, err)
	require.NoError(t, g.SetHead(h))
	g2, err := OpenGallery(g.Dir())
	require.NoError(t, err)
	require.NotNil(t, g2.Snapshot().Head)
	m := NewMatcher(g2.Snapshot(), g2.Snapshot().Threshold(), AggMin)
	for i, s := range heldSeen {
		got := m.Match(seenEmb[i])
		assert.Equal(t, s.label, got.Name, s.file)
	}
}

func TestAdaptRefusesSmallGallery(t *testing.T) {
	g, err := OpenGallery(t.TempDir())
	require.NoError(t, err)
	_, err = g.Enroll("a", "m", NewSample{Embedding: vec(1, 8)}, NewSample{Embedding: vec(2, 8)})
	require.NoError(t, err)
	_, _, err = Adapt(g.Snapshot(), nil, AdaptConfig{})
	require.ErrorIs(t, err, ErrTooFewExamples)
	assert.ErrorContains(t, err, "1 identity")
	_, err = g.Enroll("b", "m", NewSample{Embedding: vec(3, 8)})
	require.NoError(t, err)
	_, _, err = Adapt(g.Snapshot(), nil, AdaptConfig{})
	require.ErrorIs(t, err, ErrTooFewExamples)
	assert.ErrorContains(t, err, `"b" has 1`)
	_, err = g.Enroll("b", "m", NewSample{Embedding: vec(4, 8)})
	require.NoError(t, err)
	h, _, err := Adapt(g.Snapshot(), nil, AdaptConfig{Train: TrainConfig{Steps: 5}})
	require.NoError(t, err)
	require.NoError(t, g.SetHead(h))
}
