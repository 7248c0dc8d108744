package infer

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/quant"
)

// headNet is a detector's tail in miniature: a trunk, a 1x1 head whose
// channels have very different ranges (box sizes next to scores), a
// two-channel score softmax and a sigmoid, all graph outputs. With
// throughReshape the head is read through a Reshape (the head itself is
// then not an output and runs the plain int8 path).
func headNet(throughReshape bool) *Graph {
	b := newNet(7, Shape{1, 9, 9, 6})
	x := b.conv("trunk", "x", 16, 3, 1, ActReLU)
	h := b.conv("head", x, 5, 1, 1, ActNone)
	n := b.g.Nodes[len(b.g.Nodes)-1]
	for i := range 16 { // output channel 0 spans 40x the range of the others
		n.W.Data[i] *= 40
	}
	lg := b.conv("logits", x, 2, 3, 1, ActNone)
	p := b.op("prob", OpSoftmax, lg)
	sg := b.op("sig", OpSigmoid, lg)
	out := h
	if throughReshape {
		out = b.add(&Node{Name: "head_r", Op: OpReshape, Inputs: []string{h}, NewShape: Shape{1, 9, 9, 5}}, 5)
	}
	return b.graph(out, p, sg)
}

func TestInt8FloatOutputs(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var xs [][]float32
	for range 4 {
		xs = append(xs, rndVec(r, 9*9*6, -1, 1))
	}
	plain := calibrated(t, headNet(true), xs, "minmax")
	direct := calibrated(t, headNet(false), xs, "minmax")
	direct.Ranges["head_r"] = plain.Ranges["head_r"]

	run := func(g *Graph, threads int) *Session {
		m, err := NewModel(g, Options{Precision: Int8, Threads: threads})
		require.NoError(t, err)
		s := m.NewSession()
		t.Cleanup(s.Close)
		copy(s.Input(0), xs[0])
		require.NoError(t, s.Run())
		return s
	}
	sp, sd := run(plain, 1), run(direct, 1)
	want, _ := runGraph(t, headNet(false), Options{Threads: 1}, xs[0])

	// The int8 bytes are those of the plain path: consumers and OutputInt8
	// see no change.
	qp, _, _ := sp.OutputInt8(0)
	qd, _, _ := sd.OutputInt8(0)
	assert.Equal(t, qp, qd, "the head's int8 output")

	// Its float32 output comes from the accumulators: on the narrow
	// channels it is far closer to the float32 executor than the int8
	// output dequantized.
	var errPlain, errDirect float64
	for i, w := range want {
		if i%5 == 0 {
			continue
		}
		errPlain = max(errPlain, math.Abs(float64(sp.Output(0)[i]-w)))
		errDirect = max(errDirect, math.Abs(float64(sd.Output(0)[i]-w)))
	}
	t.Logf("head, narrow channels: max |err| dequantized int8 %.4g, from accumulators %.4g", errPlain, errDirect)
	assert.Less(t, errDirect, errPlain/4, "float head output from accumulators")

	// Softmax and sigmoid outputs are the float64 functions of the int8
	// logits, rounded once, not 1/255 steps.
	lg, err := sd.TensorFloat("logits")
	require.NoError(t, err)
	prob, sig := sd.Output(1), sd.Output(2)
	_, pscale, _ := sd.OutputInt8(1)
	offGrid := 0
	for p := 0; p < len(lg); p += 2 {
		a, b := float64(lg[p]), float64(lg[p+1])
		m := max(a, b)
		ea, eb := math.Exp(a-m), math.Exp(b-m)
		assert.InDelta(t, ea/(ea+eb), prob[p], 1e-6)
		assert.InDelta(t, eb/(ea+eb), prob[p+1], 1e-6)
		assert.InDelta(t, 1/(1+math.Exp(-a)), sig[p], 1e-6)
		q := float64(prob[p]) / float64(pscale)
		if math.Abs(q-math.Round(q)) > 0.01 {
			offGrid++
		}
	}
	assert.Greater(t, offGrid, len(lg)/4, "softmax outputs between the int8 levels")
	for i := range 3 {
		f, err := sd.TensorFloat(direct.Outputs[i])
		require.NoError(t, err)
		assert.Equal(t, sd.Output(i), f, "TensorFloat of output %d", i)
	}

	// The same bits with any number of threads and every kernel
	// implementation; nothing allocated per run.
	s3 := run(direct, 3)
	for i := range 3 {
		assert.Equal(t, sd.Output(i), s3.Output(i), "output %d, 3 threads", i)
	}
	assert.Zero(t, testing.AllocsPerRun(5, func() { _ = sd.Run() }))
	require.NoError(t, sd.RunInt8())
	assert.Equal(t, s3.Output(0), sd.Output(0), "RunInt8 writes the float outputs too")
}

