package onnx_test

import (
	"errors"
	"os"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/infer/onnx"
	"github.com/vigil-edge/vigil/infer/onnx/onnxpb"
)

func TestUnsupportedOpIsRefusedByName(t *testing.T) {
	b := newBuilder(11)
	x := b.input("x", 1, 3, 4, 5)
	y := b.conv(x, 3, 2, 1)
	b.g.Node = append(b.g.Node, &onnxpb.NodeProto{OpType: "Einsum", Name: "my_einsum", Input: []string{y}, Output: []string{"z"}})
	b.output("z")
	_, err := onnx.Import(b.bytes(t), onnx.Options{})
	require.Error(t, err)
	assert.ErrorIs(t, err, onnx.ErrUnsupported)
	assert.Contains(t, err.Error(), "Einsum")
	assert.Contains(t, err.Error(), `"my_einsum"`)
}

func TestUltraFaceDecodeTailIsRefused(t *testing.T) {
	// Without the cut, the file's prior decoding reaches ops the engine
	// lacks: the importer must say which, not drop them.
	_, err := onnx.ImportFile(modelFile(t, "faceplugin/fr_detect.onnx"), onnx.Options{})
	require.Error(t, err)
	assert.ErrorIs(t, err, onnx.ErrUnsupported)
	assert.Contains(t, err.Error(), "Slice")
	t.Log(err)
}

