package infer

// The executors. NewModel compiles a Graph into layers (one per node, after
// BatchNorm folding and activation fusion) that hold packed weights and
// arena offsets; a Session owns the arena and runs the layers in order.
//
//   - Memory: every activation tensor gets an offset in one arena, planned
//     at compile time by greedy first fit over tensor lifetimes (Reshape and
//     Flatten alias their input). Scratch (im2col rows, accumulators) is per
//     worker. Run allocates nothing.
//   - Threads: a Session with Threads > 1 keeps Threads-1 goroutines; a large
//     layer splits its rows (output pixels or rows) into contiguous ranges,
//     aligned to 8 rows, one per worker. Every output element is computed by
//     the same arithmetic whatever the split, so results do not depend on
//     Threads (bit for bit, int8 and float).
//   - Float32: im2col + SGEMM (ops_sgemm*.go: AVX/FMA3 on amd64, NEON on
//     arm64, pure Go elsewhere or with -tags purego), direct depthwise.
//   - Int8: see exec_int8.go.

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
)

// Precision selects the executor.
type Precision uint8

const (
	Float32 Precision = iota // float32 reference executor
	Int8                     // int8 executor: needs Graph.Ranges for every tensor
)

func (p Precision) String() string {
	switch p {
	case Float32:
		return "float32"
	case Int8:
		return "int8"
	}
	return fmt.Sprintf("Precision(%d)", uint8(p))
}

// Options configure NewModel.
type Options struct {
	Precision Precision
	// Threads is the number of goroutines a Session uses to run one layer
	// (0 means runtime.NumCPU()). Results do not depend on it.
	Threads int
	// KeepAll disables the reuse of activation buffers so that
	// Session.TensorFloat can read every tensor after Run (debugging,
	// calibration, SQNR reports). It costs memory, not speed.
	KeepAll bool
}

// ErrMissingRange is wrapped by NewModel's error when an int8 model lacks the
// calibrated range of a tensor.
var ErrMissingRange = errors.New("missing calibrated range")

// tensor is a planned activation: where it lives in a session's arena.
type tensor struct {
	name  string
	shape Shape
	off   int // offset in the arena (elements)
	root  int // index of the tensor whose storage this one aliases (itself when not an alias)
	// int8 quantization parameters (Int8 models only).
	scale float32
	zp    int32
}

func (t *tensor) size() int { return t.shape.Elems() }

// layer is one compiled node. Layers are shared between the sessions of a
// model: they hold arena offsets and weights, never per-run buffers.
type layer interface {
	run(s *Session)
}

// parter is a layer whose work splits into independent items [lo, hi) that
// the session's workers may run at once; w is the worker index (for scratch).
type parter interface {
	part(s *Session, w, lo, hi int)
}

// Model is a compiled graph: weights packed once, activation memory planned
// for fixed input shapes. A Model is immutable and safe for concurrent use;
// each goroutine runs it through its own Session.
type Model struct {
	g       *Graph
	opt     Options
	threads int
	shapes  map[string]Shape
	tensors []*tensor
	byName  map[string]int
	inputs  []int // tensor indices
	outputs []int
	// floatOut marks the outputs of an int8 model that a layer writes in
	// float32 itself (Sigmoid, Softmax): Run does not dequantize them.
	floatOut []bool
	layers   []layer

	arena    int // arena size in elements
	scratchF int // float32 scratch per worker
	scratchB int // int8 scratch per worker
	scratchI int // int32 scratch per worker

	w       *weights          // packed weights, shared with models made by Reshape
	aliases map[string]string // folded/fused tensor name -> surviving tensor
}

// weights caches per-node packed weights so that Reshape shares them.
type weights struct {
	mu sync.Mutex
	m  map[*Node]any
}

func (w *weights) get(n *Node, make func() (any, error)) (any, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if v, ok := w.m[n]; ok {
		return v, nil
	}
	v, err := make()
	if err != nil {
		return nil, err
	}
	w.m[n] = v
	return v, nil
}

