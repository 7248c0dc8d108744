package infer

import (
	"fmt"
	"math"
	"slices"
)

// Equalization is cross-layer range equalization for int8 (Nagel et al.,
// "Data-Free Quantization Through Weight Equalization and Bias Correction",
// 2019), driven by activations rather than weights alone.
//
// Where a convolution A feeds only a following convolution B and nothing
// but a positively homogeneous activation lies between them (none or ReLU:
// relu(x/s) = relu(x)/s for s > 0), dividing A's output channel c by s_c
// (its weights and bias) and multiplying B's weights for input channel c by
// s_c computes exactly the same B. Int8 stores A's output with one scale for
// all channels, so a few channels with a wide range (BlazeFace's depthwise
// convolutions reach +-270 where most channels stay within +-5) leave the
// others a handful of levels. Choosing s_c = sqrt(a_c / w_c), where a_c is
// the largest |activation| of channel c over calibration samples and w_c the
// largest |weight| B applies to it, makes both a_c/s_c and w_c*s_c equal to
// sqrt(a_c*w_c): the ranges of A's channels shrink towards each other and
// the cost moves into B's weights, which int8 holds per output channel.

// EqualizeReport says what Equalize changed.
type EqualizeReport struct {
	Pairs []EqualizedPair
}

// EqualizedPair is one producer/consumer pair that was rescaled.
type EqualizedPair struct {
	Producer, Consumer string
	// Spread is the ratio of the widest to the median channel range of the
	// producer's output, before and after.
	SpreadBefore, SpreadAfter float64
}

func (r EqualizeReport) String() string {
	s := fmt.Sprintf("equalized %d convolution pairs", len(r.Pairs))
	for _, p := range r.Pairs {
		s += fmt.Sprintf("\n  %s -> %s: channel range spread %.1f -> %.1f", p.Producer, p.Consumer, p.SpreadBefore, p.SpreadAfter)
	}
	return s
}

// Equalize returns a copy of g with cross-layer equalization applied to
// every eligible convolution pair, measured by running the float32 executor
// on the calibration samples (graph input 0, as Calibrate takes them). g is
// not modified; the copy carries no Ranges (calibrate it afterwards). The
// copy computes the same outputs in float32 up to rounding. Nodes holding
// only int8 weights (QW) and BatchNorms are left alone (fold first).
func Equalize(g *Graph, inputs [][]float32) (*Graph, EqualizeReport, error) {
	var rep EqualizeReport
	if len(inputs) == 0 {
		return nil, rep, fmt.Errorf("infer: equalize: no calibration samples")
	}
	if len(g.Inputs) != 1 {
		return nil, rep, fmt.Errorf("infer: equalize: graph has %d inputs, equalization supports one", len(g.Inputs))
	}
	type pair struct{ a, b *Node }
	var pairs []pair
	consumers := g.Consumers()
	outputs := map[string]bool{}
	for _, o := range g.Outputs {
		outputs[o] = true
	}
	byInput := map[string][]*Node{}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			byInput[in] = append(byInput[in], n)
		}
	}
	for _, a := range g.Nodes {
		if a.Op != OpConv || a.W == nil || a.QW != nil || (a.Act != ActNone && a.Act != ActReLU) {
			continue
		}
		if consumers[a.Name] != 1 || outputs[a.Name] || len(byInput[a.Name]) != 1 {
			continue
		}
		b := byInput[a.Name][0]
		if b.Op != OpConv || b.W == nil || b.QW != nil || len(b.Inputs) != 1 || max(b.Groups, 1) != 1 {
			continue
		}
		pairs = append(pairs, pair{a, b})
	}

	c := *g
	c.Ranges = nil
	c.Nodes = slices.Clone(g.Nodes)
	if len(pairs) == 0 {
		return &c, rep, nil
	}

	// Per-channel largest |activation| of every producer, in float32.
	m, err := NewModel(g, Options{Precision: Float32, KeepAll: true, Threads: 1})
	if err != nil {
		return nil, rep, err
	}
	s := m.NewSession()
	defer s.Close()
	absMax := make([][]float64, len(pairs))
	for k, p := range pairs {
		absMax[k] = make([]float64, p.a.W.Shape[0])
	}
	in := s.Input(0)
	for i, x := range inputs {
		if len(x) != len(in) {
			return nil, rep, fmt.Errorf("infer: equalize: sample %d has %d values, input %q %v needs %d", i, len(x), g.Inputs[0].Name, g.Inputs[0].Shape, len(in))
		}
		copy(in, x)
		if err := s.Run(); err != nil {
			return nil, rep, err
		}
		for k, p := range pairs {
			t := m.tensorOf(p.a.Name)
			am := absMax[k]
			ch := len(am)
			for j, v := range s.fbuf(t) {
				am[j%ch] = max(am[j%ch], math.Abs(float64(v)))
			}
		}
	}

	// Rescale, on copies of the weights of the nodes that change.
	copies := map[*Node]*Node{}
	own := func(n *Node) *Node {
		if cp, ok := copies[n]; ok {
			return cp
		}
		cp := *n
		cp.W = &Tensor{Shape: n.W.Shape, Data: slices.Clone(n.W.Data)}
		cp.B = slices.Clone(n.B)
		copies[n] = &cp
		return &cp
	}
	for k, p := range pairs {
		a, b := own(p.a), own(p.b)
		ch := a.W.Shape[0]
		if b.W.Shape[3] != ch {
			continue // shapes disagree: Check will say so; do not touch
		}
		perA := len(a.W.Data) / ch
		wmax := make([]float64, ch)
		for j, v := range b.W.Data {
			wmax[j%ch] = max(wmax[j%ch], math.Abs(float64(v)))
		}
		scale := make([]float64, ch)
		after := make([]float64, ch)
		for i := range ch {
			scale[i] = 1
			if absMax[k][i] > 0 && wmax[i] > 0 {
				scale[i] = math.Sqrt(absMax[k][i] / wmax[i])
			}
			after[i] = absMax[k][i] / scale[i]
		}
		for i := range ch {
			for j := range perA {
				a.W.Data[i*perA+j] = float32(float64(a.W.Data[i*perA+j]) / scale[i])
			}
			if i < len(a.B) {
				a.B[i] = float32(float64(a.B[i]) / scale[i])
			}
		}
		for j := range b.W.Data {
			b.W.Data[j] = float32(float64(b.W.Data[j]) * scale[j%ch])
		}
		rep.Pairs = append(rep.Pairs, EqualizedPair{
			Producer: a.Name, Consumer: b.Name,
			SpreadBefore: spread(absMax[k]), SpreadAfter: spread(after),
		})
	}
	for i, n := range c.Nodes {
		if cp, ok := copies[n]; ok {
			c.Nodes[i] = cp
		}
	}
	return &c, rep, nil
}

// spread is the widest channel range over the median one (1 when flat).
func spread(r []float64) float64 {
	s := slices.Clone(r)
	slices.Sort(s)
	med := s[len(s)/2]
	if med == 0 {
		return math.Inf(1)
	}
	return s[len(s)-1] / med
}
