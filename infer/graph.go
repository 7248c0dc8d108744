// Package infer is vigil's CNN engine: a graph of named nodes over NHWC tensors,
// a float32 reference executor and an int8 executor over the same graph, the
// .vq model format, and importers for ONNX and tfjs weight manifests.
//
// Invariants:
//   - Every activation tensor is 4-D NHWC ([N, H, W, C]); a fully connected
//     layer sees [N, 1, 1, K]. Importers translate other layouts at import time.
//   - Every node produces exactly one tensor, named after the node. Inputs name
//     either a graph input or an earlier node: Graph.Nodes is in topological order.
//   - Conv weights are [OC, KH, KW, IC/groups]; dense weights are [OC, 1, 1, IC].
//   - Shapes are inferred and checked once, at load time (Graph.Check); running
//     a frame allocates nothing.
package infer

import (
	"errors"
	"fmt"
	"math"
)

// ErrInvalidGraph is wrapped by every graph validation error.
var ErrInvalidGraph = errors.New("invalid graph")

// Shape is an NHWC shape: batch, height, width, channels.
type Shape [4]int

// Elems is the number of elements of the shape.
func (s Shape) Elems() int { return s[0] * s[1] * s[2] * s[3] }

func (s Shape) String() string { return fmt.Sprintf("[%d %d %d %d]", s[0], s[1], s[2], s[3]) }

// Op names a node's operator.
type Op string

// The operators. Each has a float32 and an int8 implementation.
const (
	OpConv          Op = "Conv"          // W [OC,KH,KW,IC/G], B [OC], Stride, Pad, Groups, Act
	OpDense         Op = "Dense"         // W [OC,1,1,IC]; input [N,1,1,IC] (Flatten first), Act
	OpMaxPool       Op = "MaxPool"       // Kernel, Stride, Pad
	OpAvgPool       Op = "AvgPool"       // Kernel, Stride, Pad; padding is not counted in the mean
	OpGlobalAvgPool Op = "GlobalAvgPool" // [N,H,W,C] -> [N,1,1,C]
	OpAdd           Op = "Add"           // two inputs of one shape (residual), then Act
	OpMul           Op = "Mul"           // x [N,H,W,C] * s [N,1,1,C] (SE scale) or * x2 of the same shape
	OpAffine        Op = "Affine"        // x*Scale[c] + Shift[c]: a BatchNorm that could not be folded, a constant per-channel Mul
	OpConcat        Op = "Concat"        // on channels
	OpReLU          Op = "ReLU"
	OpReLU6         Op = "ReLU6"
	OpLeakyReLU     Op = "LeakyReLU" // Alpha
	OpPReLU         Op = "PReLU"     // Slope [C]
	OpSigmoid       Op = "Sigmoid"
	OpSoftmax       Op = "Softmax" // over channels
	OpReshape       Op = "Reshape" // NewShape (one -1 allowed); reinterprets the flat NHWC data
	OpFlatten       Op = "Flatten" // [N,H,W,C] -> [N,1,1,H*W*C] in NHWC order
	OpTranspose     Op = "Transpose"
	OpBatchNorm     Op = "BatchNorm" // BN; folded into the preceding Conv/Dense by Graph.Fold
	OpResize        Op = "Resize"    // nearest, integer factor ResizeScale
)

// Activation is an activation fused into Conv, Dense, Add and Affine.
type Activation uint8

const (
	ActNone Activation = iota
	ActReLU
	ActReLU6
)

func (a Activation) String() string {
	switch a {
	case ActNone:
		return "none"
	case ActReLU:
		return "relu"
	case ActReLU6:
		return "relu6"
	}
	return fmt.Sprintf("Activation(%d)", uint8(a))
}

// PadMode says how a window's padding is chosen.
type PadMode uint8

const (
	PadExplicit PadMode = iota // Pad.Top/Left/Bottom/Right as given
	PadValid                   // no padding
	PadSame                    // TF "SAME": output = ceil(in/stride), extra padding at the bottom/right
)

// Padding of a Conv or pooling window.
type Padding struct {
	Mode                     PadMode
	Top, Left, Bottom, Right int
}

// BatchNorm holds inference-time batch normalisation parameters.
type BatchNorm struct {
	Gamma, Beta, Mean, Var []float32
	Eps                    float32
}

// Tensor is a constant float32 tensor (weights): flat data plus shape.
type Tensor struct {
	Shape Shape
	Data  []float32
}