// NewModel compiles g for execution. It does not modify g: it works on a copy
// in which BatchNorm nodes are folded into the preceding Conv/Dense
// (Graph.Fold) or turned into Affine nodes, and a ReLU/ReLU6 node whose
// input is a Conv, Dense, Add or Affine read by nothing else is fused into
// it (as its Act). It then checks shapes (Graph.Check), packs the weights
// and plans the activation arena. Folded and fused node names stay valid
// for TensorFloat: they name the surviving node's tensor.
//
// For Int8 it needs g.Ranges for every tensor (graph inputs and nodes; a
// folded BatchNorm's or fused activation's range is used for the node it
// was merged into) and quantizes the float weights per output channel, or
// uses Node.QW when present.
func NewModel(g *Graph, opt Options) (*Model, error) {
	if g == nil {
		return nil, fmt.Errorf("%w: nil graph", ErrInvalidGraph)
	}
	if opt.Precision != Float32 && opt.Precision != Int8 {
		return nil, fmt.Errorf("infer: unknown precision %v", opt.Precision)
	}
	for i, n := range g.Nodes {
		if n == nil {
			return nil, fmt.Errorf("%w: node %d is nil", ErrInvalidGraph, i)
		}
	}
	c, aliases := cloneForExec(g)
	return compile(c, opt, &weights{m: map[*Node]any{}}, aliases)
}

// cloneForExec copies g deep enough that rewriting cannot touch the
// caller's graph (nodes always, weights when a BatchNorm will scale them),
// folds BatchNorms, fuses activations and carries the ranges of removed
// tensors over to the nodes that now produce them. aliases maps every
// removed tensor name to the tensor that replaces it.
func cloneForExec(g *Graph) (*Graph, map[string]string) {
	c := *g
	c.Inputs = slices.Clone(g.Inputs)
	c.Outputs = slices.Clone(g.Outputs)
	c.Nodes = make([]*Node, len(g.Nodes))
	hasBN := false
	for _, n := range g.Nodes {
		if n.Op == OpBatchNorm {
			hasBN = true
		}
	}
	for i, n := range g.Nodes {
		nn := *n
		nn.Inputs = slices.Clone(n.Inputs)
		if hasBN && n.W != nil {
			nn.W = &Tensor{Shape: n.W.Shape, Data: slices.Clone(n.W.Data)}
			nn.B = slices.Clone(n.B)
		}
		c.Nodes[i] = &nn
	}
	aliases := map[string]string{}
	if hasBN {
		bnOf := map[string]string{} // producer -> BatchNorm reading it
		for _, n := range c.Nodes {
			if n.Op == OpBatchNorm && len(n.Inputs) == 1 {
				bnOf[n.Inputs[0]] = n.Name
			}
		}
		c.Fold()
		alive := map[string]bool{}
		for _, n := range c.Nodes {
			alive[n.Name] = true
		}
		for prod, bn := range bnOf {
			if !alive[bn] {
				aliases[bn] = prod
			}
		}
	}
	fuseActivations(&c, aliases)
	// A removed tensor's range is the range of the tensor that replaced it.
	if g.Ranges != nil {
		c.Ranges = make(map[string]Range, len(g.Ranges))
		for k, v := range g.Ranges {
			c.Ranges[k] = v
		}
		// In graph order, so that of conv -> BatchNorm -> ReLU the ReLU's
		// range (the last one merged) wins.
		for _, n := range g.Nodes {
			if to, ok := aliases[n.Name]; ok {
				if r, ok := g.Ranges[n.Name]; ok {
					c.Ranges[to] = r
				}
			}
		}
	}
	return &c, aliases
}

// fuseActivations merges ReLU and ReLU6 nodes into the Conv, Dense, Add or
// Affine before them when nothing else reads that node's output: one pass
// less, and in int8 the producer's output uses every level on [0, max].
func fuseActivations(g *Graph, aliases map[string]string) {
	consumers := g.Consumers()
	byName := map[string]*Node{}
	for _, n := range g.Nodes {
		byName[n.Name] = n
	}
	rename := map[string]string{}
	kept := g.Nodes[:0]
	for _, n := range g.Nodes {
		for i, in := range n.Inputs {
			if r, ok := rename[in]; ok {
				n.Inputs[i] = r
			}
		}
		if (n.Op == OpReLU || n.Op == OpReLU6) && len(n.Inputs) == 1 {
			p := byName[n.Inputs[0]]
			if p != nil && p.Act == ActNone && consumers[p.Name] == 1 &&
				(p.Op == OpConv || p.Op == OpDense || p.Op == OpAdd || p.Op == OpAffine) {
				p.Act = ActReLU
				if n.Op == OpReLU6 {
					p.Act = ActReLU6
				}
				rename[n.Name] = p.Name
				for from, to := range aliases {
					if to == n.Name {
						aliases[from] = p.Name
					}
				}
				aliases[n.Name] = p.Name
				for i, o := range g.Outputs {
					if o == n.Name {
						g.Outputs[i] = p.Name
					}
				}
				continue
			}
		}
		kept = append(kept, n)
	}
	clear(g.Nodes[len(kept):])
	g.Nodes = kept
}

