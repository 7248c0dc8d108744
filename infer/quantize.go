package infer

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/vigil-edge/vigil/quant"
)

// Calibrate runs the float32 executor over calibration samples (one slice
// per sample, filling graph input 0) and returns the range of every tensor
// chosen by method ("minmax", "percentile" or "entropy"), ready for
// Graph.Ranges. g is not modified. Graph outputs always get their full
// observed (min/max) range: only inner tensors are clipped. Ranges are
// computed on the graph as NewModel compiles it (BatchNorm folded,
// activations fused); a merged node's name gets the range of the node it
// was merged into. The inputs of a Concat that only feed it take the
// Concat's range, so the int8 Concat is a copy.
func Calibrate(g *Graph, inputs [][]float32, method string) (map[string]Range, error) {
	return CalibrateWith(g, len(inputs), func(i int, dst []float32) error {
		if len(inputs[i]) != len(dst) {
			return fmt.Errorf("sample %d has %d values, input %q %v needs %d", i, len(inputs[i]), g.Inputs[0].Name, g.Inputs[0].Shape, len(dst))
		}
		copy(dst, inputs[i])
		return nil
	}, method, nil)
}

// CalibrateWith is Calibrate over n samples produced on demand, so a large
// calibration set need not sit in memory: sample(i, dst) fills graph input 0
// with sample i (histogram methods ask for every sample twice: a first pass
// finds each tensor's extent). progress, when not nil, is called after each
// sample with the number done and the total number of runs.
func CalibrateWith(g *Graph, n int, sample func(i int, dst []float32) error, method string, progress func(done, total int)) (map[string]Range, error) {
	if _, err := quant.NewObserver(method); err != nil {
		return nil, err
	}
	if n <= 0 {
		return nil, fmt.Errorf("infer: calibrate: no calibration samples")
	}
	if len(g.Inputs) != 1 {
		return nil, fmt.Errorf("infer: calibrate: graph has %d inputs, calibration supports one", len(g.Inputs))
	}
	m, err := NewModel(g, Options{Precision: Float32, KeepAll: true})
	if err != nil {
		return nil, err
	}
	s := m.NewSession()
	defer s.Close()
	obs := make([]quant.Observer, len(m.tensors))
	for i := range obs {
		obs[i], _ = quant.NewObserver(method)
	}
	_, twoPass := obs[0].(quant.Ranger)
	total, done := n, 0
	if twoPass {
		total = 2 * n
	}
	in := s.Input(0)
	pass := func(observe func(i int, x []float32)) error {
		for k := range n {
			if err := sample(k, in); err != nil {
				return fmt.Errorf("infer: calibrate: %w", err)
			}
			if err := s.Run(); err != nil {
				return err
			}
			for i, t := range m.tensors {
				observe(i, s.fbuf(t))
			}
			done++
			if progress != nil {
				progress(done, total)
			}
		}
		return nil
	}
	var mm []quant.MinMax
	if twoPass {
		// Histogram observers: a first pass finds each tensor's extent.
		mm = make([]quant.MinMax, len(obs))
		if err := pass(func(i int, x []float32) { mm[i].Observe(x) }); err != nil {
			return nil, err
		}
		for i := range obs {
			lo, hi := mm[i].Range()
			obs[i].(quant.Ranger).SetMaxAbs(max(-lo, hi))
		}
	}
	if err := pass(func(i int, x []float32) { obs[i].Observe(x) }); err != nil {
		return nil, err
	}
	ranges := make(map[string]Range, len(m.tensors))
	for i, t := range m.tensors {
		lo, hi := obs[i].Range()
		ranges[t.name] = Range{Min: min(lo, 0), Max: max(hi, 0)}
	}
	// Graph outputs are what the caller reads: clipping them distorts
	// results directly (an embedding, a box regression), so they keep their
	// whole observed range whatever the method.
	if mm != nil {
		for _, i := range m.outputs {
			lo, hi := mm[i].Range()
			ranges[m.tensors[i].name] = Range{Min: min(lo, 0), Max: max(hi, 0)}
		}
	}
	consumers := m.g.Consumers()
	isNode := map[string]*Node{}
	for _, n := range m.g.Nodes {
		isNode[n.Name] = n
	}
	for _, n := range m.g.Nodes {
		if n.Op != OpConcat {
			continue
		}
		r := ranges[n.Name]
		for _, in := range n.Inputs {
			if p := isNode[in]; p != nil && consumers[in] == 1 && !inheritsParams(p.Op) {
				ranges[in] = r
			}
		}
	}
	// Folded BatchNorms and fused activations: their tensor is the one of
	// the node they were merged into.
	for from, to := range m.aliases {
		if r, ok := ranges[to]; ok {
			ranges[from] = r
		}
	}
	return ranges, nil
}

// LayerReport compares one tensor of the int8 executor with the float one.
type LayerReport struct {
	Name   string
	Op     Op
	SQNR   float64 // dB, int8 dequantized against float
	MaxAbs float64 // largest absolute difference
	Scale  float32 // the tensor's quantization step
}

// MarshalJSON writes the report with SQNR null when it is not finite (a
// layer int8 computes exactly has an infinite SQNR, which JSON cannot say).
func (r LayerReport) MarshalJSON() ([]byte, error) {
	var sqnr *float64
	if !math.IsInf(r.SQNR, 0) && !math.IsNaN(r.SQNR) {
		sqnr = &r.SQNR
	}
	return json.Marshal(struct {
		Name   string
		Op     Op
		SQNR   *float64
		MaxAbs float64
		Scale  float32
	}{r.Name, r.Op, sqnr, r.MaxAbs, r.Scale})
}

func (r LayerReport) String() string {
	return fmt.Sprintf("%-32s %-14s SQNR %6.1f dB  max|err| %.4g  (scale %.4g)", r.Name, r.Op, r.SQNR, r.MaxAbs, r.Scale)
}

// LayerSQNR runs g (with its Ranges) in float32 and int8 on one input and
// reports, for every node in order, how far the int8 tensor is from the
// float one. The int8 executor runs on its own quantized activations, so
// the error accumulates as it does in deployment.
func LayerSQNR(g *Graph, input []float32) ([]LayerReport, error) {
	mf, err := NewModel(g, Options{Precision: Float32, KeepAll: true})
	if err != nil {
		return nil, err
	}
	mq, err := NewModel(g, Options{Precision: Int8, KeepAll: true})
	if err != nil {
		return nil, err
	}
	sf, sq := mf.NewSession(), mq.NewSession()
	defer sf.Close()
	defer sq.Close()
	if len(input) != len(sf.Input(0)) {
		return nil, fmt.Errorf("infer: layer SQNR: input has %d values, %v needs %d", len(input), mf.InputShape(0), len(sf.Input(0)))
	}
	copy(sf.Input(0), input)
	copy(sq.Input(0), input)
	if err := sf.Run(); err != nil {
		return nil, err
	}
	if err := sq.Run(); err != nil {
		return nil, err
	}
	var out []LayerReport
	for _, n := range mf.g.Nodes {
		tf, tq := mf.tensorOf(n.Name), mq.tensorOf(n.Name)
		ref := sf.fbuf(tf)
		got := make([]float32, len(ref))
		dequantizeInto(got, sq.bbuf(tq), tq.scale, tq.zp)
		sq := quant.SQNR(ref, got)
		if math.IsNaN(sq) {
			sq = 0
		}
		out = append(out, LayerReport{Name: n.Name, Op: n.Op, SQNR: sq, MaxAbs: quant.MaxAbsDiff(ref, got), Scale: tq.scale})
	}
	return out, nil
}
