// Package onnxexport writes a vigil graph as an ONNX model (opset 13, NCHW,
// float32), so that peer runtimes (ONNX Runtime, OpenCV DNN) can run exactly
// the network vigil runs: `vigil bench` uses it to time the embedded models,
// which come from tfjs weights and have no ONNX file of their own, and tests
// use it to check vigil's float executor against ONNX Runtime.
//
// vigil's tensors are NHWC; ONNX's convolutions want NCHW. Every 4-D tensor is
// therefore stored transposed (NCHW) in the exported graph, operators that
// depend on memory order (Flatten, Reshape, Transpose) are wrapped in
// transposes that reproduce vigil's NHWC semantics, and each graph output gets
// a final Transpose back to NHWC so the exported model's outputs have the
// same shape and flat order as vigil's. The input is NCHW, as peers expect.
// int8-stored weights are dequantized: the export is a float model.
package onnxexport

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"google.golang.org/protobuf/proto"

	"github.com/vigil-edge/vigil/infer"
	pb "github.com/vigil-edge/vigil/infer/onnx/onnxpb"
)

const opset = 13

type exporter struct {
	g      *pb.GraphProto
	shapes map[string]infer.Shape
	seq    int
}

func (e *exporter) name(base string) string {
	e.seq++
	return fmt.Sprintf("%s__%d", base, e.seq)
}

func (e *exporter) node(op string, inputs []string, output string, attrs ...*pb.AttributeProto) string {
	e.g.Node = append(e.g.Node, &pb.NodeProto{OpType: op, Input: inputs, Output: []string{output}, Name: output, Attribute: attrs})
	return output
}

func (e *exporter) floats(base string, dims []int64, v []float32) string {
	name := e.name(base)
	raw := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(x))
	}
	e.g.Initializer = append(e.g.Initializer, &pb.TensorProto{Name: name, Dims: dims, DataType: int32(pb.TensorProto_FLOAT), RawData: raw})
	return name
}

func (e *exporter) ints(base string, v []int64) string {
	name := e.name(base)
	raw := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(x))
	}
	e.g.Initializer = append(e.g.Initializer, &pb.TensorProto{Name: name, Dims: []int64{int64(len(v))}, DataType: int32(pb.TensorProto_INT64), RawData: raw})
	return name
}

func attrInts(name string, v ...int64) *pb.AttributeProto {
	return &pb.AttributeProto{Name: name, Type: pb.AttributeProto_INTS, Ints: v}
}

func attrInt(name string, v int64) *pb.AttributeProto {
	return &pb.AttributeProto{Name: name, Type: pb.AttributeProto_INT, I: v}
}

func attrFloat(name string, v float32) *pb.AttributeProto {
	return &pb.AttributeProto{Name: name, Type: pb.AttributeProto_FLOAT, F: v}
}

func attrString(name, v string) *pb.AttributeProto {
	return &pb.AttributeProto{Name: name, Type: pb.AttributeProto_STRING, S: []byte(v)}
}