// Reshape returns a model over the same (shared, already packed) weights,
// planned for other input shapes: one shape per graph input.
func (m *Model) Reshape(inputs ...Shape) (*Model, error) {
	if len(inputs) != len(m.g.Inputs) {
		return nil, fmt.Errorf("infer: reshape: %d shapes for %d inputs", len(inputs), len(m.g.Inputs))
	}
	c := *m.g
	c.Inputs = slices.Clone(m.g.Inputs)
	for i := range inputs {
		c.Inputs[i].Shape = inputs[i]
	}
	return compile(&c, m.opt, m.w, m.aliases)
}

func compile(g *Graph, opt Options, w *weights, aliases map[string]string) (*Model, error) {
	shapes, err := g.Check()
	if err != nil {
		return nil, err
	}
	m := &Model{g: g, opt: opt, shapes: shapes, byName: map[string]int{}, w: w, aliases: aliases}
	m.threads = opt.Threads
	if m.threads <= 0 {
		m.threads = runtime.NumCPU()
	}
	add := func(name string) int {
		m.byName[name] = len(m.tensors)
		m.tensors = append(m.tensors, &tensor{name: name, shape: shapes[name], root: len(m.tensors)})
		return len(m.tensors) - 1
	}
	for _, in := range g.Inputs {
		m.inputs = append(m.inputs, add(in.Name))
	}
	for _, n := range g.Nodes {
		t := add(n.Name)
		if n.Op == OpReshape || n.Op == OpFlatten {
			m.tensors[t].root = m.tensors[m.byName[n.Inputs[0]]].root
		}
	}
	for from, to := range aliases {
		if t, ok := m.byName[to]; ok {
			m.byName[from] = t
		}
	}
	for _, o := range g.Outputs {
		m.outputs = append(m.outputs, m.byName[o])
	}
	m.floatOut = make([]bool, len(m.outputs))
	if opt.Precision == Int8 {
		if err := m.assignQuant(); err != nil {
			return nil, err
		}
	}
	m.plan()
	for _, n := range g.Nodes {
		var l layer
		var err error
		if opt.Precision == Int8 {
			l, err = m.compileInt8(n)
		} else {
			l, err = m.compileFloat(n)
		}
		if err != nil {
			return nil, err
		}
		m.layers = append(m.layers, l)
	}
	return m, nil
}

// plan assigns arena offsets: greedy first fit over tensor lifetimes, in node
// order. Inputs and outputs stay live for the whole run; aliases (Reshape,
// Flatten) share their root's storage and extend its lifetime.
func (m *Model) plan() {
	const forever = 1 << 30
	nt := len(m.tensors)
	last := make([]int, nt) // last node index reading each root
	for i := range last {
		last[i] = -1
	}
	for _, t := range m.inputs {
		last[t] = forever
	}
	for i, n := range m.g.Nodes {
		r := m.tensors[m.byName[n.Name]].root
		last[r] = max(last[r], i)
		for _, in := range n.Inputs {
			r := m.tensors[m.byName[in]].root
			last[r] = max(last[r], i)
		}
	}
	for _, t := range m.outputs {
		last[m.tensors[t].root] = forever
	}
	if m.opt.KeepAll {
		for i := range last {
			last[i] = forever
		}
	}
	type block struct{ off, size, root int }
	var live []block // sorted by offset
	alloc := func(root, size int) int {
		size = (size + 15) &^ 15 // keep every tensor 64-byte aligned within the arena
		off := 0
		at := len(live)
		for i, b := range live {
			if b.off-off >= size {
				at = i
				break
			}
			off = b.off + b.size
		}
		live = slices.Insert(live, at, block{off, size, root})
		m.arena = max(m.arena, off+size)
		return off
	}
	free := func(step int) {
		live = slices.DeleteFunc(live, func(b block) bool { return last[b.root] == step })
	}
	for _, t := range m.inputs {
		m.tensors[t].off = alloc(t, m.tensors[t].size())
	}
	for i, n := range m.g.Nodes {
		t := m.byName[n.Name]
		if m.tensors[t].root == t {
			m.tensors[t].off = alloc(t, m.tensors[t].size())
		}
		free(i)
	}
	for _, t := range m.tensors {
		t.off = m.tensors[t.root].off
	}
}

