package infer

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vigil-edge/vigil/neon"
	"github.com/vigil-edge/vigil/quant"
	"go.uber.org/goleak"
)

// calibrated returns a copy of g with min/max ranges from the samples.
func calibrated(t testing.TB, g *Graph, samples [][]float32, method string) *Graph {
	t.Helper()
	r, err := Calibrate(g, samples, method)
	require.NoError(t, err)
	c := *g
	c.Ranges = r
	return &c
}

// int8VsFloat runs g in float32 and, calibrated on x, in int8 and returns
// both outputs and the int8 output scale.
func int8VsFloat(t *testing.T, g *Graph, xs ...[]float32) (want, got []float32, scale float32) {
	t.Helper()
	want, _ = runGraph(t, g, Options{Threads: 1}, xs...)
	var q *Graph
	if len(xs) > 1 {
		// multi-input graphs: calibrate by hand from the float run
		q = calibrateMulti(t, g, xs)
	} else {
		q = calibrated(t, g, [][]float32{xs[0]}, "minmax")
	}
	m, err := NewModel(q, Options{Precision: Int8, Threads: 2})
	require.NoError(t, err)
	s := m.NewSession()
	defer s.Close()
	for i, x := range xs {
		copy(s.Input(i), x)
	}
	require.NoError(t, s.Run())
	_, scale, _ = s.OutputInt8(0)
	return want, append([]float32(nil), s.Output(0)...), scale
}

// calibrateMulti computes min/max ranges of every tensor of a graph with
// several inputs.
func calibrateMulti(t *testing.T, g *Graph, xs [][]float32) *Graph {
	m, err := NewModel(g, Options{KeepAll: true})
	require.NoError(t, err)
	s := m.NewSession()
	defer s.Close()
	for i, x := range xs {
		copy(s.Input(i), x)
	}
	require.NoError(t, s.Run())
	c := *g
	c.Ranges = map[string]Range{}
	for _, tt := range m.tensors {
		var o quant.MinMax
		o.Observe(s.fbuf(tt))
		lo, hi := o.Range()
		c.Ranges[tt.name] = Range{lo, hi}
	}
	return &c
}

func TestConvInt8(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for i, c := range convCases() {
		n := c.node(r)
		g := oneNode(n, c.in)
		x := rndVec(r, c.in.Elems(), -1, 1)
		want, got, scale := int8VsFloat(t, g, x)
		// Input rounding (half a step of 2/255 per value) through sum |w|,
		// weight rounding and the output rounding: a few output steps.
		steps := quant.MaxAbsDiff(want, got) / float64(scale)
		sq := quant.SQNR(want, got)
		t.Logf("conv case %d: max error %.2f output steps, SQNR %.1f dB", i, steps, sq)
		assert.LessOrEqual(t, steps, 4.0, "conv case %d %+v", i, c)
		assert.Greater(t, sq, 25.0, "conv case %d", i)
	}
}

func TestDenseInt8(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	in := Shape{2, 1, 1, 50}
	n := &Node{Name: "fc", Op: OpDense, W: rndTensor(r, Shape{10, 1, 1, 50}, -0.3, 0.3), B: rndVec(r, 10, -1, 1)}
	want, got, scale := int8VsFloat(t, oneNode(n, in), rndVec(r, in.Elems(), -1, 1))
	assert.LessOrEqual(t, quant.MaxAbsDiff(want, got)/float64(scale), 4.0)
}

func TestPoolInt8(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for i, c := range poolCases() {
		n := &Node{Name: "pool", Op: c.op, Kernel: c.k, Stride: c.stride, Pad: c.pad}
		want, got, scale := int8VsFloat(t, oneNode(n, c.in), rndVec(r, c.in.Elems(), -1, 1))
		assert.LessOrEqual(t, quant.MaxAbsDiff(want, got)/float64(scale), 1.0, "pool case %d", i)
	}
}

func TestOpsInt8(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	for i, c := range nodeCases(r) {
		c.n.Name = "y"
		g := oneNode(c.n, c.in...)
		var xs [][]float32
		for _, s := range c.in {
			xs = append(xs, rndVec(r, s.Elems(), -4, 4))
		}
		want, got, scale := int8VsFloat(t, g, xs...)
		steps := quant.MaxAbsDiff(want, got) / float64(scale)
		t.Logf("case %d %s: max error %.2f output steps", i, c.n.Op, steps)
		// Inputs carry half a step of error each; outputs round once more.
		limit := 1.5
		switch c.n.Op {
		case OpAdd, OpMul, OpAffine, OpSoftmax:
			limit = 3
		}
		assert.LessOrEqual(t, steps, limit, "case %d %s", i, c.n.Op)
	}
}