// QTensor holds int8 weights quantized symmetrically per output channel
// (Shape[0]): real = Data * Scale[oc]. Values are in [-127, 127].
type QTensor struct {
	Shape Shape
	Data  []int8
	Scale []float32
}

// Node is one operator application. Its output tensor is named Name.
type Node struct {
	Name   string
	Op     Op
	Inputs []string

	Kernel      [2]int // pooling window (KH, KW); Conv takes it from W
	Stride      [2]int // (SH, SW); zero means 1
	Pad         Padding
	Groups      int // Conv: 1 (or 0) for a plain conv, IC for depthwise
	Act         Activation
	Alpha       float32 // LeakyReLU
	Perm        [4]int  // Transpose: output dim i is input dim Perm[i]
	NewShape    Shape   // Reshape; one entry may be -1
	ResizeScale int     // Resize: integer factor for H and W

	W     *Tensor   // Conv, Dense
	QW    *QTensor  // int8 weights, when the model file carries them
	B     []float32 // Conv, Dense bias (may be nil)
	Slope []float32 // PReLU, per channel
	Scale []float32 // Affine
	Shift []float32 // Affine
	BN    *BatchNorm
}

// Input is a graph input with its NHWC shape.
type Input struct {
	Name  string
	Shape Shape
}

// Range is the calibrated real-valued range of a tensor.
type Range struct{ Min, Max float32 }

// Meta describes a model for users and for preprocessing.
type Meta struct {
	Name        string
	Description string
	Source      string // where the weights came from (package@version, file)
	License     string
	// Preprocessing: x = (pixel[c] - Mean[c]) * Scale[c], pixels 0..255, in ChannelOrder.
	Mean         [3]float32
	Scale        [3]float32
	ChannelOrder string // "RGB" or "BGR"
	// Extra holds model-specific settings (anchors, thresholds) as text.
	Extra map[string]string
}

// Graph is a model: inputs, topologically ordered nodes, outputs, metadata
// and, for quantized models, the calibrated range of every tensor.
type Graph struct {
	Meta    Meta
	Inputs  []Input
	Outputs []string
	Nodes   []*Node
	// Ranges maps tensor names (inputs and nodes) to calibrated ranges. The
	// int8 executor needs one for every tensor; the float executor ignores it.
	Ranges map[string]Range
}

func nodeErr(n *Node, format string, args ...any) error {
	return fmt.Errorf("%w: node %q (%s): %s", ErrInvalidGraph, n.Name, n.Op, fmt.Sprintf(format, args...))
}

func stride(n *Node) (int, int) {
	sh, sw := n.Stride[0], n.Stride[1]
	if sh == 0 {
		sh = 1
	}
	if sw == 0 {
		sw = 1
	}
	return sh, sw
}

// windowPads resolves padding for a window of k over in with stride s: it
// returns the output size and the leading padding.
func windowPads(p Padding, in, k, s int, vertical bool) (out, lead int, err error) {
	switch p.Mode {
	case PadValid:
		if in < k {
			return 0, 0, fmt.Errorf("input %d smaller than window %d", in, k)
		}
		return (in-k)/s + 1, 0, nil
	case PadSame:
		out = (in + s - 1) / s
		total := max((out-1)*s+k-in, 0)
		return out, total / 2, nil
	default:
		a, b := p.Left, p.Right
		if vertical {
			a, b = p.Top, p.Bottom
		}
		if a < 0 || b < 0 {
			return 0, 0, fmt.Errorf("negative padding %d,%d", a, b)
		}
		if in+a+b < k {
			return 0, 0, fmt.Errorf("padded input %d smaller than window %d", in+a+b, k)
		}
		return (in+a+b-k)/s + 1, a, nil
	}
}

