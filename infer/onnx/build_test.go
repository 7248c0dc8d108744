package onnx_test

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/vigil-edge/vigil/infer/onnx/onnxpb"
)

// builder writes small ONNX models for tests.
type builder struct {
	m   *onnxpb.ModelProto
	g   *onnxpb.GraphProto
	rng *rand.Rand
	k   int
}

func newBuilder(opset int64) *builder {
	g := &onnxpb.GraphProto{Name: "test"}
	return &builder{
		m: &onnxpb.ModelProto{IrVersion: 7, ProducerName: "vigil-test", Graph: g,
			OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: opset}}},
		g:   g,
		rng: rand.New(rand.NewPCG(1, uint64(opset))),
	}
}

func tensorType(dims ...int64) *onnxpb.TypeProto {
	s := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		s.Dim = append(s.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
	}
	return &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
		ElemType: int32(onnxpb.TensorProto_FLOAT), Shape: s}}}
}

func (b *builder) input(name string, dims ...int64) string {
	b.g.Input = append(b.g.Input, &onnxpb.ValueInfoProto{Name: name, Type: tensorType(dims...)})
	return name
}

func (b *builder) output(names ...string) {
	for _, n := range names {
		b.g.Output = append(b.g.Output, &onnxpb.ValueInfoProto{Name: n, Type: &onnxpb.TypeProto{
			Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: int32(onnxpb.TensorProto_FLOAT)}}}})
	}
}

func (b *builder) name(prefix string) string {
	b.k++
	return prefix + string(rune('a'+b.k%26)) + string(rune('0'+b.k/26%10)) + string(rune('0'+b.k/260))
}

func floatTensor(name string, dims []int64, vals []float32) *onnxpb.TensorProto {
	raw := make([]byte, 4*len(vals))
	for k, v := range vals {
		binary.LittleEndian.PutUint32(raw[4*k:], math.Float32bits(v))
	}
	return &onnxpb.TensorProto{Name: name, Dims: dims, DataType: int32(onnxpb.TensorProto_FLOAT), RawData: raw}
}

// weight adds a float initializer, random in [lo, hi) when vals is nil.
func (b *builder) weight(dims []int64, vals []float32, lo, hi float32) string {
	if vals == nil {
		n := int64(1)
		for _, d := range dims {
			n *= d
		}
		vals = make([]float32, n)
		for k := range vals {
			vals[k] = lo + (hi-lo)*b.rng.Float32()
		}
	}
	name := b.name("w")
	b.g.Initializer = append(b.g.Initializer, floatTensor(name, dims, vals))
	return name
}

// rnd adds a random weight in [-1, 1).
func (b *builder) rnd(dims ...int64) string { return b.weight(dims, nil, -1, 1) }

func (b *builder) ints(vals ...int64) string {
	name := b.name("i")
	b.g.Initializer = append(b.g.Initializer, &onnxpb.TensorProto{Name: name, Dims: []int64{int64(len(vals))},
		DataType: int32(onnxpb.TensorProto_INT64), Int64Data: vals})
	return name
}

func aInt(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_INT, I: v}
}

func aInts(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_INTS, Ints: v}
}

func aFloat(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_FLOAT, F: v}
}

func aString(name, v string) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_STRING, S: []byte(v)}
}

func aTensor(name string, t *onnxpb.TensorProto) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_TENSOR, T: t}
}

// node adds a node and returns its (first) output name.
func (b *builder) node(op string, ins []string, attrs ...*onnxpb.AttributeProto) string {
	out := b.name(op + "_")
	b.g.Node = append(b.g.Node, &onnxpb.NodeProto{OpType: op, Name: out + "_node", Input: ins, Output: []string{out}, Attribute: attrs})
	return out
}

func (b *builder) bytes(t testing.TB) []byte {
	data, err := proto.Marshal(b.m)
	require.NoError(t, err)
	return data
}