// Graph returns the compiled graph (BatchNorm folded, activations fused,
// inputs at this model's shapes). Do not modify it.
func (m *Model) Graph() *Graph { return m.g }

// NumInputs is the number of graph inputs.
func (m *Model) NumInputs() int { return len(m.inputs) }

// NumOutputs is the number of graph outputs.
func (m *Model) NumOutputs() int { return len(m.outputs) }

// InputShape is the NHWC shape of input i.
func (m *Model) InputShape(i int) Shape { return m.tensors[m.inputs[i]].shape }

// OutputShape is the NHWC shape of output i.
func (m *Model) OutputShape(i int) Shape { return m.tensors[m.outputs[i]].shape }

// Precision is the model's executor precision.
func (m *Model) Precision() Precision { return m.opt.Precision }

// Session is one run context of a Model: the planned arena, scratch memory
// and worker goroutines. Use a Session from one goroutine at a time.
type Session struct {
	m *Model
	// float models: all activations; int8 models: all activations in a8,
	// with float32 staging for inputs and outputs in io.
	f  []float32
	a8 []int8
	io [][]float32 // int8 models: inputs then outputs, as float32
	sf [][]float32 // per-worker float scratch
	sb [][]int8    // per-worker int8 scratch
	si [][]int32   // per-worker int32 scratch

	workers int
	tasks   []chan task // workers 1.. (worker 0 is the caller)
	wg      *sync.WaitGroup
	closed  bool
	cleanup runtime.Cleanup
}

type task struct {
	p      parter
	s      *Session
	w      int
	lo, hi int
}

// stopWorkers closes the task channels; the workers then return.
func stopWorkers(tasks []chan task) {
	for _, ch := range tasks[1:] {
		close(ch)
	}
}

// NewSession allocates a run context: the activation arena and, with
// Threads > 1, the worker goroutines (stopped by Close).
func (m *Model) NewSession() *Session {
	s := &Session{m: m, workers: m.threads}
	if m.opt.Precision == Int8 {
		s.a8 = make([]int8, m.arena)
		for _, t := range m.inputs {
			s.io = append(s.io, make([]float32, m.tensors[t].size()))
		}
		for _, t := range m.outputs {
			s.io = append(s.io, make([]float32, m.tensors[t].size()))
		}
	} else {
		s.f = make([]float32, m.arena)
	}
	s.sf = make([][]float32, s.workers)
	s.sb = make([][]int8, s.workers)
	s.si = make([][]int32, s.workers)
	for w := range s.workers {
		s.sf[w] = make([]float32, m.scratchF)
		s.sb[w] = make([]int8, m.scratchB)
		s.si[w] = make([]int32, m.scratchI)
	}
	if s.workers > 1 {
		// Workers hold the channel and the wait group, never the session,
		// so a session dropped without Close is collected and its cleanup
		// stops them.
		s.tasks = make([]chan task, s.workers)
		wg := new(sync.WaitGroup)
		s.wg = wg
		for w := 1; w < s.workers; w++ {
			ch := make(chan task)
			s.tasks[w] = ch
			go func() {
				for t := range ch {
					t.p.part(t.s, t.w, t.lo, t.hi)
					wg.Done()
				}
			}()
		}
		s.cleanup = runtime.AddCleanup(s, stopWorkers, s.tasks)
	}
	return s
}

// Close stops the session's worker goroutines. The session must not be used
// afterwards. Close is idempotent.
func (s *Session) Close() {
	if s.closed {
		return
	}
	s.closed = true
	if s.tasks != nil {
		s.cleanup.Stop()
		stopWorkers(s.tasks)
	}
}

// parallel runs p over items [0, n) split in contiguous ranges across the
// session's workers; ranges are at least minItems long and start at
// multiples of splitAlign, so GEMM row blocks (and with them float rounding)
// are the same whatever the number of threads.
func (s *Session) parallel(p parter, n, minItems int) {
	if n <= 0 {
		return
	}
	k := s.workers
	minItems = max(minItems, splitAlign)
	k = min(k, (n+minItems-1)/minItems)
	if k <= 1 {
		p.part(s, 0, 0, n)
		return
	}
	bound := func(w int) int {
		if w == k {
			return n
		}
		return n * w / k / splitAlign * splitAlign
	}
	s.wg.Add(k - 1)
	for w := 1; w < k; w++ {
		s.tasks[w] <- task{p: p, s: s, w: w, lo: bound(w), hi: bound(w + 1)}
	}
	p.part(s, 0, 0, bound(1))
	s.wg.Wait()
}

