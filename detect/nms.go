package detect

import (
	"cmp"
	"math"
	"slices"
)

// Overlap says how NMS measures the overlap of two boxes.
type Overlap uint8

const (
	OverlapIoU Overlap = iota // intersection over union
	OverlapMin                // intersection over the smaller box (MTCNN's last stage)
)

func (o Overlap) of(a, b Box) float32 {
	if o == OverlapMin {
		return IoM(a, b)
	}
	return IoU(a, b)
}

// NMSOptions configures greedy non-maximum suppression.
type NMSOptions struct {
	// Threshold: a box is dropped when it overlaps a kept box of the same
	// class by more than this (strictly greater).
	Threshold float32
	// TopK caps the number of boxes kept (over all classes); 0 keeps all.
	TopK int
	// Overlap is the measure, IoU by default.
	Overlap Overlap
}

// byScore returns the indices of scores sorted by descending score, ties by
// ascending index so the result is deterministic. NaN scores go last.
func byScore(scores []float32) []int {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		sa, sb := scores[a], scores[b]
		na, nb := math.IsNaN(float64(sa)), math.IsNaN(float64(sb))
		switch {
		case na != nb:
			if na {
				return 1
			}
			return -1
		case sa != sb && !na:
			if sa > sb {
				return -1
			}
			return 1
		}
		return cmp.Compare(a, b)
	})
	return idx
}

// NMS runs greedy non-maximum suppression over boxes with scores and returns
// the indices kept, by descending score. classes may be nil (one class);
// otherwise boxes only suppress boxes of their own class. NaN scores are
// never kept.
//
// Cost: a sort, O(n log n), then every candidate is compared with the kept
// boxes near it: kept boxes are filed in a uniform grid (cells about a
// typical box wide), and only boxes sharing a cell can overlap. With TopK = k
// that is at most O(n*k); without it, O(n * kept boxes nearby).
func NMS(boxes []Box, scores []float32, classes []int, o NMSOptions) []int {
	if len(scores) != len(boxes) || (classes != nil && len(classes) != len(boxes)) {
		panic("detect.NMS: boxes, scores and classes differ in length")
	}
	order := byScore(scores)
	keep := make([]int, 0, min(len(order), max(o.TopK, 16)))
	var g *boxGrid
	if o.Threshold >= 0 && len(boxes) > 64 {
		// With a non-negative threshold only intersecting boxes suppress
		// each other, which is what the grid finds.
		g = newBoxGrid(boxes)
	}
	stamp := make([]int32, 0, cap(keep))
	gen := int32(0)
	for _, i := range order {
		if o.TopK > 0 && len(keep) >= o.TopK {
			break
		}
		if math.IsNaN(float64(scores[i])) {
			break
		}
		b := boxes[i]
		suppressed := func(k int) bool {
			return (classes == nil || classes[i] == classes[k]) && o.Overlap.of(b, boxes[k]) > o.Threshold
		}
		drop := false
		if g == nil {
			for _, k := range keep {
				if suppressed(k) {
					drop = true
					break
				}
			}
		} else if !b.Empty() {
			gen++
			drop = g.any(b, func(j int32) bool {
				if stamp[j] == gen {
					return false
				}
				stamp[j] = gen
				return suppressed(keep[j])
			})
		}
		if drop {
			continue
		}
		if g != nil && !b.Empty() {
			g.add(b, int32(len(keep)))
		}
		keep = append(keep, i)
		stamp = append(stamp, 0)
	}
	return keep
}

// boxGrid files boxes (by their position in the kept list) in the uniform
// grid cells they cover; boxes spanning too many cells go to a list that
// every query scans.
type boxGrid struct {
	x0, y0, inv float32 // origin and 1/cell size
	nx, ny      int
	cells       [][]int32
	big         []int32
	n           int32 // boxes filed
}

const gridMaxSpan = 4 // a box covering more than 4x4 cells is "big"

func newBoxGrid(boxes []Box) *boxGrid {
	x0, y0 := float32(math.Inf(1)), float32(math.Inf(1))
	x1, y1 := float32(math.Inf(-1)), float32(math.Inf(-1))
	sum, n := float64(0), 0
	for _, b := range boxes {
		if b.Empty() || !finite(b.X) || !finite(b.Y) || !finite(b.W) || !finite(b.H) {
			continue
		}
		x0, y0 = min(x0, b.X), min(y0, b.Y)
		x1, y1 = max(x1, b.X2()), max(y1, b.Y2())
		sum += float64(max(b.W, b.H))
		n++
	}
	if n == 0 {
		return &boxGrid{nx: 1, ny: 1, cells: make([][]int32, 1), inv: 0}
	}
	cell := float32(sum / float64(n))
	// Keep the grid to at most 64k cells.
	for (x1-x0)/cell*(y1-y0)/cell > 1<<16 {
		cell *= 2
	}
	g := &boxGrid{x0: x0, y0: y0, inv: 1 / cell}
	g.nx = int((x1-x0)*g.inv) + 1
	g.ny = int((y1-y0)*g.inv) + 1
	g.cells = make([][]int32, g.nx*g.ny)
	return g
}

