package onnx_test

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/infer"
	"github.com/vigil-edge/vigil/infer/onnx"
	"github.com/vigil-edge/vigil/infer/onnx/onnxpb"
	"github.com/vigil-edge/vigil/infer/onnx/ort"
)

// source hands out small numbers from fuzz bytes (zeros once they run out).
type source struct {
	b []byte
	k int
}

func (s *source) n(m int) int {
	if s.k >= len(s.b) || m <= 0 {
		return 0
	}
	v := int(s.b[s.k]) % m
	s.k++
	return v
}

// genModel builds a small random ONNX model from src: a chain of operators
// with random attributes. Many are invalid ONNX on purpose.
func genModel(src *source) *builder {
	opset := []int64{9, 11, 13}[src.n(3)]
	b := newBuilder(opset)
	type act struct {
		name  string
		shape []int64
	}
	var cur act
	if src.n(4) == 0 {
		s := []int64{1, int64(1 + src.n(16))}
		cur = act{b.input("x", s...), s}
	} else {
		s := []int64{1, int64(1 + src.n(4)), int64(1 + src.n(7)), int64(1 + src.n(7))}
		cur = act{b.input("x", s...), s}
	}
	steps := 1 + src.n(6)
	var outs []string
	for range steps {
		c := int64(1)
		if len(cur.shape) > 1 {
			c = cur.shape[1]
		}
		var out string
		switch src.n(20) {
		case 0, 1:
			k := int64(1 + src.n(3))
			oc := int64(1 + src.n(5))
			g := int64(1)
			if src.n(3) == 0 {
				g, oc = c, c*int64(1+src.n(2))
			}
			p := int64(src.n(3))
			attrs := []*onnxpbAttr{aInts("pads", p, p, int64(src.n(3)), p), aInts("strides", int64(1+src.n(2)), int64(1+src.n(2))), aInt("group", g)}
			if src.n(4) == 0 {
				attrs = append(attrs, aInts("dilations", 2, 2))
			}
			if src.n(4) == 0 {
				attrs = []*onnxpbAttr{aString("auto_pad", []string{"SAME_UPPER", "SAME_LOWER", "VALID"}[src.n(3)]), aInt("group", g)}
			}
			out = b.node("Conv", []string{cur.name, b.rnd(oc, c/max(g, 1), k, k), b.rnd(oc)}, attrs...)
		case 2:
			op := []string{"MaxPool", "AveragePool"}[src.n(2)]
			k := int64(1 + src.n(3))
			out = b.node(op, []string{cur.name}, aInts("kernel_shape", k, k), aInts("strides", int64(1+src.n(2)), int64(1+src.n(2))),
				aInts("pads", int64(src.n(2)), int64(src.n(2)), int64(src.n(2)), int64(src.n(2))), aInt("ceil_mode", int64(src.n(2))))
		case 3:
			out = b.node([]string{"GlobalAveragePool", "GlobalMaxPool", "Relu", "Sigmoid"}[src.n(4)], []string{cur.name})
		case 4:
			out = b.node("LeakyRelu", []string{cur.name}, aFloat("alpha", 0.1))
		case 5:
			dims := []int64{c, 1, 1}
			if src.n(3) == 0 {
				dims = []int64{int64(1 + src.n(3))}
			}
			out = b.node([]string{"Add", "Mul", "Sub", "Div", "PRelu"}[src.n(5)], []string{cur.name, b.weight(dims, nil, 0.5, 1.5)})
		case 6:
			out = b.node([]string{"Add", "Mul"}[src.n(2)], []string{cur.name, cur.name})
		case 7:
			out = b.node("Concat", []string{cur.name, cur.name}, aInt("axis", int64(src.n(5)-1)))
		case 8, 9:
			r := len(cur.shape)
			perm := rand.New(rand.NewPCG(uint64(src.n(256)), 0)).Perm(max(r, 1))
			p := make([]int64, len(perm))
			for k, v := range perm {
				p[k] = int64(v)
			}
			out = b.node("Transpose", []string{cur.name}, aInts("perm", p...))
		case 10, 11:
			var shape []int64
			switch src.n(4) {
			case 0:
				shape = []int64{1, -1, int64(1 + src.n(4))}
			case 1:
				shape = []int64{1, -1}
			case 2:
				shape = []int64{0, int64(1 + src.n(4)), -1, 1}
			default:
				shape = []int64{1, int64(src.n(3)), int64(1 + src.n(3)), -1}
			}
			out = b.node("Reshape", []string{cur.name, b.ints(shape...)})
		case 12:
			out = b.node("Flatten", []string{cur.name}, aInt("axis", int64(src.n(4))))
		case 13:
			out = b.node("Softmax", []string{cur.name}, aInt("axis", int64(src.n(5)-1)))
		case 14:
			oc := int64(1 + src.n(6))
			out = b.node("Gemm", []string{cur.name, b.rnd(oc, c), b.rnd(oc)}, aInt("transB", 1))
		case 15:
			s := float32(1 + src.n(3))
			if opset < 11 {
				out = b.node("Upsample", []string{cur.name, b.weight([]int64{4}, []float32{1, 1, s, s}, 0, 0)})
			} else {
				empty := b.weight([]int64{0}, []float32{}, 0, 0)
				out = b.node("Resize", []string{cur.name, empty, b.weight([]int64{4}, []float32{1, 1, s, s}, 0, 0)},
					aString("coordinate_transformation_mode", []string{"half_pixel", "asymmetric", "align_corners"}[src.n(3)]))
			}
		case 16:
			if opset < 11 {
				out = b.node("Pad", []string{cur.name}, aInts("pads", 0, 0, 1, int64(src.n(2)), 0, 0, int64(src.n(2)), 1))
			} else {
				out = b.node("Pad", []string{cur.name, b.ints(0, 0, 1, int64(src.n(2)), 0, 0, int64(src.n(2)), 1)})
			}
			k := int64(1 + src.n(3))
			out = b.node("Conv", []string{out, b.rnd(2, c, k, k)})
		case 17:
			out = b.bn(cur.name, c)
		case 18:
			if opset < 13 {
				out = b.node("Unsqueeze", []string{cur.name}, aInts("axes", int64(src.n(3))))
			} else {
				out = b.node("Unsqueeze", []string{cur.name, b.ints(int64(src.n(3)))})
			}
		case 19:
			lo, hi := b.weight([]int64{}, []float32{0}, 0, 0), b.weight([]int64{}, []float32{6}, 0, 0)
			if opset < 11 {
				out = b.node("Clip", []string{cur.name}, aFloat("min", 0), aFloat("max", 6))
			} else {
				out = b.node("Clip", []string{cur.name, lo, hi})
			}
		}
		if src.n(3) == 0 && !slices.Contains(outs, out) {
			outs = append(outs, out)
		}
		// Shapes are not tracked: later operators guess channels from the
		// input's, and ONNX Runtime sorts out the invalid models.
		cur.name = out
	}
	if !slices.Contains(outs, cur.name) {
		outs = append(outs, cur.name)
	}
	b.output(outs...)
	return b
}

