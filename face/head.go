package face

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// Head kinds.
const (
	HeadLinear = "linear" // y = W1 x + B1
	HeadMLP    = "mlp"    // y = W2 relu(W1 x + B1) + B2
)

// Head is a small projection trained on top of the frozen embedding with a
// triplet loss. Matching projects both the gallery's and the probe's
// embeddings through it and L2-normalises the result.
type Head struct {
	Kind   string    `json:"kind"`
	In     int       `json:"in"`
	Hidden int       `json:"hidden,omitempty"` // mlp only
	Out    int       `json:"out"`
	W1     []float32 `json:"w1"` // [rows][In], rows = Hidden (mlp) or Out (linear)
	B1     []float32 `json:"b1"`
	W2     []float32 `json:"w2,omitempty"` // [Out][Hidden]
	B2     []float32 `json:"b2,omitempty"`
	// What it was trained on, for `vigil gallery list`.
	Trained    time.Time `json:"trained"`
	Identities int       `json:"identities"`
	Examples   int       `json:"examples"`
	Loss       float64   `json:"loss"`
	// Threshold is the cosine distance to use with this head (distances
	// after projection are on another scale than the embedding's); see
	// headThreshold.
	Threshold float32 `json:"threshold"`
}

func (h *Head) rows1() int {
	if h.Kind == HeadMLP {
		return h.Hidden
	}
	return h.Out
}

func (h *Head) validate() error {
	if h.Kind != HeadLinear && h.Kind != HeadMLP {
		return fmt.Errorf("kind %q, want %q or %q", h.Kind, HeadLinear, HeadMLP)
	}
	if h.In <= 0 || h.Out <= 0 || h.In > 1<<12 || h.Out > 1<<12 || h.Hidden < 0 || h.Hidden > 1<<13 {
		return fmt.Errorf("sizes in %d hidden %d out %d out of range", h.In, h.Hidden, h.Out)
	}
	r := h.rows1()
	if r <= 0 || len(h.W1) != r*h.In || len(h.B1) != r {
		return fmt.Errorf("first layer holds %d weights and %d biases, want %d and %d", len(h.W1), len(h.B1), r*h.In, r)
	}
	if h.Kind == HeadMLP {
		if len(h.W2) != h.Out*h.Hidden || len(h.B2) != h.Out {
			return fmt.Errorf("second layer holds %d weights and %d biases, want %d and %d", len(h.W2), len(h.B2), h.Out*h.Hidden, h.Out)
		}
	} else if len(h.W2) != 0 || len(h.B2) != 0 {
		return errors.New("linear head with second-layer weights")
	}
	if !(h.Threshold >= 0 && h.Threshold <= 2) {
		return fmt.Errorf("threshold %g outside [0, 2]", h.Threshold)
	}
	for _, v := range [][]float32{h.W1, h.B1, h.W2, h.B2} {
		if !finite(v) {
			return errors.New("weights hold NaN or Inf")
		}
	}
	return nil
}

// Forward projects x (len In) into dst (len Out, allocated when nil or short).
func (h *Head) Forward(x, dst []float32) []float32 {
	if cap(dst) < h.Out {
		dst = make([]float32, h.Out)
	}
	dst = dst[:h.Out]
	if h.Kind == HeadLinear {
		affine(dst, h.W1, h.B1, x)
		return dst
	}
	hid := make([]float32, h.Hidden)
	affine(hid, h.W1, h.B1, x)
	for i, v := range hid {
		hid[i] = max(v, 0)
	}
	affine(dst, h.W2, h.B2, hid)
	return dst
}

func affine(dst, w, b, x []float32) {
	n := len(x)
	for o := range dst {
		row := w[o*n : (o+1)*n]
		s := b[o]
		for i, v := range x {
			s += row[i] * v
		}
		dst[o] = s
	}
}

// params is a head's parameters in float64 for training.
type params struct {
	kind            string
	in, hidden, out int
	w1, b1, w2, b2  []float64
}

func (p *params) vecs() [][]float64 { return [][]float64{p.w1, p.b1, p.w2, p.b2} }

func (p *params) clone() *params {
	c := *p
	c.w1, c.b1, c.w2, c.b2 = slices.Clone(p.w1), slices.Clone(p.b1), slices.Clone(p.w2), slices.Clone(p.b2)
	return &c
}

func (p *params) zero() *params {
	c := p.clone()
	for _, v := range c.vecs() {
		clear(v)
	}
	return c
}