// Check validates the graph and returns the shape of every tensor. Errors
// name the node and the mismatch.
func (g *Graph) Check() (map[string]Shape, error) {
	shapes := make(map[string]Shape, len(g.Nodes)+len(g.Inputs))
	if len(g.Inputs) == 0 {
		return nil, fmt.Errorf("%w: no inputs", ErrInvalidGraph)
	}
	for _, in := range g.Inputs {
		if in.Name == "" {
			return nil, fmt.Errorf("%w: input with empty name", ErrInvalidGraph)
		}
		for i, d := range in.Shape {
			if d <= 0 || d > 1<<16 {
				return nil, fmt.Errorf("%w: input %q: dimension %d is %d, want 1..65536", ErrInvalidGraph, in.Name, i, d)
			}
		}
		if in.Shape.Elems() > 1<<28 {
			return nil, fmt.Errorf("%w: input %q: shape %v too large", ErrInvalidGraph, in.Name, in.Shape)
		}
		if _, dup := shapes[in.Name]; dup {
			return nil, fmt.Errorf("%w: input %q declared twice", ErrInvalidGraph, in.Name)
		}
		shapes[in.Name] = in.Shape
	}
	for i, n := range g.Nodes {
		if n == nil || n.Name == "" {
			return nil, fmt.Errorf("%w: node %d has no name", ErrInvalidGraph, i)
		}
		if _, dup := shapes[n.Name]; dup {
			return nil, nodeErr(n, "name used twice")
		}
		ins := make([]Shape, len(n.Inputs))
		for j, name := range n.Inputs {
			s, ok := shapes[name]
			if !ok {
				return nil, nodeErr(n, "input %d %q is not a graph input or an earlier node", j, name)
			}
			ins[j] = s
		}
		out, err := inferShape(n, ins)
		if err != nil {
			return nil, err
		}
		for d, v := range out {
			if v <= 0 {
				return nil, nodeErr(n, "output dimension %d is %d", d, v)
			}
		}
		if out.Elems() > 1<<28 {
			return nil, nodeErr(n, "output shape %v too large", out)
		}
		shapes[n.Name] = out
	}
	if len(g.Outputs) == 0 {
		return nil, fmt.Errorf("%w: no outputs", ErrInvalidGraph)
	}
	for _, o := range g.Outputs {
		if _, ok := shapes[o]; !ok {
			return nil, fmt.Errorf("%w: output %q is not a tensor of the graph", ErrInvalidGraph, o)
		}
	}
	return shapes, nil
}

func wantInputs(n *Node, ins []Shape, k int) error {
	if len(ins) != k {
		return nodeErr(n, "has %d inputs, want %d", len(ins), k)
	}
	return nil
}

func finiteAll(v []float32) bool {
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return false
		}
	}
	return true
}

func checkVec(n *Node, what string, v []float32, c int, required bool) error {
	if v == nil && !required {
		return nil
	}
	if len(v) != c {
		return nodeErr(n, "%s has %d values, want %d (channels)", what, len(v), c)
	}
	if !finiteAll(v) {
		return nodeErr(n, "%s holds NaN or Inf", what)
	}
	return nil
}