// splitAlign is the row block of the largest SGEMM micro-kernel.
const splitAlign = 8

// Model returns the session's model.
func (s *Session) Model() *Model { return s.m }

// Input returns input i (NHWC float32) to fill before Run.
func (s *Session) Input(i int) []float32 {
	if s.a8 != nil {
		return s.io[i]
	}
	t := s.m.tensors[s.m.inputs[i]]
	return s.f[t.off : t.off+t.size()]
}

// Output returns output i (NHWC float32) after Run; it is overwritten by the
// next Run.
func (s *Session) Output(i int) []float32 {
	if s.a8 != nil {
		return s.io[len(s.m.inputs)+i]
	}
	t := s.m.tensors[s.m.outputs[i]]
	return s.f[t.off : t.off+t.size()]
}

// OutputShape is the NHWC shape of output i.
func (s *Session) OutputShape(i int) Shape { return s.m.OutputShape(i) }

// Run executes the model on the session's inputs. After the first Run it
// allocates nothing.
func (s *Session) Run() error {
	if s.closed {
		return errors.New("infer: run on a closed session")
	}
	m := s.m
	if s.a8 != nil {
		for i, t := range m.inputs {
			tt := m.tensors[t]
			quantizeInto(s.a8[tt.off:tt.off+tt.size()], s.io[i], tt.scale, tt.zp)
		}
	}
	for _, l := range m.layers {
		l.run(s)
	}
	if s.a8 != nil {
		s.dequantizeOutputs()
	}
	return nil
}

// dequantizeOutputs fills the float32 outputs of an int8 model that no
// layer wrote in float32.
func (s *Session) dequantizeOutputs() {
	m := s.m
	for i, t := range m.outputs {
		if m.floatOut[i] {
			continue
		}
		tt := m.tensors[t]
		dequantizeInto(s.io[len(m.inputs)+i], s.bbuf(tt), tt.scale, tt.zp)
	}
}

// fbuf is the float32 storage of tensor t in the session's arena.
func (s *Session) fbuf(t *tensor) []float32 { return s.f[t.off : t.off+t.shape.Elems()] }

// bbuf is the int8 storage of tensor t in the session's arena.
func (s *Session) bbuf(t *tensor) []int8 { return s.a8[t.off : t.off+t.shape.Elems()] }

// tensorOf looks a tensor up by name.
func (m *Model) tensorOf(name string) *tensor { return m.tensors[m.byName[name]] }

// TensorFloat returns a copy of the named tensor after Run as float32
// (dequantized for int8 models). Buffers are reused between layers, so only
// graph inputs and outputs are guaranteed to hold their values unless the
// model was built with Options.KeepAll.
func (s *Session) TensorFloat(name string) ([]float32, error) {
	i, ok := s.m.byName[name]
	if !ok {
		return nil, fmt.Errorf("infer: no tensor %q", name)
	}
	t := s.m.tensors[i]
	out := make([]float32, t.size())
	for k, o := range s.m.outputs {
		if o == i && s.m.floatOut[k] {
			copy(out, s.io[len(s.m.inputs)+k])
			return out, nil
		}
	}
	if s.a8 != nil {
		dequantizeInto(out, s.bbuf(t), t.scale, t.zp)
	} else {
		copy(out, s.fbuf(t))
	}
	return out, nil
}

// InputInt8 returns input i of an int8 model as quantized values, with its
// scale and zero point. Run overwrites it by quantizing Input(i); fill it and
// call RunInt8 to feed pre-quantized data.
func (s *Session) InputInt8(i int) (data []int8, scale float32, zeroPoint int32) {
	t := s.m.tensors[s.m.inputs[i]]
	return s.bbuf(t), t.scale, t.zp
}

// OutputInt8 returns output i of an int8 model after Run, with its scale and
// zero point.
func (s *Session) OutputInt8(i int) (data []int8, scale float32, zeroPoint int32) {
	t := s.m.tensors[s.m.outputs[i]]
	return s.bbuf(t), t.scale, t.zp
}

// RunInt8 runs an int8 model on the already quantized inputs (InputInt8).
func (s *Session) RunInt8() error {
	if s.a8 == nil {
		return errors.New("infer: RunInt8 on a float32 model")
	}
	if s.closed {
		return errors.New("infer: run on a closed session")
	}
	for _, l := range s.m.layers {
		l.run(s)
	}
	s.dequantizeOutputs()
	return nil
}