func TestConcatRequantizesInputs(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	a, b := Shape{1, 3, 3, 2}, Shape{1, 3, 3, 3}
	n := &Node{Name: "cat", Op: OpConcat}
	g := oneNode(n, a, b)
	xa, xb := rndVec(r, a.Elems(), -1, 1), rndVec(r, b.Elems(), -8, 3)
	want, got, scale := int8VsFloat(t, g, xa, xb)
	assert.LessOrEqual(t, quant.MaxAbsDiff(want, got)/float64(scale), 1.0)
}

func TestInt8NeedsRanges(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	n := convCases()[0].node(r)
	g := oneNode(n, convCases()[0].in)
	_, err := NewModel(g, Options{Precision: Int8})
	require.ErrorIs(t, err, ErrMissingRange)
	assert.Contains(t, err.Error(), `"x0"`)
	g.Ranges = map[string]Range{"x0": {-1, 1}}
	_, err = NewModel(g, Options{Precision: Int8})
	require.ErrorIs(t, err, ErrMissingRange)
	assert.Contains(t, err.Error(), `"conv"`)
}

// testNet is a small graph touching most operators, for the allocation,
// concurrency and threading tests.
func testNet(r *rand.Rand) (*Graph, Shape) {
	in := Shape{1, 17, 15, 3}
	w := func(oc, k, ic int) *Tensor { return rndTensor(r, Shape{oc, k, k, ic}, -0.4, 0.4) }
	nodes := []*Node{
		{Name: "c1", Op: OpConv, Inputs: []string{"x"}, W: w(16, 3, 3), B: rndVec(r, 16, -0.1, 0.1), Stride: [2]int{2, 2}, Pad: Padding{Mode: PadSame}, Act: ActReLU},
		{Name: "dw", Op: OpConv, Inputs: []string{"c1"}, W: w(16, 3, 1), Groups: 16, Pad: Padding{Mode: PadSame}, Act: ActReLU6},
		{Name: "pw", Op: OpConv, Inputs: []string{"dw"}, W: w(24, 1, 16), B: rndVec(r, 24, -0.1, 0.1)},
		{Name: "sk", Op: OpConv, Inputs: []string{"c1"}, W: w(24, 1, 16)},
		{Name: "add", Op: OpAdd, Inputs: []string{"pw", "sk"}, Act: ActReLU},
		{Name: "pool", Op: OpMaxPool, Inputs: []string{"add"}, Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, Pad: Padding{Mode: PadSame}},
		{Name: "gap", Op: OpGlobalAvgPool, Inputs: []string{"pool"}},
		{Name: "fc", Op: OpDense, Inputs: []string{"gap"}, W: rndTensor(r, Shape{24, 1, 1, 24}, -0.5, 0.5), B: rndVec(r, 24, -0.1, 0.1)},
		{Name: "sig", Op: OpSigmoid, Inputs: []string{"fc"}},
		{Name: "se", Op: OpMul, Inputs: []string{"pool", "sig"}},
		{Name: "cat", Op: OpConcat, Inputs: []string{"se", "pool"}},
		{Name: "flat", Op: OpFlatten, Inputs: []string{"cat"}},
		{Name: "out", Op: OpDense, Inputs: []string{"flat"}, W: rndTensor(r, Shape{10, 1, 1, 5 * 4 * 48}, -0.1, 0.1)},
		{Name: "prob", Op: OpSoftmax, Inputs: []string{"out"}},
	}
	return &Graph{Inputs: []Input{{"x", in}}, Nodes: nodes, Outputs: []string{"prob", "add"}}, in
}

func TestRunAllocatesNothing(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	g, in := testNet(r)
	x := rndVec(r, in.Elems(), -1, 1)
	q := calibrated(t, g, [][]float32{x}, "minmax")
	for _, p := range []Precision{Float32, Int8} {
		for _, threads := range []int{1, 4} {
			m, err := NewModel(q, Options{Precision: p, Threads: threads})
			require.NoError(t, err)
			s := m.NewSession()
			copy(s.Input(0), x)
			require.NoError(t, s.Run())
			allocs := testing.AllocsPerRun(20, func() { _ = s.Run() })
			assert.Zero(t, allocs, "%v threads=%d", p, threads)
			s.Close()
		}
	}
}