type onnxpbAttr = onnxpb.AttributeProto

// FuzzImportGraphs drives the importer with structurally valid protobufs
// holding random operator chains: it must never panic, and a graph it
// accepts must pass Check and run.
func FuzzImportGraphs(f *testing.F) {
	for k := range 32 {
		seed := make([]byte, 40)
		r := rand.New(rand.NewPCG(uint64(k), 1))
		for j := range seed {
			seed[j] = byte(r.IntN(256))
		}
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b := genModel(&source{b: data})
		g, err := onnx.Import(b.bytes(t), onnx.Options{})
		if err != nil {
			return
		}
		m, err := infer.NewModel(g, infer.Options{Precision: infer.Float32, Threads: 1})
		if err != nil {
			t.Fatalf("accepted graph does not compile: %v", err)
		}
		s := m.NewSession()
		defer s.Close()
		if err := s.Run(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestRandomGraphsAgainstONNXRuntime generates random operator chains and,
// for every one that both ONNX Runtime and the importer accept, compares
// the outputs. A model ONNX Runtime runs but the importer calls invalid
// points at a bug in the importer.
func TestRandomGraphsAgainstONNXRuntime(t *testing.T) {
	require.NoError(t, ort.Init(""))
	r := rand.New(rand.NewPCG(42, 42))
	compared, unsupported, bad, laxORT := 0, 0, 0, 0
	for k := range 1500 {
		seed := make([]byte, 48)
		for j := range seed {
			seed[j] = byte(r.IntN(256))
		}
		b := genModel(&source{b: seed})
		data := b.bytes(t)
		rt, err := ort.NewSession(data, ort.Options{Threads: 1})
		if err == nil {
			err = rt.Run()
			rt.Close()
		}
		if err != nil {
			bad++
			continue // not valid ONNX
		}
		_, err = onnx.Import(data, onnx.Options{})
		if errors.Is(err, onnx.ErrUnsupported) {
			unsupported++
			continue
		}
		if errors.Is(err, onnx.ErrInvalid) && strings.Contains(err.Error(), "with group") {
			// ONNX Runtime runs grouped convolutions whose weights do
			// not match the input channels; the spec calls them invalid.
			laxORT++
			continue
		}
		require.NoError(t, err, "model %d (seed %x) runs in ONNX Runtime", k, seed)
		t.Run("", func(t *testing.T) {
			compareWithORT(t, data, onnx.Options{})
			if t.Failed() {
				t.Log("input", b.g.Input[0].Type)
				for _, n := range b.g.Node {
					t.Log(n.OpType, n.Input, n.Output, n.Attribute)
				}
			}
		})
		compared++
	}
	t.Logf("%d random models compared with ONNX Runtime, %d refused as unsupported, %d invalid ONNX, %d invalid convolutions ONNX Runtime ran",
		compared, unsupported, bad, laxORT)
	require.Greater(t, compared, 400)
}