func inferShape(n *Node, ins []Shape) (Shape, error) {
	switch n.Op {
	case OpConv, OpDense:
		if err := wantInputs(n, ins, 1); err != nil {
			return Shape{}, err
		}
		in := ins[0]
		var ws Shape
		switch {
		case n.W != nil:
			ws = n.W.Shape
			if len(n.W.Data) != ws.Elems() || ws.Elems() == 0 {
				return Shape{}, nodeErr(n, "weights hold %d values, shape %v needs %d", len(n.W.Data), ws, ws.Elems())
			}
			if !finiteAll(n.W.Data) {
				return Shape{}, nodeErr(n, "weights hold NaN or Inf")
			}
		case n.QW != nil:
			ws = n.QW.Shape
			if len(n.QW.Data) != ws.Elems() || ws.Elems() == 0 {
				return Shape{}, nodeErr(n, "int8 weights hold %d values, shape %v needs %d", len(n.QW.Data), ws, ws.Elems())
			}
			if err := checkVec(n, "weight scales", n.QW.Scale, ws[0], true); err != nil {
				return Shape{}, err
			}
		default:
			return Shape{}, nodeErr(n, "has no weights")
		}
		oc := ws[0]
		if err := checkVec(n, "bias", n.B, oc, false); err != nil {
			return Shape{}, err
		}
		if n.Op == OpDense {
			if in[1] != 1 || in[2] != 1 {
				return Shape{}, nodeErr(n, "input %v must be [N 1 1 K] (add a Flatten)", in)
			}
			if ws[1] != 1 || ws[2] != 1 || ws[3] != in[3] {
				return Shape{}, nodeErr(n, "weight shape %v does not fit input %v (want [OC 1 1 %d])", ws, in, in[3])
			}
			return Shape{in[0], 1, 1, oc}, nil
		}
		g := max(n.Groups, 1)
		if in[3]%g != 0 || oc%g != 0 {
			return Shape{}, nodeErr(n, "groups %d do not divide input channels %d and output channels %d", g, in[3], oc)
		}
		if ws[3] != in[3]/g {
			return Shape{}, nodeErr(n, "weight shape %v needs %d input channels per group, input %v with %d groups gives %d", ws, ws[3], in, g, in[3]/g)
		}
		sh, sw := stride(n)
		oh, _, err := windowPads(n.Pad, in[1], ws[1], sh, true)
		if err != nil {
			return Shape{}, nodeErr(n, "height: %v", err)
		}
		ow, _, err := windowPads(n.Pad, in[2], ws[2], sw, false)
		if err != nil {
			return Shape{}, nodeErr(n, "width: %v", err)
		}
		return Shape{in[0], oh, ow, oc}, nil
	case OpMaxPool, OpAvgPool:
		if err := wantInputs(n, ins, 1); err != nil {
			return Shape{}, err
		}
		in := ins[0]
		if n.Kernel[0] <= 0 || n.Kernel[1] <= 0 {
			return Shape{}, nodeErr(n, "kernel %v must be positive", n.Kernel)
		}
		sh, sw := stride(n)
		oh, _, err := windowPads(n.Pad, in[1], n.Kernel[0], sh, true)
		if err != nil {
			return Shape{}, nodeErr(n, "height: %v", err)
		}
		ow, _, err := windowPads(n.Pad, in[2], n.Kernel[1], sw, false)
		if err != nil {
			return Shape{}, nodeErr(n, "width: %v", err)
		}
		return Shape{in[0], oh, ow, in[3]}, nil
	case OpGlobalAvgPool:
		if err := wantInputs(n, ins, 1); err != nil {
			return Shape{}, err
		}
		return Shape{ins[0][0], 1, 1, ins[0][3]}, nil
	case OpAdd:
		if err := wantInputs(n, ins, 2); err != nil {
			return Shape{}, err
		}
		if ins[0] != ins[1] {
			return Shape{}, nodeErr(n, "input shapes %v and %v differ", ins[0], ins[1])
		}
		return ins[0], nil
	case OpMul:
		if err := wantInputs(n, ins, 2); err != nil {
			return Shape{}, err
		}
		a, b := ins[0], ins[1]
		if a == b || (b[0] == a[0] && b[1] == 1 && b[2] == 1 && b[3] == a[3]) {
			return a, nil
		}
		return Shape{}, nodeErr(n, "cannot multiply %v by %v (want the same shape or [N 1 1 C])", a, b)
	case OpAffine:
		if err := wantInputs(n, ins, 1); err != nil {
			return Shape{}, err
		}
		if err := checkVec(n, "scale", n.Scale, ins[0][3], true); err != nil {
			return Shape{}, err
		}
		if err := checkVec(n, "shift", n.Shift, ins[0][3], true); err != nil {
			return Shape{}, err
		}
		return ins[0], nil
	case OpBatchNorm:
		if err := wantInputs(n, ins, 1); err != nil {
			return Shape{}, err
		}
		if n.BN == nil {
			return Shape{}, nodeErr(n, "has no parameters")
		}
		c := ins[0][3]
		for _, v := range []struct {
			name string
			v    []float32
		}{{"gamma", n.BN.Gamma}, {"beta", n.BN.Beta}, {"mean", n.BN.Mean}, {"variance", n.BN.Var}} {
			if err := checkVec(n, v.name, v.v, c, true); err != nil {
				return Shape{}, err
			}
		}
		return ins[0], nil
	case OpConcat:
		if len(ins) < 1 {
			return Shape{}, nodeErr(n, "has no inputs")
		}
		out := ins[0]
		for _, s := range ins[1:] {
			if s[0] != out[0] || s[1] != out[1] || s[2] != out[2] {
				return Shape{}, nodeErr(n, "input %v does not match %v outside channels", s, ins[0])
			}
			out[3] += s[3]
		}
		return out, nil
	case OpReLU, OpReLU6, OpSigmoid, OpSoftmax, OpLeakyReLU:
		if err := wantInputs(n, ins, 1); err != nil {
			return Shape{}, err
		}
		if n.Op == OpLeakyReLU && !finiteAll([]float32{n.Alpha}) {
			return Shape{}, nodeErr(n, "alpha is not finite")
		}
		return ins[0], nil
	case OpPReLU:
		if err := wantInputs(n, ins, 1); err != nil {
			return Shape{}, err
		}
		if err := checkVec(n, "slope", n.Slope, ins[0][3], true); err != nil {
			return Shape{}, err
		}
		return ins[0], nil
	case OpFlatten:
		if err := wantInputs(n, ins, 1); err != nil {
			return Shape{}, err
		}
		in := ins[0]
		return Shape{in[0], 1, 1, in[1] * in[2] * in[3]}, nil
	case OpReshape:
		if err := wantInputs(n, ins, 1); err != nil {
			return Shape{}, err
		}
		in := ins[0]
		out := n.NewShape
		free, known := -1, 1
		for i, d := range out {
			switch {
			case d == -1 && free < 0:
				free = i
			case d > 0:
				known *= d
			default:
				return Shape{}, nodeErr(n, "new shape %v: dimension %d is %d", out, i, d)
			}
		}
		if free >= 0 {
			if in.Elems()%known != 0 {
				return Shape{}, nodeErr(n, "cannot reshape %v to %v", in, out)
			}
			out[free] = in.Elems() / known
		}
		if out.Elems() != in.Elems() {
			return Shape{}, nodeErr(n, "cannot reshape %v (%d values) to %v (%d values)", in, in.Elems(), out, out.Elems())
		}
		return out, nil
	case OpTranspose:
		if err := wantInputs(n, ins, 1); err != nil {
			return Shape{}, err
		}
		var seen [4]bool
		var out Shape
		for i, p := range n.Perm {
			if p < 0 || p > 3 || seen[p] {
				return Shape{}, nodeErr(n, "permutation %v is not a permutation of 0..3", n.Perm)
			}
			seen[p] = true
			out[i] = ins[0][p]
		}
		return out, nil
	case OpResize:
		if err := wantInputs(n, ins, 1); err != nil {
			return Shape{}, err
		}
		if n.ResizeScale < 1 || n.ResizeScale > 16 {
			return Shape{}, nodeErr(n, "scale %d out of 1..16", n.ResizeScale)
		}
		in := ins[0]
		return Shape{in[0], in[1] * n.ResizeScale, in[2] * n.ResizeScale, in[3]}, nil
	}
	return Shape{}, nodeErr(n, "unknown operator")
}