// dwPwNet is a depthwise-separable block whose depthwise channel 3 is 200x
// wider than the others and weighted 200x less by the pointwise
// convolution, as in BlazeFace's last blocks: the same function as without
// the outlier, but int8 holds the depthwise output with one scale.
func dwPwNet() *Graph {
	b := newNet(21, Shape{1, 10, 10, 8})
	x := b.conv("stem", "x", 8, 3, 1, ActReLU)
	d := b.depthwise("dw", x, 3, 1)
	n := b.g.Nodes[len(b.g.Nodes)-1]
	for i := 3 * 9; i < 4*9; i++ {
		n.W.Data[i] *= 200
	}
	p := b.conv("pw", d, 12, 1, 1, ActReLU)
	pw := b.g.Nodes[len(b.g.Nodes)-1]
	for i := 3; i < len(pw.W.Data); i += 8 {
		pw.W.Data[i] /= 200
	}
	return b.graph(b.conv("out", p, 4, 1, 1, ActNone))
}

func TestEqualize(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var xs [][]float32
	for range 6 {
		xs = append(xs, rndVec(r, 10*10*8, -1, 1))
	}
	g := dwPwNet()
	before := append([]float32(nil), g.Nodes[1].W.Data...)
	eq, rep, err := Equalize(g, xs)
	require.NoError(t, err)
	assert.Equal(t, before, g.Nodes[1].W.Data, "g is not modified")
	t.Log(rep)
	require.Len(t, rep.Pairs, 2, "dw -> pw and pw -> out (ReLU between them is homogeneous)")
	assert.Equal(t, "dw", rep.Pairs[0].Producer)
	assert.Equal(t, "pw", rep.Pairs[0].Consumer)
	assert.Greater(t, rep.Pairs[0].SpreadBefore, 50.0)
	assert.Less(t, rep.Pairs[0].SpreadAfter, rep.Pairs[0].SpreadBefore/5)

	// The same function in float32.
	for _, x := range xs {
		a, _ := runGraph(t, g, Options{Threads: 1}, x)
		b, _ := runGraph(t, eq, Options{Threads: 1}, x)
		assertClose(t, a, b, 1e-4, "equalized graph, float32")
	}

	// Int8 gets much closer to float32.
	sqnr := func(g *Graph) float64 {
		q := calibrated(t, g, xs, "minmax")
		want, _ := runGraph(t, g, Options{Threads: 1}, xs[0])
		got, _ := runGraph(t, q, Options{Precision: Int8, Threads: 1}, xs[0])
		return quant.SQNR(want, got)
	}
	plain, equal := sqnr(g), sqnr(eq)
	t.Logf("int8 output SQNR: %.1f dB plain, %.1f dB equalized", plain, equal)
	assert.Greater(t, equal, plain+6)

	_, _, err = Equalize(g, nil)
	assert.ErrorContains(t, err, "no calibration samples")
	_, _, err = Equalize(g, [][]float32{{1, 2}})
	assert.ErrorContains(t, err, "sample 0 has 2 values")
}