// span returns the cell range a box covers, clamped to the grid; ok is false
// when it covers too many cells (or is not finite).
func (g *boxGrid) span(b Box) (cx0, cy0, cx1, cy1 int, ok bool) {
	fx0, fy0 := (b.X-g.x0)*g.inv, (b.Y-g.y0)*g.inv
	fx1, fy1 := (b.X2()-g.x0)*g.inv, (b.Y2()-g.y0)*g.inv
	if !(fx1-fx0 < gridMaxSpan && fy1-fy0 < gridMaxSpan) {
		return 0, 0, 0, 0, false
	}
	clamp := func(f float32, n int) int { return min(max(int(math.Floor(float64(f))), 0), n-1) }
	return clamp(fx0, g.nx), clamp(fy0, g.ny), clamp(fx1, g.nx), clamp(fy1, g.ny), true
}

func (g *boxGrid) add(b Box, j int32) {
	g.n++
	cx0, cy0, cx1, cy1, ok := g.span(b)
	if !ok {
		g.big = append(g.big, j)
		return
	}
	for y := cy0; y <= cy1; y++ {
		for x := cx0; x <= cx1; x++ {
			c := &g.cells[y*g.nx+x]
			*c = append(*c, j)
		}
	}
}

// any calls f for the filed boxes that may intersect b (some more than once)
// and reports whether f returned true for one.
func (g *boxGrid) any(b Box, f func(int32) bool) bool {
	cx0, cy0, cx1, cy1, ok := g.span(b)
	if !ok {
		// A big query box: every filed box, once each.
		for j := range g.n {
			if f(j) {
				return true
			}
		}
		return false
	}
	for _, j := range g.big {
		if f(j) {
			return true
		}
	}
	for y := cy0; y <= cy1; y++ {
		for x := cx0; x <= cx1; x++ {
			for _, j := range g.cells[y*g.nx+x] {
				if f(j) {
					return true
				}
			}
		}
	}
	return false
}

// NMSDetections is NMS over detections, per Class; it returns the kept
// detections by descending score.
func NMSDetections(dets []Detection, o NMSOptions) []Detection {
	boxes := make([]Box, len(dets))
	scores := make([]float32, len(dets))
	classes := make([]int, len(dets))
	multi := false
	for i, d := range dets {
		boxes[i], scores[i], classes[i] = d.Box, d.Score, d.Class
		multi = multi || d.Class != dets[0].Class
	}
	if !multi {
		classes = nil
	}
	keep := NMS(boxes, scores, classes, o)
	out := make([]Detection, len(keep))
	for j, i := range keep {
		out[j] = dets[i]
	}
	return out
}

// SoftMethod is the score decay of soft-NMS.
type SoftMethod uint8

const (
	SoftLinear   SoftMethod = iota // score *= 1 - IoU when IoU > Threshold
	SoftGaussian                   // score *= exp(-IoU^2 / Sigma)
)

// SoftNMSOptions configures soft-NMS (Bodla et al. 2017).
type SoftNMSOptions struct {
	Method    SoftMethod
	Threshold float32 // linear: decay only above this IoU
	Sigma     float32 // Gaussian: decay width; 0 means 0.5
	MinScore  float32 // boxes whose decayed score falls below this are dropped
	TopK      int     // 0 keeps all
}

// SoftNMS decays the scores of boxes overlapping a higher-scoring one instead
// of dropping them. It returns the kept indices in the order they were
// selected (descending decayed score) with their decayed scores. classes may
// be nil. Cost O(n*m) for m selected boxes.
func SoftNMS(boxes []Box, scores []float32, classes []int, o SoftNMSOptions) (keep []int, decayed []float32) {
	if len(scores) != len(boxes) || (classes != nil && len(classes) != len(boxes)) {
		panic("detect.SoftNMS: boxes, scores and classes differ in length")
	}
	sigma := o.Sigma
	if sigma <= 0 {
		sigma = 0.5
	}
	s := slices.Clone(scores)
	live := make([]int, 0, len(s))
	for i, v := range s {
		if v >= o.MinScore && !math.IsNaN(float64(v)) {
			live = append(live, i)
		}
	}
	for len(live) > 0 && (o.TopK <= 0 || len(keep) < o.TopK) {
		// Select the best live box (ties: lowest index).
		bi := 0
		for j := 1; j < len(live); j++ {
			if s[live[j]] > s[live[bi]] || (s[live[j]] == s[live[bi]] && live[j] < live[bi]) {
				bi = j
			}
		}
		best := live[bi]
		keep = append(keep, best)
		decayed = append(decayed, s[best])
		live = slices.Delete(live, bi, bi+1)
		rest := live[:0]
		for _, i := range live {
			if classes == nil || classes[i] == classes[best] {
				iou := IoU(boxes[best], boxes[i])
				switch o.Method {
				case SoftGaussian:
					s[i] *= float32(math.Exp(-float64(iou*iou) / float64(sigma)))
				default:
					if iou > o.Threshold {
						s[i] *= 1 - iou
					}
				}
			}
			if s[i] >= o.MinScore {
				rest = append(rest, i)
			}
		}
		live = rest
	}
	return keep, decayed
}