func TestRefusals(t *testing.T) {
	cases := []struct {
		name  string
		build func(b *builder)
		want  error
		msg   string
	}{
		{"clip_range", func(b *builder) {
			x := b.input("x", 1, 3, 4, 5)
			lo, hi := b.weight([]int64{}, []float32{-1}, 0, 0), b.weight([]int64{}, []float32{1}, 0, 0)
			b.output(b.node("Clip", []string{x, lo, hi}))
		}, onnx.ErrUnsupported, "Clip(-1, 1)"},
		{"float16_weights", func(b *builder) {
			x := b.input("x", 1, 3, 4, 5)
			w := &onnxpb.TensorProto{Name: "w16", Dims: []int64{2, 3, 1, 1}, DataType: int32(onnxpb.TensorProto_FLOAT16), RawData: make([]byte, 12)}
			b.g.Initializer = append(b.g.Initializer, w)
			b.output(b.node("Conv", []string{x, "w16"}))
		}, onnx.ErrInvalid, "FLOAT16"},
		{"short_raw_data", func(b *builder) {
			x := b.input("x", 1, 3, 4, 5)
			w := floatTensor("w", []int64{2, 3, 1, 1}, make([]float32, 5))
			b.g.Initializer = append(b.g.Initializer, w)
			b.output(b.node("Conv", []string{x, "w"}))
		}, onnx.ErrInvalid, "needs 24 bytes"},
		{"huge_dims_no_data", func(b *builder) {
			x := b.input("x", 1, 3, 4, 5)
			w := &onnxpb.TensorProto{Name: "w", Dims: []int64{1 << 40, 1 << 40}, DataType: int32(onnxpb.TensorProto_FLOAT)}
			b.g.Initializer = append(b.g.Initializer, w)
			b.output(b.node("Conv", []string{x, "w"}))
		}, onnx.ErrInvalid, "dimension"},
		{"external_data", func(b *builder) {
			x := b.input("x", 1, 3, 4, 5)
			w := &onnxpb.TensorProto{Name: "w", Dims: []int64{2, 3, 1, 1}, DataType: 1, DataLocation: onnxpb.TensorProto_EXTERNAL}
			b.g.Initializer = append(b.g.Initializer, w)
			b.output(b.node("Conv", []string{x, "w"}))
		}, onnx.ErrInvalid, "external data"},
		{"sub_of_activations", func(b *builder) {
			x := b.input("x", 1, 3, 4, 5)
			b.output(b.node("Sub", []string{x, b.conv(x, 3, 3, 1)}))
		}, onnx.ErrUnsupported, "Sub of two activations"},
		{"activation_weights", func(b *builder) {
			x := b.input("x", 1, 3, 1, 1)
			w := b.input("w", 2, 3, 1, 1)
			b.output(b.node("Conv", []string{x, w}))
		}, onnx.ErrUnsupported, "must be a constant"},
		{"pad_reflect", func(b *builder) {
			x := b.input("x", 1, 3, 4, 5)
			b.output(b.conv(b.node("Pad", []string{x, b.ints(0, 0, 1, 1, 0, 0, 1, 1)}, aString("mode", "reflect")), 3, 2, 3))
		}, onnx.ErrUnsupported, "reflect"},
		{"huge_constant_of_shape", func(b *builder) {
			x := b.input("x", 1, 3, 4, 5)
			z := b.node("ConstantOfShape", []string{b.ints(1, 1<<30, 4, 5)})
			b.output(b.node("Concat", []string{x, z}, aInt("axis", 1)))
		}, onnx.ErrInvalid, "elements"},
		{"symbolic_dim", func(b *builder) {
			b.g.Input = append(b.g.Input, &onnxpb.ValueInfoProto{Name: "x", Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
				TensorType: &onnxpb.TypeProto_Tensor{ElemType: 1, Shape: &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{
					{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "N"}},
					{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 3}},
					{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "H"}},
					{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 5}}}}}}}})
			b.output(b.node("Relu", []string{"x"}))
		}, onnx.ErrInvalid, "InputShapes"},
		{"opset_too_new", func(b *builder) {
			b.m.OpsetImport[0].Version = 17
			b.output(b.node("Relu", []string{b.input("x", 1, 3)}))
		}, onnx.ErrUnsupported, "opset 17"},
		{"undefined_input", func(b *builder) {
			b.output(b.node("Add", []string{b.input("x", 1, 3), "nope"}))
		}, onnx.ErrInvalid, `"nope"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newBuilder(11)
			c.build(b)
			var before, after runtime.MemStats
			data := b.bytes(t)
			runtime.ReadMemStats(&before)
			_, err := onnx.Import(data, onnx.Options{})
			runtime.ReadMemStats(&after)
			require.Error(t, err)
			assert.True(t, errors.Is(err, c.want), "error %v does not wrap %v", err, c.want)
			assert.Contains(t, err.Error(), c.msg)
			assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<24), "allocated too much for a %d-byte file", len(data))
			t.Log(err)
		})
	}
}

func TestSymbolicDimsFromOptions(t *testing.T) {
	b := newBuilder(11)
	b.g.Input = append(b.g.Input, &onnxpb.ValueInfoProto{Name: "x", Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: 1, Shape: &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{
			{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "N"}},
			{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 3}},
			{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "H"}},
			{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "W"}}}}}}}})
	b.output(b.conv("x", 3, 4, 3))
	g, err := onnx.Import(b.bytes(t), onnx.Options{InputShapes: map[string][]int{"x": {1, 3, 20, 30}}})
	require.NoError(t, err)
	assert.Equal(t, "x", g.Inputs[0].Name)
	assert.EqualValues(t, [4]int{1, 20, 30, 3}, g.Inputs[0].Shape)
}

func TestMetaAndNames(t *testing.T) {
	path := modelFile(t, "faceplugin/fr_feature.onnx")
	g, err := onnx.ImportFile(path, onnx.Options{})
	require.NoError(t, err)
	assert.Equal(t, "fr_feature", g.Meta.Name)
	assert.Equal(t, path, g.Meta.Source)
	assert.Contains(t, g.Meta.Description, "opset 9")
	assert.Equal(t, []string{"output"}, g.Outputs, "outputs keep their ONNX names")

	data, err := os.ReadFile(path)
	require.NoError(t, err)
	g, err = onnx.Import(data, onnx.Options{Meta: onnxMeta("mfn", "faceplugin-face-recognition-js@0.0.1 model/fr_feature.onnx")})
	require.NoError(t, err)
	assert.Equal(t, "mfn", g.Meta.Name)
	assert.Equal(t, "faceplugin-face-recognition-js@0.0.1 model/fr_feature.onnx", g.Meta.Source)
}

// Helper names must stay linear to make: a Concat of thousands of inputs
// gives each its own reshape, all from one base name.
func TestWideConcat(t *testing.T) {
	b := newBuilder(11)
	x := b.input("x", 1, 2, 3)
	ins := make([]string, 5000)
	for k := range ins {
		ins[k] = x
	}
	b.output(b.node("Concat", ins, aInt("axis", 1)))
	g, err := onnx.Import(b.bytes(t), onnx.Options{})
	require.NoError(t, err)
	shapes, err := g.Check()
	require.NoError(t, err)
	assert.EqualValues(t, [4]int{1, 1, 10000, 3}, shapes[g.Outputs[0]])
}

func TestPeerInput(t *testing.T) {
	b := newBuilder(11)
	b.output(b.node("Relu", []string{b.input("x", 1, 2, 1, 3)}))
	g, err := onnx.Import(b.bytes(t), onnx.Options{})
	require.NoError(t, err)
	nhwc := []float32{0, 1, 2, 3, 4, 5} // (y, x, c) for H=1, W=3, C=2
	dst := make([]float32, 6)
	require.NoError(t, onnx.PeerInput(g, 0, dst, nhwc))
	assert.Equal(t, []float32{0, 2, 4, 1, 3, 5}, dst)
	assert.Error(t, onnx.PeerInput(g, 1, dst, nhwc))
	assert.Error(t, onnx.PeerInput(g, 0, dst[:5], nhwc))
	delete(g.Meta.Extra, onnx.LayoutKey+"x")
	assert.Error(t, onnx.PeerInput(g, 0, dst, nhwc))
}