// identityParams starts a head at the identity map, so before training it
// changes nothing and training can only move away from the pretrained
// embedding as far as the data asks. The MLP's identity is
// W2 relu(W1 x) with W1 = [I; -I], W2 = [I, -I] (relu(x) - relu(-x) = x),
// so its hidden width is 2*in.
func identityParams(kind string, dim int, rng *rand.Rand, jitter float64) *params {
	p := &params{kind: kind, in: dim, out: dim}
	noise := func() float64 { return jitter * rng.NormFloat64() }
	if kind == HeadLinear {
		p.w1, p.b1 = make([]float64, dim*dim), make([]float64, dim)
		for i := range dim {
			for j := range dim {
				p.w1[i*dim+j] = noise()
			}
			p.w1[i*dim+i] += 1
		}
		return p
	}
	p.hidden = 2 * dim
	p.w1, p.b1 = make([]float64, 2*dim*dim), make([]float64, 2*dim)
	p.w2, p.b2 = make([]float64, dim*2*dim), make([]float64, dim)
	for i := range p.w1 {
		p.w1[i] = noise()
	}
	for i := range p.w2 {
		p.w2[i] = noise()
	}
	for i := range dim {
		p.w1[i*dim+i] += 1
		p.w1[(dim+i)*dim+i] -= 1
		p.w2[i*2*dim+i] += 1
		p.w2[i*2*dim+dim+i] -= 1
	}
	return p
}

// forward computes outputs (and the hidden pre-activations for backward).
func (p *params) forward(x [][]float64) (y, hid [][]float64) {
	y = make([][]float64, len(x))
	hid = make([][]float64, len(x))
	for n, xv := range x {
		if p.kind == HeadLinear {
			y[n] = affine64(p.w1, p.b1, xv, p.out)
			continue
		}
		h := affine64(p.w1, p.b1, xv, p.hidden)
		hid[n] = h
		r := make([]float64, len(h))
		for i, v := range h {
			r[i] = max(v, 0)
		}
		y[n] = affine64(p.w2, p.b2, r, p.out)
	}
	return y, hid
}

func affine64(w, b, x []float64, rows int) []float64 {
	out := make([]float64, rows)
	n := len(x)
	for o := range rows {
		row := w[o*n : (o+1)*n]
		s := b[o]
		for i, v := range x {
			s += row[i] * v
		}
		out[o] = s
	}
	return out
}

// backward accumulates into g the gradient of the loss given gy = dL/dy.
func (p *params) backward(x, hid, gy [][]float64, g *params) {
	for n, xv := range x {
		if p.kind == HeadLinear {
			outer(g.w1, g.b1, gy[n], xv)
			continue
		}
		h := hid[n]
		r := make([]float64, len(h))
		for i, v := range h {
			r[i] = max(v, 0)
		}
		outer(g.w2, g.b2, gy[n], r)
		gh := make([]float64, p.hidden)
		for o, gv := range gy[n] {
			if gv == 0 {
				continue
			}
			row := p.w2[o*p.hidden : (o+1)*p.hidden]
			for i := range gh {
				gh[i] += gv * row[i]
			}
		}
		for i := range gh {
			if h[i] <= 0 {
				gh[i] = 0
			}
		}
		outer(g.w1, g.b1, gh, xv)
	}
}

func outer(gw, gb, gy, x []float64) {
	n := len(x)
	for o, gv := range gy {
		if gv == 0 {
			continue
		}
		gb[o] += gv
		row := gw[o*n : (o+1)*n]
		for i, v := range x {
			row[i] += gv * v
		}
	}
}

func (p *params) head() *Head {
	f := func(v []float64) []float32 {
		if v == nil {
			return nil
		}
		out := make([]float32, len(v))
		for i, x := range v {
			out[i] = float32(x)
		}
		return out
	}
	return &Head{Kind: p.kind, In: p.in, Hidden: p.hidden, Out: p.out, W1: f(p.w1), B1: f(p.b1), W2: f(p.w2), B2: f(p.b2)}
}

// DefaultMargin is the triplet margin (on squared distances of unit
// vectors, 2x the cosine distance). FaceNet's 0.2 leaves the face-api
// ResNet unchanged on small galleries (every triplet already satisfies it:
// on johns the loss starts at 0). 0.5 widens the genuine/impostor gap on
// johns' held-out chips (int8: from 0.17 to 0.61-1.03 for the enrolled
// identities, from 0.065 to 0.13-0.16 with a never-enrolled identity in the
// set) without an error; on degraded chips (far, dim, rotated) it costs
// 1-10 false rejects of 300 pairs at the head's threshold, and no false
// accept. EER and TAR stay at their (perfect) values either way.
const DefaultMargin = 0.5