func TestSessionsConcurrent(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	g, in := testNet(r)
	var xs [][]float32
	for range 4 {
		xs = append(xs, rndVec(r, in.Elems(), -1, 1))
	}
	q := calibrated(t, g, xs, "minmax")
	for _, p := range []Precision{Float32, Int8} {
		m, err := NewModel(q, Options{Precision: p, Threads: 2})
		require.NoError(t, err)
		// Reference outputs, one session at a time.
		want := make([][]float32, len(xs))
		s := m.NewSession()
		for i, x := range xs {
			copy(s.Input(0), x)
			require.NoError(t, s.Run())
			want[i] = append([]float32(nil), s.Output(0)...)
		}
		s.Close()
		var wg sync.WaitGroup
		errs := make([]error, len(xs))
		got := make([][]float32, len(xs))
		for i := range xs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := m.NewSession()
				defer s.Close()
				for range 5 {
					copy(s.Input(0), xs[i])
					if errs[i] = s.Run(); errs[i] != nil {
						return
					}
				}
				got[i] = append([]float32(nil), s.Output(0)...)
			}()
		}
		wg.Wait()
		for i := range xs {
			require.NoError(t, errs[i])
			assert.Equal(t, want[i], got[i], "%v session %d", p, i)
		}
	}
}

func TestThreadsBitIdentical(t *testing.T) {
	r := rand.New(rand.NewPCG(27, 28))
	g, in := testNet(r)
	g.Inputs[0].Shape = Shape{2, 41, 37, 3} // enough rows to split
	in = g.Inputs[0].Shape
	g.Nodes[len(g.Nodes)-2].W = rndTensor(r, Shape{10, 1, 1, 11 * 10 * 48}, -0.1, 0.1)
	x := rndVec(r, in.Elems(), -1, 1)
	q := calibrated(t, g, [][]float32{x}, "minmax")
	var outs [][]int8
	var fouts [][]float32
	for _, threads := range []int{1, 4} {
		m, err := NewModel(q, Options{Precision: Int8, Threads: threads})
		require.NoError(t, err)
		s := m.NewSession()
		copy(s.Input(0), x)
		require.NoError(t, s.Run())
		o, _, _ := s.OutputInt8(1)
		outs = append(outs, append([]int8(nil), o...))
		s.Close()
		mf, err := NewModel(q, Options{Precision: Float32, Threads: threads})
		require.NoError(t, err)
		sf := mf.NewSession()
		copy(sf.Input(0), x)
		require.NoError(t, sf.Run())
		fouts = append(fouts, append([]float32(nil), sf.Output(1)...))
		sf.Close()
	}
	assert.Equal(t, outs[0], outs[1], "int8 Threads=1 vs Threads=4")
	assert.Equal(t, fouts[0], fouts[1], "float Threads=1 vs Threads=4")
}

// TestInt8EveryImpl runs the int8 test network on every neon implementation
// and wants bit-identical outputs.
func TestInt8EveryImpl(t *testing.T) {
	r := rand.New(rand.NewPCG(29, 30))
	g, in := testNet(r)
	x := rndVec(r, in.Elems(), -1, 1)
	q := calibrated(t, g, [][]float32{x}, "minmax")
	var ref []int8
	for _, impl := range neon.Impls() {
		restore := neon.SetImpl(impl)
		m, err := NewModel(q, Options{Precision: Int8, Threads: 1})
		require.NoError(t, err)
		s := m.NewSession()
		copy(s.Input(0), x)
		require.NoError(t, s.Run())
		o, _, _ := s.OutputInt8(1)
		if ref == nil {
			ref = append([]int8(nil), o...)
		} else {
			assert.Equal(t, ref, o, "neon implementation %s", impl)
		}
		s.Close()
		restore()
	}
}

