package face

import (
	"math"
	"slices"
)

// Normalize scales v to unit L2 norm in place. It returns false (leaving v
// unchanged) when v is zero or not finite.
func Normalize(v []float32) bool {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if !(s > 0) || math.IsInf(s, 0) {
		return false
	}
	inv := 1 / math.Sqrt(s)
	for i := range v {
		v[i] = float32(float64(v[i]) * inv)
	}
	return true
}

// Distance is the cosine distance 1 - a·b of two L2-normalised vectors:
// 0 for the same direction, 1 orthogonal, 2 opposite. (For unit vectors
// it equals half the squared Euclidean distance.)
func Distance(a, b []float32) float32 {
	var d float32
	for i := range a {
		d += a[i] * b[i]
	}
	return 1 - d
}

// Aggregate says how an identity's samples combine into one distance.
type Aggregate int

const (
	// AggMin takes the nearest sample (nearest neighbour).
	AggMin Aggregate = iota
	// AggTrimmedMean averages the distances after dropping the farthest
	// quarter (at least one when there are 3 or more samples), so a single
	// bad enrolment photo neither helps nor hurts much.
	AggTrimmedMean
)

// DefaultThreshold is the cosine distance at or below which a face is
// taken to be an enrolled identity, for the face-api ResNet. face-api's
// customary threshold is a Euclidean 0.6 between raw descriptors, whose
// norm is about 1.45 (dlib's training does not normalise), i.e. a cosine
// distance of about 0.6²/(2·1.45²) = 0.085. On ../shared/testdata/johns
// genuine pairs reach 0.037 and impostor pairs start at 0.109; 0.08 sits
// between, close to face-api's own operating point. Other embedders need
// their own threshold (TestJohnsChips prints the EER threshold).
var DefaultThreshold float32 = 0.08

// Threshold is the threshold to match against s with: its head's when it
// has one (distances after projection are on the head's own scale), else
// DefaultThreshold.
func (s *Snapshot) Threshold() float32 {
	if s.Head != nil && s.Head.Threshold > 0 {
		return s.Head.Threshold
	}
	return DefaultThreshold
}

// Match is the result of matching one embedding.
type Match struct {
	Name     string  // identity, or Unknown
	Distance float32 // to the best identity (even when Unknown)
	Nearest  string  // the best identity, even when Distance is over the threshold
}

// Matcher matches embeddings against one gallery snapshot. It is
// immutable and safe for concurrent use.
type Matcher struct {
	Threshold float32
	Aggregate Aggregate
	names     []string
	samples   [][][]float32 // per identity, per sample, projected and normalised
	head      *Head
}

// NewMatcher prepares a matcher over snap, projecting the stored
// embeddings through the snapshot's head when it has one.
func NewMatcher(snap *Snapshot, threshold float32, agg Aggregate) *Matcher {
	m := &Matcher{Threshold: threshold, Aggregate: agg, head: snap.Head}
	for _, id := range snap.Identities {
		var ss [][]float32
		for _, s := range id.Samples {
			ss = append(ss, m.Project(s.Embedding))
		}
		m.names = append(m.names, id.Name)
		m.samples = append(m.samples, ss)
	}
	return m
}

// Project maps an embedding into matching space: through the head when
// there is one, then L2-normalised. It returns a new slice.
func (m *Matcher) Project(e []float32) []float32 {
	var out []float32
	if m.head != nil {
		out = m.head.Forward(e, nil)
	} else {
		out = slices.Clone(e)
	}
	Normalize(out)
	return out
}

// Match finds the nearest identity for an (unprojected) embedding.
func (m *Matcher) Match(e []float32) Match {
	p := m.Project(e)
	best := Match{Name: Unknown, Distance: float32(math.Inf(1))}
	var ds []float32
	for i, ss := range m.samples {
		ds = ds[:0]
		for _, s := range ss {
			ds = append(ds, Distance(p, s))
		}
		d := aggregate(ds, m.Aggregate)
		if d < best.Distance {
			best.Distance, best.Nearest = d, m.names[i]
		}
	}
	if best.Nearest != "" && best.Distance <= m.Threshold {
		best.Name = best.Nearest
	}
	return best
}

func aggregate(ds []float32, agg Aggregate) float32 {
	if len(ds) == 0 {
		return float32(math.Inf(1))
	}
	if agg != AggTrimmedMean {
		return slices.Min(ds)
	}
	slices.Sort(ds)
	keep := len(ds)
	if keep >= 3 {
		keep -= max(1, keep/4)
	}
	var s float32
	for _, d := range ds[:keep] {
		s += d
	}
	return s / float32(keep)
}

// Vote confirms an identity over a track's recent frames: it returns the
// name that appears at least n times among the last m entries of recent
// (oldest first) and true, or "" and false. Unknown never wins.
func Vote(recent []string, n, m int) (string, bool) {
	if n <= 0 || m <= 0 {
		return "", false
	}
	if len(recent) > m {
		recent = recent[len(recent)-m:]
	}
	counts := map[string]int{}
	best, bestN := "", 0
	// Walk newest first so a tie goes to the most recent name.
	for i := len(recent) - 1; i >= 0; i-- {
		name := recent[i]
		if name == Unknown || name == "" {
			continue
		}
		counts[name]++
		if counts[name] > bestN {
			best, bestN = name, counts[name]
		}
	}
	if bestN >= n {
		return best, true
	}
	return "", false
}