func valueInfo(name string, dims ...int) *pb.ValueInfoProto {
	shape := &pb.TensorShapeProto{}
	for _, d := range dims {
		shape.Dim = append(shape.Dim, &pb.TensorShapeProto_Dimension{Value: &pb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
	}
	return &pb.ValueInfoProto{Name: name, Type: &pb.TypeProto{Value: &pb.TypeProto_TensorType{TensorType: &pb.TypeProto_Tensor{ElemType: int32(pb.TensorProto_FLOAT), Shape: shape}}}}
}

// pads resolves a window's padding to ONNX's [top, left, bottom, right].
func pads(p infer.Padding, in infer.Shape, kh, kw, sh, sw int) []int64 {
	switch p.Mode {
	case infer.PadValid:
		return []int64{0, 0, 0, 0}
	case infer.PadSame:
		oh, ow := (in[1]+sh-1)/sh, (in[2]+sw-1)/sw
		th, tw := max((oh-1)*sh+kh-in[1], 0), max((ow-1)*sw+kw-in[2], 0)
		return []int64{int64(th / 2), int64(tw / 2), int64(th - th/2), int64(tw - tw/2)}
	}
	return []int64{int64(p.Top), int64(p.Left), int64(p.Bottom), int64(p.Right)}
}

func strides(n *infer.Node) (int, int) {
	sh, sw := n.Stride[0], n.Stride[1]
	return max(sh, 1), max(sw, 1)
}

func weights(n *infer.Node) (infer.Shape, []float32) {
	if n.W != nil {
		return n.W.Shape, n.W.Data
	}
	s := n.QW.Shape
	per := s.Elems() / s[0]
	w := make([]float32, s.Elems())
	for i, q := range n.QW.Data {
		w[i] = float32(q) * n.QW.Scale[i/per]
	}
	return s, w
}

// activation appends the fused activation of n after x and names the result out.
func (e *exporter) activation(act infer.Activation, x, out string) string {
	switch act {
	case infer.ActReLU:
		return e.node("Relu", []string{x}, out)
	case infer.ActReLU6:
		return e.node("Clip", []string{x, e.floats("min", nil, []float32{0}), e.floats("max", nil, []float32{6})}, out)
	}
	return e.node("Identity", []string{x}, out)
}

// nhwcPerm is the permutation that turns an NCHW-stored tensor into NHWC, and back.
var toNHWC, toNCHW = []int64{0, 2, 3, 1}, []int64{0, 3, 1, 2}

// Export writes g as an ONNX model. The graph is folded (BatchNorm) on a copy.
func Export(w io.Writer, g *infer.Graph) error {
	b, err := Marshal(g)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// Marshal returns g as a serialized ONNX model.
func Marshal(src *infer.Graph) ([]byte, error) {
	g := *src
	g.Nodes = make([]*infer.Node, len(src.Nodes))
	for i, n := range src.Nodes {
		c := *n
		c.Inputs = append([]string(nil), n.Inputs...)
		if n.W != nil {
			c.W = &infer.Tensor{Shape: n.W.Shape, Data: append([]float32(nil), n.W.Data...)}
		}
		if n.B != nil {
			c.B = append([]float32(nil), n.B...)
		}
		g.Nodes[i] = &c
	}
	g.Outputs = append([]string(nil), src.Outputs...)
	g.Fold()
	shapes, err := g.Check()
	if err != nil {
		return nil, err
	}
	e := &exporter{g: &pb.GraphProto{Name: g.Meta.Name}, shapes: shapes}
	for _, in := range g.Inputs {
		s := in.Shape
		e.g.Input = append(e.g.Input, valueInfo(in.Name, s[0], s[3], s[1], s[2]))
	}
	for _, n := range g.Nodes {
		if err := e.emit(n); err != nil {
			return nil, err
		}
	}
	for _, o := range g.Outputs {
		name := o + "_nhwc"
		e.node("Transpose", []string{o}, name, attrInts("perm", toNHWC...))
		s := shapes[o]
		e.g.Output = append(e.g.Output, valueInfo(name, s[0], s[1], s[2], s[3]))
	}
	m := &pb.ModelProto{
		IrVersion:    7,
		ProducerName: "vigil",
		OpsetImport:  []*pb.OperatorSetIdProto{{Domain: "", Version: opset}},
		Graph:        e.g,
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}

func (e *exporter) emit(n *infer.Node) error {
	in := func(i int) infer.Shape { return e.shapes[n.Inputs[i]] }
	out := e.shapes[n.Name]
	switch n.Op {
	case infer.OpConv:
		ws, w := weights(n)
		oihw := make([]float32, len(w))
		oc, kh, kw, ic := ws[0], ws[1], ws[2], ws[3]
		for o := range oc {
			for y := range kh {
				for x := range kw {
					for c := range ic {
						oihw[((o*ic+c)*kh+y)*kw+x] = w[((o*kh+y)*kw+x)*ic+c]
					}
				}
			}
		}
		sh, sw := strides(n)
		inputs := []string{n.Inputs[0], e.floats(n.Name+"_w", []int64{int64(oc), int64(ic), int64(kh), int64(kw)}, oihw)}
		if n.B != nil {
			inputs = append(inputs, e.floats(n.Name+"_b", []int64{int64(oc)}, n.B))
		}
		conv := e.node("Conv", inputs, e.name(n.Name+"_conv"),
			attrInts("kernel_shape", int64(kh), int64(kw)), attrInts("strides", int64(sh), int64(sw)),
			attrInts("pads", pads(n.Pad, in(0), kh, kw, sh, sw)...), attrInt("group", int64(max(n.Groups, 1))))
		e.activation(n.Act, conv, n.Name)
	case infer.OpDense:
		ws, w := weights(n)
		flat := e.node("Flatten", []string{n.Inputs[0]}, e.name(n.Name+"_flat"), attrInt("axis", 1))
		inputs := []string{flat, e.floats(n.Name+"_w", []int64{int64(ws[0]), int64(ws[3])}, w)}
		if n.B != nil {
			inputs = append(inputs, e.floats(n.Name+"_b", []int64{int64(ws[0])}, n.B))
		}
		gemm := e.node("Gemm", inputs, e.name(n.Name+"_gemm"), attrInt("transB", 1))
		r := e.node("Reshape", []string{gemm, e.ints("shape", []int64{int64(out[0]), int64(out[3]), 1, 1})}, e.name(n.Name+"_4d"))
		e.activation(n.Act, r, n.Name)
	case infer.OpMaxPool, infer.OpAvgPool:
		sh, sw := strides(n)
		attrs := []*pb.AttributeProto{attrInts("kernel_shape", int64(n.Kernel[0]), int64(n.Kernel[1])), attrInts("strides", int64(sh), int64(sw)),
			attrInts("pads", pads(n.Pad, in(0), n.Kernel[0], n.Kernel[1], sh, sw)...)}
		op := "MaxPool"
		if n.Op == infer.OpAvgPool {
			// vigil's mean leaves padding out: ONNX's default
			// (count_include_pad=0), not written because OpenCV 4.6's
			// importer aborts on the attribute.
			op = "AveragePool"
		}
		e.node(op, []string{n.Inputs[0]}, n.Name, attrs...)
	case infer.OpGlobalAvgPool:
		e.node("GlobalAveragePool", []string{n.Inputs[0]}, n.Name)
	case infer.OpAdd:
		e.activation(n.Act, e.node("Add", n.Inputs, e.name(n.Name+"_add")), n.Name)
	case infer.OpMul:
		e.node("Mul", n.Inputs, n.Name)
	case infer.OpAffine:
		c := int64(len(n.Scale))
		m := e.node("Mul", []string{n.Inputs[0], e.floats(n.Name+"_scale", []int64{1, c, 1, 1}, n.Scale)}, e.name(n.Name+"_mul"))
		a := e.node("Add", []string{m, e.floats(n.Name+"_shift", []int64{1, c, 1, 1}, n.Shift)}, e.name(n.Name+"_add"))
		e.activation(n.Act, a, n.Name)
	case infer.OpConcat:
		e.node("Concat", n.Inputs, n.Name, attrInt("axis", 1))
	case infer.OpReLU:
		e.activation(infer.ActReLU, n.Inputs[0], n.Name)
	case infer.OpReLU6:
		e.activation(infer.ActReLU6, n.Inputs[0], n.Name)
	case infer.OpLeakyReLU:
		e.node("LeakyRelu", n.Inputs, n.Name, attrFloat("alpha", n.Alpha))
	case infer.OpPReLU:
		e.node("PRelu", []string{n.Inputs[0], e.floats(n.Name+"_slope", []int64{int64(len(n.Slope)), 1, 1}, n.Slope)}, n.Name)
	case infer.OpSigmoid:
		e.node("Sigmoid", n.Inputs, n.Name)
	case infer.OpSoftmax:
		// Over vigil's channels, which are NCHW axis 1; opset 13 Softmax takes one axis.
		e.node("Softmax", n.Inputs, n.Name, attrInt("axis", 1))
	case infer.OpFlatten, infer.OpReshape:
		// vigil reshapes NHWC memory: go to NHWC, reshape, come back.
		t := e.node("Transpose", n.Inputs, e.name(n.Name+"_nhwc"), attrInts("perm", toNHWC...))
		r := e.node("Reshape", []string{t, e.ints("shape", []int64{int64(out[0]), int64(out[1]), int64(out[2]), int64(out[3])})}, e.name(n.Name+"_reshape"))
		e.node("Transpose", []string{r}, n.Name, attrInts("perm", toNCHW...))
	case infer.OpTranspose:
		// NCHW-stored x; y_nhwc = transpose(x_nhwc, Perm); store y as NCHW.
		// ONNX: output dim i is input dim perm[i]. y_nchw dim d = y_nhwc dim toNCHW[d]
		// = x_nhwc dim Perm[toNCHW[d]] = x_nchw dim toNHWC[Perm[toNCHW[d]]].
		perm := make([]int64, 4)
		for d := range 4 {
			perm[d] = toNHWC[n.Perm[toNCHW[d]]]
		}
		e.node("Transpose", n.Inputs, n.Name, attrInts("perm", perm...))
	case infer.OpResize:
		s := float32(n.ResizeScale)
		e.node("Resize", []string{n.Inputs[0], "", e.floats("scales", []int64{4}, []float32{1, 1, s, s})}, n.Name,
			attrString("mode", "nearest"), attrString("coordinate_transformation_mode", "asymmetric"), attrString("nearest_mode", "floor"))
	default:
		return fmt.Errorf("onnx export: node %q: operator %s has no ONNX form", n.Name, n.Op)
	}
	return nil
}