func TestReshape(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	// A P-Net-like fully convolutional graph, run over a pyramid.
	g := &Graph{
		Inputs: []Input{{"x", Shape{1, 12, 12, 3}}},
		Nodes: []*Node{
			{Name: "c1", Op: OpConv, Inputs: []string{"x"}, W: rndTensor(r, Shape{10, 3, 3, 3}, -0.5, 0.5), Pad: Padding{Mode: PadValid}},
			{Name: "p1", Op: OpPReLU, Inputs: []string{"c1"}, Slope: rndVec(r, 10, 0, 0.3)},
			{Name: "mp", Op: OpMaxPool, Inputs: []string{"p1"}, Kernel: [2]int{2, 2}, Stride: [2]int{2, 2}, Pad: Padding{Mode: PadSame}},
			{Name: "c2", Op: OpConv, Inputs: []string{"mp"}, W: rndTensor(r, Shape{4, 3, 3, 10}, -0.5, 0.5), Pad: Padding{Mode: PadValid}},
		},
		Outputs: []string{"c2"},
	}
	m, err := NewModel(g, Options{Threads: 2})
	require.NoError(t, err)
	for _, s := range []Shape{{1, 30, 40, 3}, {2, 17, 13, 3}} {
		m2, err := m.Reshape(s)
		require.NoError(t, err)
		assert.Equal(t, s, m2.InputShape(0))
		g2 := *g
		g2.Inputs = []Input{{"x", s}}
		x := rndVec(r, s.Elems(), -1, 1)
		want, ws := runGraph(t, &g2, Options{Threads: 1}, x)
		sess := m2.NewSession()
		copy(sess.Input(0), x)
		require.NoError(t, sess.Run())
		assert.Equal(t, ws, sess.OutputShape(0))
		assertClose(t, want, sess.Output(0), 1e-5, fmt.Sprint("reshape ", s))
		sess.Close()
	}
	_, err = m.Reshape()
	assert.Error(t, err)
}

func TestCalibrateMethods(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	g, in := testNet(r)
	var xs [][]float32
	for range 3 {
		xs = append(xs, rndVec(r, in.Elems(), -1, 1))
	}
	for _, method := range quant.Methods {
		rs, err := Calibrate(g, xs, method)
		require.NoError(t, err)
		for _, n := range g.Nodes {
			rg, ok := rs[n.Name]
			require.True(t, ok, "%s: no range for %s", method, n.Name)
			assert.LessOrEqual(t, rg.Min, float32(0))
			assert.GreaterOrEqual(t, rg.Max, float32(0))
		}
		q := *g
		q.Ranges = rs
		rep, err := LayerSQNR(&q, xs[0])
		require.NoError(t, err)
		require.NotEmpty(t, rep)
		last := rep[len(rep)-1]
		t.Logf("%s: last layer %v", method, last)
		assert.False(t, math.IsNaN(last.SQNR))
	}
	_, err := Calibrate(g, xs, "magic")
	assert.Error(t, err)
	// Streaming calibration gives the same ranges and reports progress.
	var calls []int
	rs, err := CalibrateWith(g, len(xs), func(i int, dst []float32) error { copy(dst, xs[i]); return nil }, "entropy",
		func(done, total int) { calls = append(calls, done, total) })
	require.NoError(t, err)
	want, err := Calibrate(g, xs, "entropy")
	require.NoError(t, err)
	assert.Equal(t, want, rs)
	assert.Equal(t, []int{1, 6, 2, 6, 3, 6, 4, 6, 5, 6, 6, 6}, calls)
	_, err = Calibrate(g, [][]float32{{1, 2}}, "minmax")
	assert.ErrorContains(t, err, "sample 0")
}

func TestSessionWorkersStop(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	r := rand.New(rand.NewPCG(35, 36))
	g, in := testNet(r)
	m, err := NewModel(g, Options{Threads: 4})
	require.NoError(t, err)
	s := m.NewSession()
	copy(s.Input(0), rndVec(r, in.Elems(), -1, 1))
	require.NoError(t, s.Run())
	s.Close()
	s.Close() // idempotent
	assert.Error(t, s.Run())
	// A session dropped without Close: its cleanup stops the workers.
	func() {
		s := m.NewSession()
		require.NoError(t, s.Run())
	}()
	for range 3 {
		runtime.GC()
	}
}

func TestFloatFromInt8Weights(t *testing.T) {
	r := rand.New(rand.NewPCG(37, 38))
	c := convCases()[1]
	n := c.node(r)
	q, s, err := quant.QuantizeWeights(n.W.Data, n.W.Shape[0])
	require.NoError(t, err)
	deq := &Tensor{Shape: n.W.Shape, Data: make([]float32, len(q))}
	per := len(q) / n.W.Shape[0]
	for i := range q {
		deq.Data[i] = float32(q[i]) * s[i/per]
	}
	x := rndVec(r, c.in.Elems(), -1, 1)
	n2 := *n
	n2.W, n2.QW = nil, &QTensor{Shape: n.W.Shape, Data: q, Scale: s}
	n.W = deq
	want, _ := runGraph(t, oneNode(n, c.in), Options{Threads: 1}, x)
	n2.Inputs = nil
	got, _ := runGraph(t, oneNode(&n2, c.in), Options{Threads: 1}, x)
	assert.Equal(t, want, got)
}

