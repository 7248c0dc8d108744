package onnxexport

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/infer"
	"github.com/vigil-edge/vigil/infer/onnx/ort"
	"github.com/vigil-edge/vigil/infer/tfjs"
	"github.com/vigil-edge/vigil/models"
)

func vec(r *rand.Rand, n int, s float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = (r.Float32()*2 - 1) * s
	}
	return v
}

// everyOp uses each operator the exporter knows, in shapes that make memory
// order matter (non-square, odd sizes, channels != 1).
func everyOp() *infer.Graph {
	r := rand.New(rand.NewPCG(3, 4))
	conv := func(name, in string, oc, k, ic, groups, stride int, pad infer.Padding, act infer.Activation) *infer.Node {
		return &infer.Node{Name: name, Op: infer.OpConv, Inputs: []string{in}, Groups: groups, Stride: [2]int{stride, stride}, Pad: pad, Act: act,
			W: &infer.Tensor{Shape: infer.Shape{oc, k, k, ic / max(groups, 1)}, Data: vec(r, oc*k*k*ic/max(groups, 1), 0.5)}, B: vec(r, oc, 0.1)}
	}
	same := infer.Padding{Mode: infer.PadSame}
	return &infer.Graph{
		Meta:    infer.Meta{Name: "every-op"},
		Inputs:  []infer.Input{{Name: "in", Shape: infer.Shape{1, 13, 10, 3}}},
		Outputs: []string{"prob", "tr", "up", "fc"},
		Nodes: []*infer.Node{
			conv("c1", "in", 8, 3, 3, 1, 2, same, infer.ActReLU),
			{Name: "bn", Op: infer.OpBatchNorm, Inputs: []string{"c1"}, BN: &infer.BatchNorm{Gamma: vec(r, 8, 1), Beta: vec(r, 8, 1), Mean: vec(r, 8, 1), Var: []float32{1, 2, 3, 4, 1, 2, 3, 4}, Eps: 1e-3}},
			conv("dw", "bn", 8, 3, 8, 8, 1, infer.Padding{Top: 1, Left: 0, Bottom: 2, Right: 1}, infer.ActReLU6),
			{Name: "pr", Op: infer.OpPReLU, Inputs: []string{"dw"}, Slope: vec(r, 8, 0.5)},
			{Name: "lr", Op: infer.OpLeakyReLU, Inputs: []string{"pr"}, Alpha: 0.1},
			{Name: "mp", Op: infer.OpMaxPool, Inputs: []string{"lr"}, Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, Pad: same},
			{Name: "ap", Op: infer.OpAvgPool, Inputs: []string{"lr"}, Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, Pad: same},
			{Name: "add", Op: infer.OpAdd, Inputs: []string{"mp", "ap"}, Act: infer.ActReLU},
			{Name: "gap", Op: infer.OpGlobalAvgPool, Inputs: []string{"add"}},
			{Name: "sig", Op: infer.OpSigmoid, Inputs: []string{"gap"}},
			{Name: "se", Op: infer.OpMul, Inputs: []string{"add", "sig"}},
			{Name: "af", Op: infer.OpAffine, Inputs: []string{"se"}, Scale: vec(r, 8, 1), Shift: vec(r, 8, 1)},
			{Name: "cat", Op: infer.OpConcat, Inputs: []string{"af", "add"}},
			{Name: "relu", Op: infer.OpReLU, Inputs: []string{"cat"}},
			{Name: "prob", Op: infer.OpSoftmax, Inputs: []string{"relu"}},
			{Name: "tr", Op: infer.OpTranspose, Inputs: []string{"relu"}, Perm: [4]int{0, 2, 1, 3}},
			{Name: "up", Op: infer.OpResize, Inputs: []string{"relu"}, ResizeScale: 2},
			{Name: "rs", Op: infer.OpReshape, Inputs: []string{"relu"}, NewShape: infer.Shape{1, 4, -1, 4}},
			{Name: "fl", Op: infer.OpFlatten, Inputs: []string{"rs"}},
			{Name: "fc", Op: infer.OpDense, Inputs: []string{"fl"}, Act: infer.ActReLU, W: &infer.Tensor{Shape: infer.Shape{5, 1, 1, 128}, Data: vec(r, 640, 0.2)}, B: vec(r, 5, 0.1)},
		},
	}
}

