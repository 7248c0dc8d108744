package face

import (
	"fmt"
	"math"
)

// Mining chooses the negatives (and positives) of each triplet in a batch.
type Mining int

const (
	// BatchHard: for every anchor, its farthest positive and nearest
	// negative in the batch (Hermans et al. 2017). One triplet per anchor.
	BatchHard Mining = iota
	// SemiHard: for every anchor-positive pair, the nearest negative that
	// is still farther than the positive; when none is, the farthest
	// negative (Schroff et al. 2015, as TensorFlow's triplet_semihard_loss).
	SemiHard
)

func (m Mining) String() string {
	switch m {
	case BatchHard:
		return "batch-hard"
	case SemiHard:
		return "semi-hard"
	}
	return fmt.Sprintf("Mining(%d)", int(m))
}

// TripletLoss is the mean over the mined triplets of
// max(0, D(a,p) - D(a,n) + margin), where D is the squared Euclidean
// distance between L2-normalised rows: z = y/|y|, D = |za - zb|² = 2 - 2 za·zb
// (twice the cosine distance). y holds one raw (unnormalised) output per
// row; labels the identity of each row. It returns the loss, the gradient
// of the loss with respect to y (the normalisation included: dz/dy =
// (I - z zᵀ)/|y|) in grad (same shape as y, overwritten; nil to skip),
// and the number of triplets with a positive loss. The mined indices are
// treated as constants, as in every implementation of these losses.
func TripletLoss(y [][]float64, labels []int, margin float64, mining Mining, grad [][]float64) (loss float64, active int) {
	n := len(y)
	z := make([][]float64, n)
	norms := make([]float64, n)
	for i, r := range y {
		var s float64
		for _, v := range r {
			s += v * v
		}
		norms[i] = math.Sqrt(s)
		z[i] = make([]float64, len(r))
		if norms[i] > 0 {
			for k, v := range r {
				z[i][k] = v / norms[i]
			}
		}
	}
	D := make([][]float64, n)
	for i := range n {
		D[i] = make([]float64, n)
	}
	for i := range n {
		for j := i + 1; j < n; j++ {
			var s float64
			for k := range z[i] {
				d := z[i][k] - z[j][k]
				s += d * d
			}
			D[i][j], D[j][i] = s, s
		}
	}
	gz := make([][]float64, n)
	for i := range n {
		gz[i] = make([]float64, len(y[i]))
	}
	var count int
	add := func(a, p, ng int) {
		count++
		l := D[a][p] - D[a][ng] + margin
		if l <= 0 {
			return
		}
		loss += l
		active++
		// dD(a,b)/dza = 2(za - zb), dD(a,b)/dzb = -2(za - zb).
		for k := range z[a] {
			gp := 2 * (z[a][k] - z[p][k])
			gn := 2 * (z[a][k] - z[ng][k])
			gz[a][k] += gp - gn
			gz[p][k] -= gp
			gz[ng][k] += gn
		}
	}
	for a := range n {
		switch mining {
		case BatchHard:
			p, ng := -1, -1
			for j := range n {
				if j == a {
					continue
				}
				if labels[j] == labels[a] {
					if p < 0 || D[a][j] > D[a][p] {
						p = j
					}
				} else if ng < 0 || D[a][j] < D[a][ng] {
					ng = j
				}
			}
			if p >= 0 && ng >= 0 {
				add(a, p, ng)
			}
		case SemiHard:
			for p := range n {
				if p == a || labels[p] != labels[a] {
					continue
				}
				semi, far := -1, -1
				for j := range n {
					if labels[j] == labels[a] {
						continue
					}
					if D[a][j] > D[a][p] && (semi < 0 || D[a][j] < D[a][semi]) {
						semi = j
					}
					if far < 0 || D[a][j] > D[a][far] {
						far = j
					}
				}
				if semi < 0 {
					semi = far
				}
				if semi >= 0 {
					add(a, p, semi)
				}
			}
		}
	}
	if count == 0 {
		for i := range grad {
			clear(grad[i])
		}
		return 0, 0
	}
	inv := 1 / float64(count)
	loss *= inv
	for i := range grad {
		g := grad[i]
		if norms[i] == 0 {
			clear(g)
			continue
		}
		var zg float64
		for k := range gz[i] {
			gz[i][k] *= inv
			zg += z[i][k] * gz[i][k]
		}
		for k := range g {
			g[k] = (gz[i][k] - z[i][k]*zg) / norms[i]
		}
	}
	return loss, active
}