// TrainConfig sets up head training.
type TrainConfig struct {
	Kind   string  // HeadLinear (default) or HeadMLP
	Margin float64 // triplet margin on squared distance of unit vectors (default DefaultMargin)
	Mining Mining
	Steps  int     // Adam steps (default 300)
	LR     float64 // Adam learning rate (default 1e-3)
	// Decay pulls the parameters back towards the identity start
	// (L2 on the difference), which keeps a head trained on a handful of
	// photos from forgetting what the pretrained embedding knows. Default 1e-3.
	Decay float64
	// Batch caps the examples per step; when there are more, each step
	// draws a random class-balanced subset. Default 256.
	Batch int
	Seed  uint64
	// BaseThreshold is the matching threshold of the raw embedding
	// (default DefaultThreshold), from which the head's is derived.
	BaseThreshold float32
}

func (c *TrainConfig) defaults() {
	if c.Kind == "" {
		c.Kind = HeadLinear
	}
	if c.Margin == 0 {
		c.Margin = DefaultMargin
	}
	if c.Steps == 0 {
		c.Steps = 300
	}
	if c.LR == 0 {
		c.LR = 1e-3
	}
	if c.Decay == 0 {
		c.Decay = 1e-3
	}
	if c.Batch == 0 {
		c.Batch = 256
	}
	if c.BaseThreshold == 0 {
		c.BaseThreshold = DefaultThreshold
	}
}

// ErrTooFewExamples is returned when a head cannot be trained on the data.
var ErrTooFewExamples = errors.New("too few examples to train")

// CheckTrainable reports whether counts (samples per identity) can train a
// head: at least 2 identities with at least 2 samples each.
func CheckTrainable(counts map[string]int) error {
	var few []string
	for name, n := range counts {
		if n < 2 {
			few = append(few, fmt.Sprintf("%q has %d", name, n))
		}
	}
	slices.Sort(few)
	if len(counts) < 2 {
		return fmt.Errorf("%w: a triplet loss needs at least 2 identities with at least 2 samples each; the gallery has %d identity(ies): enrol more people", ErrTooFewExamples, len(counts))
	}
	if len(few) > 0 {
		return fmt.Errorf("%w: a triplet loss needs at least 2 samples of every identity: %v; enrol another photo of each", ErrTooFewExamples, few)
	}
	return nil
}

// TrainResult summarises a training run.
type TrainResult struct {
	FirstLoss, LastLoss float64
	Steps               int
}

// TrainHead trains a projection head on embeddings x with identity labels
// using the triplet loss and Adam, starting from the identity map.
func TrainHead(x [][]float32, labels []int, cfg TrainConfig) (*Head, TrainResult, error) {
	cfg.defaults()
	if len(x) != len(labels) || len(x) == 0 {
		return nil, TrainResult{}, fmt.Errorf("train head: %d embeddings and %d labels", len(x), len(labels))
	}
	counts := map[string]int{}
	for _, l := range labels {
		counts[fmt.Sprint(l)]++
	}
	if err := CheckTrainable(counts); err != nil {
		return nil, TrainResult{}, fmt.Errorf("train head: %w", err)
	}
	dim := len(x[0])
	xs := make([][]float64, len(x))
	for i, v := range x {
		if len(v) != dim {
			return nil, TrainResult{}, fmt.Errorf("train head: embedding %d has %d values, want %d", i, len(v), dim)
		}
		xs[i] = make([]float64, dim)
		for k, f := range v {
			xs[i][k] = float64(f)
		}
	}
	if cfg.Kind != HeadLinear && cfg.Kind != HeadMLP {
		return nil, TrainResult{}, fmt.Errorf("train head: kind %q, want %q or %q", cfg.Kind, HeadLinear, HeadMLP)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15))
	p := identityParams(cfg.Kind, dim, rng, 1e-3)
	p0 := p.clone()
	opt := newAdam(p, cfg.LR)
	byLabel := map[int][]int{}
	for i, l := range labels {
		byLabel[l] = append(byLabel[l], i)
	}
	var res TrainResult
	for step := range cfg.Steps {
		idx := sampleBatch(byLabel, len(x), cfg.Batch, rng)
		bx := make([][]float64, len(idx))
		bl := make([]int, len(idx))
		for i, j := range idx {
			bx[i], bl[i] = xs[j], labels[j]
		}
		loss, g := lossAndGrad(p, p0, bx, bl, cfg)
		if step == 0 {
			res.FirstLoss = loss
		}
		res.LastLoss = loss
		res.Steps = step + 1
		opt.step(p, g)
	}
	h := p.head()
	if err := h.validate(); err != nil {
		return nil, res, fmt.Errorf("train head: diverged: %w", err)
	}
	h.Threshold = headThreshold(h, x, labels, cfg.BaseThreshold)
	return h, res, nil
}