// compareWithORT runs g on our float executor and its export on ONNX Runtime
// with the same input and returns the largest absolute difference per output.
func compareWithORT(t *testing.T, g *infer.Graph, input []float32) []float64 {
	t.Helper()
	b, err := Marshal(g)
	require.NoError(t, err)
	s, err := ort.NewSession(b, ort.Options{Threads: 1})
	require.NoError(t, err, "ONNX Runtime comes from scripts/fetch-models.sh")
	defer s.Close()
	m, err := infer.NewModel(g, infer.Options{Precision: infer.Float32, Threads: 1})
	require.NoError(t, err)
	ours := m.NewSession()
	defer ours.Close()
	shape := m.InputShape(0)
	copy(ours.Input(0), input)
	nchw := s.Input(0)
	require.Len(t, nchw, len(input))
	h, w, c := shape[1], shape[2], shape[3]
	for y := range h {
		for x := range w {
			for ch := range c {
				nchw[(ch*h+y)*w+x] = input[(y*w+x)*c+ch]
			}
		}
	}
	require.NoError(t, ours.Run())
	require.NoError(t, s.Run())
	var diffs []float64
	for i := range g.Outputs {
		a, b := ours.Output(i), s.Output(i)
		require.Len(t, b, len(a), "output %s", g.Outputs[i])
		d := 0.0
		for k := range a {
			d = max(d, math.Abs(float64(a[k]-b[k])))
		}
		diffs = append(diffs, d)
	}
	return diffs
}

func TestExportEveryOpMatchesORT(t *testing.T) {
	g := everyOp()
	r := rand.New(rand.NewPCG(5, 6))
	diffs := compareWithORT(t, g, vec(r, 13*10*3, 1))
	for i, d := range diffs {
		t.Logf("%-5s max |vigil - ORT| = %.3g", g.Outputs[i], d)
		assert.Less(t, d, 1e-4, g.Outputs[i])
	}
}

func TestExportIsDeterministic(t *testing.T) {
	a, err := Marshal(everyOp())
	require.NoError(t, err)
	b, err := Marshal(everyOp())
	require.NoError(t, err)
	assert.Equal(t, a, b)
}

// The face-api graphs, exported, run on ONNX Runtime as they run on vigil.
func TestExportFaceAPIGraphsMatchORT(t *testing.T) {
	dir, err := models.CacheDir()
	require.NoError(t, err)
	tiny, err := tfjs.TinyFaceDetector(dir + "/face-api")
	require.NoError(t, err)
	pnet, rnet, onet, err := tfjs.MTCNN(dir + "/mtcnn")
	require.NoError(t, err)
	rec, err := tfjs.FaceRecognition(dir + "/face-api")
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(8, 9))
	for _, g := range []*infer.Graph{tiny, pnet, rnet, onet, rec} {
		in := g.Inputs[0].Shape
		diffs := compareWithORT(t, g, vec(r, in.Elems(), 1))
		for i, d := range diffs {
			t.Logf("%s %s: max |vigil - ORT| = %.3g", g.Meta.Name, g.Outputs[i], d)
			assert.Less(t, d, 1e-3, "%s %s", g.Meta.Name, g.Outputs[i])
		}
	}
}

func TestExportRefusesUnknownOp(t *testing.T) {
	g := everyOp()
	g.Nodes = append(g.Nodes, &infer.Node{Name: "x", Op: infer.Op("Mystery"), Inputs: []string{"relu"}})
	_, err := Marshal(g)
	assert.ErrorContains(t, err, "Mystery")
}
