package face

import (
	"math"
	"slices"
	"sort"
)

// Report is the result of `vigil eval faces`. The JSON field names are a
// contract with scripts and must not change.
type Report struct {
	Identities int     `json:"identities"`
	Images     int     `json:"images"`  // images embedded
	NoFace     int     `json:"no_face"` // images where no face was found
	AUC        float64 `json:"auc"`
	EER        float64 `json:"eer"`
	TAR1e2     float64 `json:"tar_far_1e-2"`
	TAR1e3     float64 `json:"tar_far_1e-3"`
	Rank1LOO   float64 `json:"rank1_loo"`
	Rank1One   float64 `json:"rank1_oneshot"`
	Threshold  float64 `json:"threshold"`
	Accuracy   float64 `json:"accuracy_at_threshold"`

	Genuine, Impostor int     `json:"-"` // pair counts
	EERThreshold      float64 `json:"-"`
}

// Evaluate computes every figure of Report for L2-normalised embeddings
// with identity labels; keys (e.g. file names) order each identity's
// images for the one-shot gallery (the first key of each identity).
func Evaluate(emb [][]float32, labels, keys []string, threshold float32) Report {
	r := Verification(emb, labels, threshold)
	r.Images = len(emb)
	seen := map[string]bool{}
	for _, l := range labels {
		seen[l] = true
	}
	r.Identities = len(seen)
	r.Rank1LOO = RankOneLOO(emb, labels)
	r.Rank1One = RankOneOneShot(emb, labels, keys)
	return r
}

// Verification scores all pairs (i < j) by cosine distance: same-identity
// pairs are genuine, the rest impostors. It fills AUC (probability that a
// genuine pair is closer than an impostor pair, ties counting half), EER
// (where false accepts equal false rejects), TAR at FAR 1e-2 and 1e-3 (the
// largest threshold whose false-accept rate does not exceed the target;
// with fewer than 1/FAR impostor pairs this means no false accept at all),
// and the accuracy over all pairs at threshold (accept when d <= threshold).
func Verification(emb [][]float32, labels []string, threshold float32) Report {
	var gen, imp []float64
	for i := range emb {
		for j := i + 1; j < len(emb); j++ {
			d := float64(Distance(emb[i], emb[j]))
			if labels[i] == labels[j] {
				gen = append(gen, d)
			} else {
				imp = append(imp, d)
			}
		}
	}
	r := Report{Threshold: float64(threshold), Genuine: len(gen), Impostor: len(imp)}
	if len(gen) == 0 || len(imp) == 0 {
		return r
	}
	slices.Sort(gen)
	slices.Sort(imp)
	r.AUC = auc(gen, imp)
	r.EER, r.EERThreshold = eer(gen, imp)
	r.TAR1e2 = tarAtFAR(gen, imp, 1e-2)
	r.TAR1e3 = tarAtFAR(gen, imp, 1e-3)
	t := float64(threshold)
	ok := sort.Search(len(gen), func(i int) bool { return gen[i] > t }) // genuine accepted
	ok += len(imp) - sort.Search(len(imp), func(i int) bool { return imp[i] > t })
	r.Accuracy = float64(ok) / float64(len(gen)+len(imp))
	return r
}

func auc(gen, imp []float64) float64 {
	// For each genuine distance: impostors strictly farther count 1, equal 1/2.
	var s float64
	for _, g := range gen {
		lo := sort.SearchFloat64s(imp, g)
		hi := sort.Search(len(imp), func(i int) bool { return imp[i] > g })
		s += float64(len(imp)-hi) + 0.5*float64(hi-lo)
	}
	return s / float64(len(gen)*len(imp))
}

// eer sweeps the threshold over every distance and returns the equal
// error rate, linearly interpolated where FAR and FRR cross.
func eer(gen, imp []float64) (rate, threshold float64) {
	ts := append(append([]float64{math.Inf(-1)}, gen...), imp...)
	slices.Sort(ts)
	ts = slices.Compact(ts)
	prevFAR, prevFRR, prevT := 0.0, 1.0, math.Inf(-1)
	for _, t := range ts {
		acceptG := sort.Search(len(gen), func(i int) bool { return gen[i] > t })
		acceptI := sort.Search(len(imp), func(i int) bool { return imp[i] > t })
		far := float64(acceptI) / float64(len(imp))
		frr := 1 - float64(acceptG)/float64(len(gen))
		if far >= frr {
			// Cross between prev (far < frr) and here: interpolate on the
			// difference far - frr going from negative to non-negative.
			d0, d1 := prevFAR-prevFRR, far-frr
			a := 0.0
			if d1 != d0 {
				a = -d0 / (d1 - d0)
			}
			rate = prevFAR + a*(far-prevFAR)
			if math.IsInf(prevT, -1) {
				return rate, t
			}
			return rate, prevT + a*(t-prevT)
		}
		prevFAR, prevFRR, prevT = far, frr, t
	}
	return 0, prevT
}

func tarAtFAR(gen, imp []float64, far float64) float64 {
	k := int(math.Floor(far * float64(len(imp)) * (1 + 1e-9))) // false accepts allowed
	if k >= len(imp) {
		return 1
	}
	// Accept d < imp[k]: exactly the k nearest impostors (fewer with ties) get in.
	limit := imp[k]
	return float64(sort.SearchFloat64s(gen, limit)) / float64(len(gen))
}

// RankOneLOO is leave-one-out rank-1 identification: each image whose
// identity has another image is a probe against all the other images;
// correct when its nearest neighbour has its identity.
func RankOneLOO(emb [][]float32, labels []string) float64 {
	count := map[string]int{}
	for _, l := range labels {
		count[l]++
	}
	var probes, hits int
	for i := range emb {
		if count[labels[i]] < 2 {
			continue
		}
		best, bd := -1, float32(math.Inf(1))
		for j := range emb {
			if j == i {
				continue
			}
			if d := Distance(emb[i], emb[j]); d < bd {
				best, bd = j, d
			}
		}
		probes++
		if best >= 0 && labels[best] == labels[i] {
			hits++
		}
	}
	if probes == 0 {
		return 0
	}
	return float64(hits) / float64(probes)
}

// RankOneOneShot enrols each identity's first image (by key) as its only
// gallery sample and identifies every other image against that gallery.
func RankOneOneShot(emb [][]float32, labels, keys []string) float64 {
	first := map[string]int{}
	for i, l := range labels {
		if j, ok := first[l]; !ok || keys[i] < keys[j] {
			first[l] = i
		}
	}
	gallery := make([]int, 0, len(first))
	for _, i := range first {
		gallery = append(gallery, i)
	}
	slices.Sort(gallery)
	var probes, hits int
	for i := range emb {
		if first[labels[i]] == i {
			continue
		}
		best, bd := -1, float32(math.Inf(1))
		for _, j := range gallery {
			if d := Distance(emb[i], emb[j]); d < bd {
				best, bd = j, d
			}
		}
		probes++
		if best >= 0 && labels[best] == labels[i] {
			hits++
		}
	}
	if probes == 0 {
		return 0
	}
	return float64(hits) / float64(probes)
}