// benchNet is a ResNet-18-like stem and stages at 112x112: the shape of
// vigil's face networks.
func benchNet() *Graph {
	b := newNet(900, Shape{1, 112, 112, 3})
	x := b.conv("stem", "x", 32, 3, 2, ActReLU)
	block := func(p, in string, oc, stride int) string {
		y := b.conv(p+"a", in, oc, 3, stride, ActReLU)
		y = b.conv(p+"b", y, oc, 3, 1, ActNone)
		sc := in
		if stride != 1 || b.ch[in] != oc {
			sc = b.conv(p+"proj", in, oc, 1, stride, ActNone)
		}
		return b.add(&Node{Name: p + "add", Op: OpAdd, Inputs: []string{y, sc}, Act: ActReLU}, oc)
	}
	x = block("s1", x, 32, 1)
	x = block("s2", x, 64, 2)
	x = block("s3", x, 128, 2)
	dw := b.depthwise("dw", x, 3, 1)
	x = b.conv("pw", dw, 128, 1, 1, ActReLU6)
	x = b.op("gap", OpGlobalAvgPool, x)
	x = b.dense("fc", x, 128, 128, ActNone)
	return b.graph(x)
}

// macs counts the multiply-accumulates of the graph's Conv and Dense nodes.
func macs(t testing.TB, g *Graph) float64 {
	shapes, err := g.Check()
	require.NoError(t, err)
	var n float64
	for _, nd := range g.Nodes {
		if nd.Op == OpConv || nd.Op == OpDense {
			ws := nd.weightShape()
			n += float64(shapes[nd.Name].Elems()) * float64(ws[1]*ws[2]*ws[3])
		}
	}
	return n
}

func BenchmarkModel(b *testing.B) {
	g := benchNet()
	r := rand.New(rand.NewPCG(1, 1))
	x := rndVec(r, g.Inputs[0].Shape.Elems(), -1, 1)
	q := calibrated(b, g, [][]float32{x}, "minmax")
	ops := 2 * macs(b, g)
	for _, p := range []Precision{Float32, Int8} {
		for _, threads := range []int{1, runtime.NumCPU()} {
			b.Run(fmt.Sprintf("%v/threads=%d", p, threads), func(b *testing.B) {
				m, err := NewModel(q, Options{Precision: p, Threads: threads})
				require.NoError(b, err)
				s := m.NewSession()
				defer s.Close()
				copy(s.Input(0), x)
				for b.Loop() {
					_ = s.Run()
				}
				b.ReportMetric(ops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOP/s")
			})
		}
	}
}

func TestPortableExp(t *testing.T) {
	for x := -80.0; x <= 80; x += 0.0137 {
		want := math.Exp(x)
		assert.InEpsilon(t, want, portableExp(x), 4e-16, "x=%v", x)
	}
	assert.Equal(t, 1.0, portableExp(0))
	assert.Equal(t, 0.0, portableExp(-800))
	assert.True(t, math.IsInf(portableExp(800), 1))
}

// TestInt8GoldenAcrossArchitectures pins the int8 outputs of the test
// network with fixed ranges (no float calibration, whose rounding may
// differ between architectures): the hash must be the same on amd64, arm64
// and pure Go, for every neon implementation.
func TestInt8GoldenAcrossArchitectures(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	g, in := testNet(r)
	x := rndVec(r, in.Elems(), -1, 1)
	g.Ranges = map[string]Range{"x": {-1, 1}}
	for i, n := range g.Nodes {
		g.Ranges[n.Name] = Range{-2 - float32(i%3), 2 + float32(i%4)}
	}
	const golden = "dabb53e033941a6f13e4f24be0a6aa9dc779866489d5cea2268204cd58d5f833"
	for _, impl := range neon.Impls() {
		restore := neon.SetImpl(impl)
		m, err := NewModel(g, Options{Precision: Int8, Threads: 3})
		require.NoError(t, err)
		s := m.NewSession()
		copy(s.Input(0), x)
		require.NoError(t, s.Run())
		h := sha256.New()
		for i := range m.NumOutputs() {
			o, _, _ := s.OutputInt8(i)
			for _, v := range o {
				h.Write([]byte{byte(v)})
			}
		}
		assert.Equal(t, golden, hex.EncodeToString(h.Sum(nil)), "neon %s on %s", impl, runtime.GOARCH)
		s.Close()
		restore()
	}
}