// Consumers counts, for every tensor, the nodes and graph outputs reading it.
func (g *Graph) Consumers() map[string]int {
	c := make(map[string]int)
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			c[in]++
		}
	}
	for _, o := range g.Outputs {
		c[o]++
	}
	return c
}

// Fold folds every BatchNorm into the Conv or Dense before it (when that
// conv has no fused activation and feeds only the BatchNorm) and turns the
// others into Affine nodes. It rewrites the graph in place; references to a
// folded BatchNorm are renamed to the conv. Call it before Check-ing for execution.
func (g *Graph) Fold() {
	byName := make(map[string]*Node, len(g.Nodes))
	for _, n := range g.Nodes {
		byName[n.Name] = n
	}
	consumers := g.Consumers()
	rename := map[string]string{}
	kept := g.Nodes[:0]
	for _, n := range g.Nodes {
		for i, in := range n.Inputs {
			if r, ok := rename[in]; ok {
				n.Inputs[i] = r
			}
		}
		if n.Op != OpBatchNorm || n.BN == nil || len(n.Inputs) != 1 {
			kept = append(kept, n)
			continue
		}
		bn := n.BN
		c := len(bn.Gamma)
		scale := make([]float32, c)
		shift := make([]float32, c)
		for i := range c {
			s := bn.Gamma[i] / float32(math.Sqrt(float64(bn.Var[i]+bn.Eps)))
			scale[i] = s
			shift[i] = bn.Beta[i] - bn.Mean[i]*s
		}
		prev := byName[n.Inputs[0]]
		if prev != nil && (prev.Op == OpConv || prev.Op == OpDense) && prev.W != nil && prev.QW == nil &&
			prev.Act == ActNone && consumers[prev.Name] == 1 && prev.W.Shape[0] == c {
			per := prev.W.Shape.Elems() / c
			for oc := range c {
				w := prev.W.Data[oc*per : (oc+1)*per]
				for j := range w {
					w[j] *= scale[oc]
				}
			}
			if prev.B == nil {
				prev.B = make([]float32, c)
			}
			for oc := range c {
				prev.B[oc] = prev.B[oc]*scale[oc] + shift[oc]
			}
			rename[n.Name] = prev.Name
			for i, o := range g.Outputs {
				if o == n.Name {
					g.Outputs[i] = prev.Name
				}
			}
			continue
		}
		n.Op, n.Scale, n.Shift, n.BN = OpAffine, scale, shift, nil
		kept = append(kept, n)
	}
	g.Nodes = kept
}