// lossAndGrad is the triplet loss of the batch plus the decay term, and
// its gradient with respect to every parameter.
func lossAndGrad(p, p0 *params, x [][]float64, labels []int, cfg TrainConfig) (float64, *params) {
	y, hid := p.forward(x)
	gy := make([][]float64, len(y))
	for i := range gy {
		gy[i] = make([]float64, p.out)
	}
	loss, _ := TripletLoss(y, labels, cfg.Margin, cfg.Mining, gy)
	g := p.zero()
	p.backward(x, hid, gy, g)
	pv, p0v, gv := p.vecs(), p0.vecs(), g.vecs()
	for k := range pv {
		for i := range pv[k] {
			d := pv[k][i] - p0v[k][i]
			loss += cfg.Decay / 2 * d * d
			gv[k][i] += cfg.Decay * d
		}
	}
	return loss, g
}

// sampleBatch returns every index when they fit in a batch, else a
// class-balanced random subset (the same number from each identity).
func sampleBatch(byLabel map[int][]int, n, batch int, rng *rand.Rand) []int {
	if n <= batch {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		return idx
	}
	labels := make([]int, 0, len(byLabel))
	for l := range byLabel {
		labels = append(labels, l)
	}
	slices.Sort(labels)
	per := max(2, batch/len(labels))
	var idx []int
	for _, l := range labels {
		members := byLabel[l]
		perm := rng.Perm(len(members))
		for _, j := range perm[:min(per, len(members))] {
			idx = append(idx, members[j])
		}
	}
	return idx
}

type adam struct {
	lr, b1, b2, eps float64
	t               int
	m, v            *params
}

func newAdam(p *params, lr float64) *adam {
	return &adam{lr: lr, b1: 0.9, b2: 0.999, eps: 1e-8, m: p.zero(), v: p.zero()}
}

func (a *adam) step(p, g *params) {
	a.t++
	c1 := 1 - math.Pow(a.b1, float64(a.t))
	c2 := 1 - math.Pow(a.b2, float64(a.t))
	pv, gv, mv, vv := p.vecs(), g.vecs(), a.m.vecs(), a.v.vecs()
	for k := range pv {
		for i := range pv[k] {
			gi := gv[k][i]
			mv[k][i] = a.b1*mv[k][i] + (1-a.b1)*gi
			vv[k][i] = a.b2*vv[k][i] + (1-a.b2)*gi*gi
			pv[k][i] -= a.lr * (mv[k][i] / c1) / (math.Sqrt(vv[k][i]/c2) + a.eps)
		}
	}
}

// headThreshold picks the matching threshold for a trained head: base
// (the threshold that suits the raw embedding) scaled by how much the head
// stretches the largest same-identity distance of the training examples.
// The head keeps the operating point where it was relative to the genuine
// spread. (Placing it midway between the training genuine and impostor
// distances does not work: a head pulls the enrolled identities far apart,
// and on johns the midpoint then accepts a never-enrolled person as an
// enrolled one in a quarter of pairs.)
func headThreshold(h *Head, x [][]float32, labels []int, base float32) float32 {
	raw := make([][]float32, len(x))
	proj := make([][]float32, len(x))
	for i, v := range x {
		raw[i] = slices.Clone(v)
		Normalize(raw[i])
		proj[i] = h.Forward(v, nil)
		Normalize(proj[i])
	}
	maxGenuine := func(e [][]float32) float32 {
		var m float32
		for i := range e {
			for j := i + 1; j < len(e); j++ {
				if labels[i] == labels[j] {
					m = max(m, Distance(e[i], e[j]))
				}
			}
		}
		return m
	}
	r, p := maxGenuine(raw), maxGenuine(proj)
	if !(r > 0) {
		return base
	}
	return min(max(base*p/r, 0), 2)
}
