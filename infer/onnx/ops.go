package onnx

import (
	"fmt"
	"math"
	"slices"

	"github.com/vigil-edge/vigil/infer"
	"github.com/vigil-edge/vigil/infer/onnx/onnxpb"
)

// convert translates one ONNX node into constants or infer nodes and
// returns the value of its first output.
func (im *importer) convert(n *onnxpb.NodeProto, ins []*value) (*value, error) {
	if v, ok, err := im.constNode(n, ins); ok || err != nil {
		return v, err
	}
	op := n.GetOpType()
	switch op {
	case "Conv":
		return im.conv(n, ins)
	case "MaxPool", "AveragePool":
		return im.pool(n, ins)
	case "GlobalAveragePool", "GlobalMaxPool":
		return im.globalPool(n, ins)
	case "BatchNormalization":
		return im.batchNorm(n, ins)
	case "Relu", "Sigmoid", "LeakyRelu", "Clip", "PRelu":
		return im.activation(n, ins)
	case "Add", "Sub", "Mul", "Div":
		return im.binary(n, ins)
	case "Concat":
		return im.concat(n, ins)
	case "Gemm", "MatMul":
		return im.dense(n, ins)
	case "Reshape", "Flatten", "Squeeze", "Unsqueeze":
		return im.reshapeOp(n, ins)
	case "Transpose":
		return im.transpose(n, ins)
	case "Softmax":
		return im.softmax(n, ins)
	case "Resize", "Upsample":
		return im.resize(n, ins)
	case "Pad":
		return im.pad(n, ins)
	case "ReduceMean":
		return im.reduceMean(n, ins)
	case "Sum":
		if len(ins) == 1 {
			return im.act(ins, 0)
		}
		if len(ins) == 2 {
			return im.binary(n, ins)
		}
		return nil, im.unsupported("Sum of %d inputs (only 1 or 2)", len(ins))
	}
	return nil, im.unsupported("operator not supported by the engine")
}

// act returns input k as an activation, or an error.
func (im *importer) act(ins []*value, k int) (*value, error) {
	if k >= len(ins) || ins[k] == nil {
		return nil, im.invalid("missing input %d", k)
	}
	if ins[k].c != nil {
		return nil, im.unsupported("input %d is a constant where the engine needs an activation", k)
	}
	return ins[k], nil
}

// cnst returns input k as a constant (nil when absent and optional).
func (im *importer) cnst(ins []*value, k int, required bool) (*constT, error) {
	if k >= len(ins) || ins[k] == nil {
		if required {
			return nil, im.invalid("missing input %d", k)
		}
		return nil, nil
	}
	if ins[k].c == nil {
		return nil, im.unsupported("input %d (%q) must be a constant (initializer) for the engine", k, im.node.GetInput()[k])
	}
	return ins[k].c, nil
}

// constNode evaluates nodes whose result is known at import time.
func (im *importer) constNode(n *onnxpb.NodeProto, ins []*value) (*value, bool, error) {
	op := n.GetOpType()
	switch op {
	case "Identity", "Dropout":
		if len(ins) == 0 || ins[0] == nil {
			return nil, true, im.invalid("missing input")
		}
		if op == "Dropout" && (attrInt(n, "is_test", 1) == 0 ||
			(len(ins) > 2 && ins[2] != nil && (ins[2].c == nil || !ins[2].c.allEqual(0)))) {
			return nil, true, im.unsupported("Dropout in training mode")
		}
		return ins[0], true, nil
	case "Constant":
		c, err := im.constantAttr(n)
		return &value{c: c}, true, err
	case "Shape":
		if len(ins) != 1 || ins[0] == nil {
			return nil, true, im.invalid("want 1 input")
		}
		s := ins[0].shape
		if ins[0].c != nil {
			s = ins[0].c.dims
		}
		c := &constT{dims: []int{len(s)}, isInt: true}
		for _, d := range s {
			c.i = append(c.i, int64(d))
		}
		return &value{c: c}, true, nil
	case "ConstantOfShape":
		sc, err := im.cnst(ins, 0, true)
		if err != nil {
			return nil, true, err
		}
		dims, err := im.ints(sc)
		if err != nil {
			return nil, true, im.invalid("%v", err)
		}
		if len(dims) > maxRank {
			return nil, true, im.invalid("rank %d", len(dims))
		}
		if _, err := elemsOf(dims); err != nil {
			return nil, true, im.invalid("%v", err)
		}
		c := &constT{dims: dims, splat: true, f: []float32{0}}
		if a := attr(n, "value"); a != nil && a.GetT() != nil {
			v, err := im.decodeTensor(a.GetT())
			if err != nil {
				return nil, true, im.invalid("value: %v", err)
			}
			if v.elems() != 1 {
				return nil, true, im.invalid("value must hold one element")
			}
			c.isInt, c.f, c.i = v.isInt, v.f, v.i
		}
		return &value{c: c}, true, nil
	}
	for _, v := range ins {
		if v != nil && v.c == nil {
			return nil, false, nil
		}
	}
	if len(ins) == 0 {
		return nil, false, nil
	}
	var out *constT
	var err error
	switch op {
	case "Gather":
		data, idx := ins[0], ins[1]
		if len(ins) != 2 || data == nil || idx == nil {
			return nil, true, im.invalid("want 2 inputs")
		}
		out, err = im.gatherConst(data.c, idx.c, attrInt(n, "axis", 0))
	case "Unsqueeze", "Squeeze", "Reshape", "Flatten":
		var dims []int
		dims, err = im.reshapeTarget(n, ins, ins[0].c.dims)
		if err == nil {
			out = reshapeConst(ins[0].c, dims)
		}
	case "Concat":
		cs := make([]*constT, 0, len(ins))
		for _, v := range ins {
			if v != nil {
				cs = append(cs, v.c)
			}
		}
		if len(cs) == 0 {
			return nil, true, im.invalid("no inputs")
		}
		out, err = im.concatConst(cs, attrInt(n, "axis", 0))
	case "Cast":
		c := ins[0].c
		to := onnxpb.TensorProto_DataType(attrInt(n, "to", 0))
		switch to {
		case onnxpb.TensorProto_FLOAT, onnxpb.TensorProto_DOUBLE:
			var f []float32
			f, err = im.floats(c)
			out = &constT{dims: c.dims, f: f}
		case onnxpb.TensorProto_INT64, onnxpb.TensorProto_INT32:
			if err = im.spend(c.elems()); err == nil {
				out = &constT{dims: c.dims, isInt: true, i: make([]int64, c.elems())}
				for k := range out.i {
					out.i[k] = c.atInt(k)
				}
			}
		default:
			return nil, true, im.unsupported("cast of a constant to %v", to)
		}
	case "Add", "Sub", "Mul", "Div":
		if len(ins) != 2 || ins[1] == nil {
			return nil, true, im.invalid("want 2 inputs")
		}
		out, err = im.arithConst(op, ins[0].c, ins[1].c)
	case "Slice":
		out, err = im.sliceConst(n, ins)
	default:
		return nil, true, im.unsupported("operator on constants not supported")
	}
	if err != nil {
		return nil, true, im.invalid("%v", err)
	}
	return &value{c: out}, true, nil
}

func (im *importer) constantAttr(n *onnxpb.NodeProto) (*constT, error) {
	for _, a := range n.GetAttribute() {
		switch a.GetName() {
		case "value":
			if a.GetT() == nil {
				return nil, im.invalid("value is not a tensor")
			}
			c, err := im.decodeTensor(a.GetT())
			if err != nil {
				return nil, im.invalid("%v", err)
			}
			return c, nil
		case "value_float":
			return &constT{f: []float32{a.GetF()}}, nil
		case "value_floats":
			return &constT{dims: []int{len(a.GetFloats())}, f: a.GetFloats()}, nil
		case "value_int":
			return &constT{isInt: true, i: []int64{a.GetI()}}, nil
		case "value_ints":
			return &constT{dims: []int{len(a.GetInts())}, isInt: true, i: a.GetInts()}, nil
		}
	}
	return nil, im.unsupported("Constant without a tensor, float or int value")
}

// sliceConst implements Slice on 1-D constants (shape arithmetic).
func (im *importer) sliceConst(n *onnxpb.NodeProto, ins []*value) (*constT, error) {
	c := ins[0].c
	if len(c.dims) != 1 {
		return nil, fmt.Errorf("slice of a %d-D constant", len(c.dims))
	}
	var starts, ends, axes, steps []int
	var err error
	get := func(k int) ([]int, error) {
		if k >= len(ins) || ins[k] == nil {
			return nil, nil
		}
		return im.ints(ins[k].c)
	}
	if im.opset < 10 {
		starts, ends, axes = attrInts(n, "starts"), attrInts(n, "ends"), attrInts(n, "axes")
	} else {
		if starts, err = get(1); err != nil {
			return nil, err
		}
		if ends, err = get(2); err != nil {
			return nil, err
		}
		if axes, err = get(3); err != nil {
			return nil, err
		}
		if steps, err = get(4); err != nil {
			return nil, err
		}
	}
	if len(starts) != 1 || len(ends) != 1 || (len(axes) > 0 && (len(axes) != 1 || (axes[0] != 0 && axes[0] != -1))) ||
		(len(steps) > 0 && (len(steps) != 1 || steps[0] != 1)) {
		return nil, fmt.Errorf("slice with starts %v ends %v axes %v steps %v", starts, ends, axes, steps)
	}
	d := c.dims[0]
	clamp := func(v int) int {
		if v < 0 {
			v += d
		}
		return max(0, min(v, d))
	}
	s, e := clamp(starts[0]), clamp(ends[0])
	e = max(e, s)
	out := &constT{dims: []int{e - s}, isInt: c.isInt}
	for k := s; k < e; k++ {
		if c.isInt {
			out.i = append(out.i, c.atInt(k))
		} else {
			out.f = append(out.f, float32(c.at(k)))
		}
	}
	return out, nil
}

// reshapeTarget computes the output shape of Reshape, Flatten, Squeeze and
// Unsqueeze applied to a tensor of shape in.
func (im *importer) reshapeTarget(n *onnxpb.NodeProto, ins []*value, in []int) ([]int, error) {
	total, err := elemsOf(in)
	if err != nil {
		return nil, err
	}
	axesOf := func() ([]int, error) {
		if im.opset >= 13 {
			if len(ins) > 1 && ins[1] != nil {
				if ins[1].c == nil {
					return nil, fmt.Errorf("axes must be a constant")
				}
				return im.ints(ins[1].c)
			}
			return nil, nil
		}
		return attrInts(n, "axes"), nil
	}
	switch n.GetOpType() {
	case "Reshape":
		if len(ins) < 2 || ins[1] == nil || ins[1].c == nil {
			return nil, fmt.Errorf("the new shape must be a constant")
		}
		shape, err := im.ints(ins[1].c)
		if err != nil {
			return nil, err
		}
		if len(shape) > maxRank {
			return nil, fmt.Errorf("new shape %v has rank above %d", shape, maxRank)
		}
		out := make([]int, len(shape))
		free, known := -1, 1
		for k, d := range shape {
			switch {
			case d == 0:
				if k >= len(in) {
					return nil, fmt.Errorf("new shape %v copies dimension %d of %v", shape, k, in)
				}
				out[k] = in[k]
			case d == -1 && free < 0:
				free = k
				continue
			case d > 0:
				out[k] = d
			default:
				return nil, fmt.Errorf("new shape %v: dimension %d is %d", shape, k, d)
			}
			if out[k] != 0 && known > (1<<31)/out[k] {
				return nil, fmt.Errorf("new shape %v too large", shape)
			}
			known *= out[k]
		}
		if free >= 0 {
			if known == 0 || total%known != 0 {
				return nil, fmt.Errorf("cannot reshape %v to %v", in, shape)
			}
			out[free] = total / known
		}
		if n2, _ := elemsOf(out); n2 != total {
			return nil, fmt.Errorf("cannot reshape %v (%d values) to %v", in, total, shape)
		}
		return out, nil
	case "Flatten":
		axis := attrInt(n, "axis", 1)
		if axis < 0 {
			axis += len(in)
		}
		if axis < 0 || axis > len(in) {
			return nil, fmt.Errorf("axis %d out of range for shape %v", attrInt(n, "axis", 1), in)
		}
		a, _ := elemsOf(in[:axis])
		b, _ := elemsOf(in[axis:])
		return []int{a, b}, nil
	case "Squeeze":
		axes, err := axesOf()
		if err != nil {
			return nil, err
		}
		drop := make([]bool, len(in))
		for _, a := range axes {
			if a < 0 {
				a += len(in)
			}
			if a < 0 || a >= len(in) || in[a] != 1 {
				return nil, fmt.Errorf("cannot squeeze axis %d of %v", a, in)
			}
			drop[a] = true
		}
		var out []int
		for k, d := range in {
			if (len(axes) == 0 && d == 1) || drop[k] {
				continue
			}
			out = append(out, d)
		}
		return out, nil
	case "Unsqueeze":
		axes, err := axesOf()
		if err != nil {
			return nil, err
		}
		r := len(in) + len(axes)
		if r > maxRank {
			return nil, fmt.Errorf("unsqueeze to rank %d", r)
		}
		ins := make([]bool, r)
		for _, a := range axes {
			if a < 0 {
				a += r
			}
			if a < 0 || a >= r || ins[a] {
				return nil, fmt.Errorf("bad axes %v for rank %d", axes, r)
			}
			ins[a] = true
		}
		out := make([]int, 0, r)
		j := 0
		for k := range r {
			if ins[k] {
				out = append(out, 1)
			} else {
				out = append(out, in[j])
				j++
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("not a reshape")
}

// weights4 converts ONNX OIHW conv weights into infer's [OC,KH,KW,IC/G].
func (im *importer) weights4(w *constT) (*infer.Tensor, error) {
	if len(w.dims) != 4 {
		return nil, im.unsupported("weights of rank %d (shape %v); only 2-D convolutions", len(w.dims), w.dims)
	}
	o, i, kh, kw := w.dims[0], w.dims[1], w.dims[2], w.dims[3]
	if o*i*kh*kw == 0 {
		return nil, im.invalid("empty weights %v", w.dims)
	}
	src, err := im.floats(w)
	if err != nil {
		return nil, err
	}
	if err := im.spend(len(src)); err != nil {
		return nil, err
	}
	dst := make([]float32, len(src))
	for a := range o {
		for b := range i {
			for y := range kh {
				for x := range kw {
					dst[((a*kh+y)*kw+x)*i+b] = src[((a*i+b)*kh+y)*kw+x]
				}
			}
		}
	}
	return &infer.Tensor{Shape: infer.Shape{o, kh, kw, i}, Data: dst}, nil
}

// vector returns a 1-D constant of n floats (bias, BN parameters), accepting
// shapes [n], [1,n] and scalars broadcast to n.
func (im *importer) vector(c *constT, n int, what string) ([]float32, error) {
	if c == nil {
		return nil, nil
	}
	e := c.elems()
	if e != n && e != 1 {
		return nil, im.invalid("%s has shape %v, want %d values", what, c.dims, n)
	}
	if err := im.spend(n); err != nil {
		return nil, err
	}
	out := make([]float32, n)
	for k := range out {
		if e == 1 {
			out[k] = float32(c.at(0))
		} else {
			out[k] = float32(c.at(k))
		}
	}
	return out, nil
}

// window resolves kernel, strides, padding and output size of a Conv or pool
// over an NCHW input of spatial size h x w.
func (im *importer) window(n *onnxpb.NodeProto, h, w, kh, kw int, pool bool) (infer.Padding, [2]int, [2]int, error) {
	var pad infer.Padding
	var out [2]int
	strides := attrInts(n, "strides")
	if strides == nil {
		strides = []int{1, 1}
	}
	if len(strides) != 2 || strides[0] < 1 || strides[1] < 1 {
		return pad, out, [2]int{}, im.unsupported("strides %v", strides)
	}
	st := [2]int{strides[0], strides[1]}
	if d := attrInts(n, "dilations"); d != nil && (len(d) != 2 || d[0] != 1 || d[1] != 1) && (pool || d[0] < 1 || d[1] < 1) {
		return pad, out, st, im.unsupported("dilations %v (only 1 for pools)", d)
	}
	if kh < 1 || kw < 1 || kh > 1<<12 || kw > 1<<12 {
		return pad, out, st, im.invalid("kernel %dx%d", kh, kw)
	}
	p := attrInts(n, "pads")
	if p == nil {
		p = []int{0, 0, 0, 0}
	}
	if len(p) != 4 {
		return pad, out, st, im.unsupported("pads %v (want 4 values)", p)
	}
	for _, v := range p {
		if v < 0 || v > 1<<12 {
			return pad, out, st, im.unsupported("pads %v", p)
		}
	}
	size := func(in, k, s, a, b int) int {
		if in+a+b < k {
			return 0
		}
		return (in+a+b-k)/s + 1
	}
	switch ap := attrString(n, "auto_pad", "NOTSET"); ap {
	case "NOTSET", "":
		pad = infer.Padding{Mode: infer.PadExplicit, Top: p[0], Left: p[1], Bottom: p[2], Right: p[3]}
		out = [2]int{size(h, kh, st[0], p[0], p[2]), size(w, kw, st[1], p[1], p[3])}
		if pool && attrInt(n, "ceil_mode", 0) == 1 {
			// Extend the bottom/right padding so the last partial window
			// counts, as ONNX does, unless it would start in the padding.
			for d, in := range []int{h, w} {
				k, s := []int{kh, kw}[d], st[d]
				lead, trail := p[d], p[d+2]
				o := (in+lead+trail-k+s-1)/s + 1
				if (o-1)*s >= in+lead {
					o--
				}
				extra := max((o-1)*s+k-(in+lead+trail), 0)
				if d == 0 {
					pad.Bottom += extra
				} else {
					pad.Right += extra
				}
				out[d] = o
			}
		}
	case "VALID":
		pad = infer.Padding{Mode: infer.PadValid}
		out = [2]int{size(h, kh, st[0], 0, 0), size(w, kw, st[1], 0, 0)}
	case "SAME_UPPER", "SAME_LOWER":
		out = [2]int{(h + st[0] - 1) / st[0], (w + st[1] - 1) / st[1]}
		if ap == "SAME_UPPER" {
			pad = infer.Padding{Mode: infer.PadSame}
			break
		}
		th := max((out[0]-1)*st[0]+kh-h, 0)
		tw := max((out[1]-1)*st[1]+kw-w, 0)
		pad = infer.Padding{Mode: infer.PadExplicit, Top: th - th/2, Bottom: th / 2, Left: tw - tw/2, Right: tw / 2}
	default:
		return pad, out, st, im.unsupported("auto_pad %q", ap)
	}
	if out[0] < 1 || out[1] < 1 {
		return pad, out, st, im.unsupported("window %dx%d larger than the padded input %dx%d", kh, kw, h, w)
	}
	return pad, out, st, nil
}

func (im *importer) conv(n *onnxpb.NodeProto, ins []*value) (*value, error) {
	x, err := im.act(ins, 0)
	if err != nil {
		return nil, err
	}
	wc, err := im.cnst(ins, 1, true)
	if err != nil {
		return nil, err
	}
	bc, err := im.cnst(ins, 2, false)
	if err != nil {
		return nil, err
	}
	if len(x.shape) != 4 {
		return nil, im.unsupported("input of rank %d; only 2-D convolutions on NCHW tensors", len(x.shape))
	}
	w, err := im.weights4(wc)
	if err != nil {
		return nil, err
	}
	oc, kh, kw, icg := w.Shape[0], w.Shape[1], w.Shape[2], w.Shape[3]
	if ks := attrInts(n, "kernel_shape"); ks != nil && (len(ks) != 2 || ks[0] != kh || ks[1] != kw) {
		return nil, im.invalid("kernel_shape %v does not match weights %v", ks, wc.dims)
	}
	if d := attrInts(n, "dilations"); len(d) == 2 && (d[0] != 1 || d[1] != 1) {
		if w, err = im.dilate(w, d[0], d[1]); err != nil {
			return nil, err
		}
		kh, kw = w.Shape[1], w.Shape[2]
	}
	group := attrInt(n, "group", 1)
	ic := x.shape[1]
	if group < 1 || icg*group != ic || oc%group != 0 {
		return nil, im.invalid("weights %v with group %d do not fit %d input channels", wc.dims, group, ic)
	}
	b, err := im.vector(bc, oc, "bias")
	if err != nil {
		return nil, err
	}
	pad, out, st, err := im.window(n, x.shape[2], x.shape[3], kh, kw, false)
	if err != nil {
		return nil, err
	}
	src, err := im.nchwOf(x)
	if err != nil {
		return nil, err
	}
	if x.pendingPad != nil {
		if pad.Mode != infer.PadExplicit {
			return nil, im.unsupported("Pad before a Conv with auto_pad")
		}
		// The Pad was folded into this Conv's padding.
		pp := x.pendingPad
		pad.Top, pad.Left, pad.Bottom, pad.Right = pad.Top+pp[0], pad.Left+pp[1], pad.Bottom+pp[2], pad.Right+pp[3]
	}
	name := im.emit(n.GetOutput()[0], &infer.Node{Op: infer.OpConv, Inputs: []string{src}, W: w, B: b,
		Stride: st, Pad: pad, Groups: group})
	return &value{name: name, shape: []int{x.shape[0], oc, out[0], out[1]}, lay: nchw}, nil
}

func (im *importer) pool(n *onnxpb.NodeProto, ins []*value) (*value, error) {
	x, err := im.act(ins, 0)
	if err != nil {
		return nil, err
	}
	if len(x.shape) != 4 {
		return nil, im.unsupported("input of rank %d; only 2-D pooling", len(x.shape))
	}
	ks := attrInts(n, "kernel_shape")
	if len(ks) != 2 {
		return nil, im.unsupported("kernel_shape %v", ks)
	}
	pad, out, st, err := im.window(n, x.shape[2], x.shape[3], ks[0], ks[1], true)
	if err != nil {
		return nil, err
	}
	op := infer.OpMaxPool
	if n.GetOpType() == "AveragePool" {
		op = infer.OpAvgPool
		padded := pad.Mode == infer.PadSame || pad.Top+pad.Left+pad.Bottom+pad.Right > 0
		if attrInt(n, "count_include_pad", 0) != 0 && padded {
			return nil, im.unsupported("count_include_pad=1 with padding (the engine leaves padding out of the mean)")
		}
	}
	if len(n.GetOutput()) > 1 && n.GetOutput()[1] != "" && im.users[n.GetOutput()[1]] > 0 {
		return nil, im.unsupported("MaxPool indices output")
	}
	src, err := im.nchwOf(x)
	if err != nil {
		return nil, err
	}
	name := im.emit(n.GetOutput()[0], &infer.Node{Op: op, Inputs: []string{src}, Kernel: [2]int{ks[0], ks[1]}, Stride: st, Pad: pad})
	return &value{name: name, shape: []int{x.shape[0], x.shape[1], out[0], out[1]}, lay: nchw}, nil
}

func (im *importer) globalPool(n *onnxpb.NodeProto, ins []*value) (*value, error) {
	x, err := im.act(ins, 0)
	if err != nil {
		return nil, err
	}
	src, err := im.nchwOf(x)
	if err != nil {
		return nil, err
	}
	node := &infer.Node{Op: infer.OpGlobalAvgPool, Inputs: []string{src}}
	if n.GetOpType() == "GlobalMaxPool" {
		node = &infer.Node{Op: infer.OpMaxPool, Inputs: []string{src}, Kernel: [2]int{x.shape[2], x.shape[3]},
			Pad: infer.Padding{Mode: infer.PadValid}}
	}
	name := im.emit(n.GetOutput()[0], node)
	return &value{name: name, shape: []int{x.shape[0], x.shape[1], 1, 1}, lay: nchw}, nil
}

// channelTensor returns v's tensor with ONNX axis 1 as the infer channel
// axis (rank-4 NCHW, or rank-2 [N,C]).
func (im *importer) channelTensor(v *value) (string, layout, error) {
	switch len(v.shape) {
	case 4:
		s, err := im.nchwOf(v)
		return s, nchw, err
	case 2:
		return im.plainOf(v), plain, nil
	}
	return "", 0, im.unsupported("channel operation on a tensor of shape %v", v.shape)
}

func (im *importer) batchNorm(n *onnxpb.NodeProto, ins []*value) (*value, error) {
	x, err := im.act(ins, 0)
	if err != nil {
		return nil, err
	}
	if attrInt(n, "training_mode", 0) != 0 {
		return nil, im.unsupported("training_mode=1")
	}
	if attr(n, "spatial") != nil && attrInt(n, "spatial", 1) != 1 {
		return nil, im.unsupported("spatial=0")
	}
	c := x.shape[min(1, len(x.shape)-1)]
	var p [4][]float32
	for k := range p {
		cc, err := im.cnst(ins, k+1, true)
		if err != nil {
			return nil, err
		}
		if p[k], err = im.vector(cc, c, []string{"scale", "bias", "mean", "variance"}[k]); err != nil {
			return nil, err
		}
	}
	src, lay, err := im.channelTensor(x)
	if err != nil {
		return nil, err
	}
	bn := &infer.BatchNorm{Gamma: p[0], Beta: p[1], Mean: p[2], Var: p[3], Eps: attrFloat(n, "epsilon", 1e-5)}
	name := im.emit(n.GetOutput()[0], &infer.Node{Op: infer.OpBatchNorm, Inputs: []string{src}, BN: bn})
	return &value{name: name, shape: x.shape, lay: lay}, nil
}

// perChannel returns a constant as one value per infer channel of x, when it
// broadcasts that way onto x (scalars, [C], [C,1,1], [1,C,1,1] for NCHW
// tensors; [..., C] with leading ones for plain tensors).
func (im *importer) perChannel(x *value, c *constT) ([]float32, bool, error) {
	r := len(x.shape)
	if len(c.dims) > r {
		return nil, false, nil
	}
	ca := r - 1
	if x.lay == nchw {
		ca = 1
	}
	nc := x.shape[ca]
	per := false
	for k, d := range c.dims {
		axis := k + r - len(c.dims)
		switch {
		case d == 1:
		case axis == ca && d == nc:
			per = true
		default:
			return nil, false, nil
		}
	}
	if err := im.spend(nc); err != nil {
		return nil, false, err
	}
	out := make([]float32, nc)
	for k := range out {
		if per {
			out[k] = float32(c.at(k))
		} else {
			out[k] = float32(c.at(0))
		}
	}
	return out, true, nil
}

// perChannelAny tries x as it is and, for rank-4 plain tensors, as NCHW.
func (im *importer) perChannelAny(x *value, c *constT) (*value, []float32, error) {
	v, ok, err := im.perChannel(x, c)
	if err != nil || ok {
		return x, v, err
	}
	if len(x.shape) == 4 && x.lay == nchw {
		// A constant along the last ONNX axis: apply it in plain layout.
		y := &value{name: im.plainOf(x), shape: x.shape, lay: plain}
		v, ok, err = im.perChannel(y, c)
		if err != nil || ok {
			return y, v, err
		}
	}
	if len(x.shape) == 4 && x.lay == plain {
		name, err := im.nchwOf(x)
		if err != nil {
			return nil, nil, err
		}
		y := &value{name: name, shape: x.shape, lay: nchw}
		v, ok, err = im.perChannel(y, c)
		if err != nil || ok {
			return y, v, err
		}
	}
	return nil, nil, im.unsupported("constant of shape %v does not broadcast per channel onto %v", c.dims, x.shape)
}

func (im *importer) activation(n *onnxpb.NodeProto, ins []*value) (*value, error) {
	x, err := im.act(ins, 0)
	if err != nil {
		return nil, err
	}
	node := &infer.Node{Inputs: []string{x.name}}
	switch n.GetOpType() {
	case "Relu":
		node.Op = infer.OpReLU
	case "Sigmoid":
		node.Op = infer.OpSigmoid
	case "LeakyRelu":
		node.Op, node.Alpha = infer.OpLeakyReLU, attrFloat(n, "alpha", 0.01)
	case "Clip":
		lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
		if im.opset < 11 {
			lo, hi = attrFloat(n, "min", lo), attrFloat(n, "max", hi)
		} else {
			if attr(n, "min") != nil || attr(n, "max") != nil {
				return nil, im.invalid("min/max attributes in opset %d (they are inputs since opset 11)", im.opset)
			}
			for k, p := range []*float32{&lo, &hi} {
				c, err := im.cnst(ins, k+1, false)
				if err != nil {
					return nil, err
				}
				if c != nil {
					if c.elems() != 1 {
						return nil, im.invalid("clip bound of shape %v", c.dims)
					}
					*p = float32(c.at(0))
				}
			}
		}
		switch {
		case lo == 0 && hi == 6:
			node.Op = infer.OpReLU6
		case lo == 0 && math.IsInf(float64(hi), 1):
			node.Op = infer.OpReLU
		default:
			return nil, im.unsupported("Clip(%g, %g): only Clip(0, 6) and Clip(0, inf)", lo, hi)
		}
	case "PRelu":
		sc, err := im.cnst(ins, 1, true)
		if err != nil {
			return nil, err
		}
		y, slope, err := im.perChannelAny(x, sc)
		if err != nil {
			return nil, err
		}
		x = y
		node.Op, node.Slope, node.Inputs[0] = infer.OpPReLU, slope, y.name
	}
	name := im.emit(n.GetOutput()[0], node)
	return &value{name: name, shape: x.shape, lay: x.lay}, nil
}

func (im *importer) binary(n *onnxpb.NodeProto, ins []*value) (*value, error) {
	if len(ins) != 2 || ins[0] == nil || ins[1] == nil {
		return nil, im.invalid("want 2 inputs")
	}
	op := n.GetOpType()
	if op == "Sum" {
		op = "Add"
	}
	if im.opset < 7 && attr(n, "broadcast") != nil {
		return nil, im.unsupported("legacy broadcast attribute")
	}
	a, b := ins[0], ins[1]
	out := n.GetOutput()[0]
	if a.c == nil && b.c == nil {
		return im.binaryActs(op, out, a, b)
	}
	x, c, constFirst := a, b.c, false
	if a.c != nil {
		x, c, constFirst = b, a.c, true
	}
	y, vec, err := im.perChannelAny(x, c)
	if err != nil {
		return nil, err
	}
	scale, shift := make([]float32, len(vec)), make([]float32, len(vec))
	for k, v := range vec {
		switch {
		case op == "Add":
			scale[k], shift[k] = 1, v
		case op == "Mul":
			scale[k] = v
		case op == "Sub" && !constFirst:
			scale[k], shift[k] = 1, -v
		case op == "Sub":
			scale[k], shift[k] = -1, v
		case op == "Div" && !constFirst:
			scale[k] = 1 / v
		default:
			return nil, im.unsupported("division of a constant by an activation")
		}
	}
	if err := im.spend(2 * len(vec)); err != nil {
		return nil, err
	}
	name := im.emit(out, &infer.Node{Op: infer.OpAffine, Inputs: []string{y.name}, Scale: scale, Shift: shift})
	return &value{name: name, shape: y.shape, lay: y.lay}, nil
}

// binaryActs handles Add and Mul of two activations.
func (im *importer) binaryActs(op, out string, a, b *value) (*value, error) {
	if op != "Add" && op != "Mul" {
		return nil, im.unsupported("%s of two activations", op)
	}
	if slices.Equal(a.shape, b.shape) {
		var sa, sb string
		lay := plain
		if len(a.shape) == 4 && (a.lay == nchw || b.lay == nchw) {
			var err error
			if sa, err = im.nchwOf(a); err != nil {
				return nil, err
			}
			if sb, err = im.nchwOf(b); err != nil {
				return nil, err
			}
			lay = nchw
		} else {
			sa, sb = im.plainOf(a), im.plainOf(b)
		}
		iop := infer.OpAdd
		if op == "Mul" {
			iop = infer.OpMul
		}
		name := im.emit(out, &infer.Node{Op: iop, Inputs: []string{sa, sb}})
		return &value{name: name, shape: a.shape, lay: lay}, nil
	}
	// Mul of [N,C,H,W] by [N,C,1,1] (squeeze-and-excitation).
	if op == "Mul" && len(a.shape) == 4 && len(b.shape) == 4 {
		if a.shape[2]*a.shape[3] == 1 {
			a, b = b, a
		}
		if b.shape[0] == a.shape[0] && b.shape[1] == a.shape[1] && b.shape[2] == 1 && b.shape[3] == 1 {
			sa, err := im.nchwOf(a)
			if err != nil {
				return nil, err
			}
			sb, err := im.nchwOf(b)
			if err != nil {
				return nil, err
			}
			name := im.emit(out, &infer.Node{Op: infer.OpMul, Inputs: []string{sa, sb}})
			return &value{name: name, shape: a.shape, lay: nchw}, nil
		}
	}
	return nil, im.unsupported("%s of shapes %v and %v (the engine broadcasts only [N,C,1,1] in Mul)", op, a.shape, b.shape)
}

func (im *importer) concat(n *onnxpb.NodeProto, ins []*value) (*value, error) {
	var acts []*value
	var rank int
	for _, v := range ins {
		if v == nil {
			continue
		}
		if v.c == nil {
			acts = append(acts, v)
			rank = len(v.shape)
		}
	}
	if len(acts) == 0 {
		return nil, im.invalid("no inputs")
	}
	axis := attrInt(n, "axis", 1)
	if axis < 0 {
		axis += rank
	}
	if axis < 0 || axis >= rank {
		return nil, im.invalid("axis %d for rank %d", attrInt(n, "axis", 1), rank)
	}
	// Output shape, checking every input.
	outShape := slices.Clone(acts[0].shape)
	outShape[axis] = 0
	for _, v := range ins {
		if v == nil {
			continue
		}
		s := v.shape
		if v.c != nil {
			s = v.c.dims
		}
		if len(s) != rank {
			return nil, im.invalid("input shapes %v and %v differ in rank", acts[0].shape, s)
		}
		for k := range rank {
			if k != axis && s[k] != acts[0].shape[k] {
				return nil, im.invalid("input shapes %v and %v differ outside axis %d", acts[0].shape, s, axis)
			}
		}
		outShape[axis] += s[axis]
	}
	out := n.GetOutput()[0]
	if len(acts) != len(ins) {
		return im.padChannels(out, ins, acts, axis, outShape)
	}
	if rank == 4 && axis == 1 {
		names := make([]string, len(acts))
		for k, v := range acts {
			var err error
			if names[k], err = im.nchwOf(v); err != nil {
				return nil, err
			}
		}
		name := im.emit(out, &infer.Node{Op: infer.OpConcat, Inputs: names})
		return &value{name: name, shape: outShape, lay: nchw}, nil
	}
	// Row-major concatenation on any axis is a channel concatenation of
	// the inputs viewed as [1,1,outer,inner].
	outer, _ := elemsOf(outShape[:axis])
	names := make([]string, len(acts))
	for k, v := range acts {
		inner, _ := elemsOf(v.shape[axis:])
		src, ss := im.flatOfShape(v)
		names[k] = im.reshapeTo(out+"/in", src, ss, infer.Shape{1, 1, outer, inner})
	}
	total, _ := elemsOf(outShape[axis:])
	name := im.emit(out+"/flat", &infer.Node{Op: infer.OpConcat, Inputs: names})
	s4, err := to4(outShape)
	if err != nil {
		return nil, im.unsupported("%v", err)
	}
	name = im.reshapeTo(out, name, infer.Shape{1, 1, outer, total}, s4)
	return &value{name: name, shape: outShape, lay: plain}, nil
}

// flatOfShape returns an infer tensor whose flat data is v's ONNX row-major
// order, and that tensor's infer shape (which may differ from to4(v.shape)).
func (im *importer) flatOfShape(v *value) (string, infer.Shape) {
	if v.lay == nchw && trivialCHW(v.shape) {
		return v.name, storage(v)
	}
	s, _ := to4(v.shape)
	return im.plainOf(v), s
}

// padChannels handles Concat of one NCHW activation with zero constants on
// the channel axis (tf2onnx's channel padding before a residual Add). Each
// block of zeros comes from a convolution of the input with zero weights,
// grouped as finely as the channel counts allow so it costs a few MACs per
// pixel: exact in float32, and an ordinary Concat for the int8 executor.
func (im *importer) padChannels(out string, ins, acts []*value, axis int, outShape []int) (*value, error) {
	if len(acts) != 1 || len(outShape) != 4 || axis != 1 {
		return nil, im.unsupported("concatenation of activations with constants (only zero padding of one NCHW tensor's channels)")
	}
	x := acts[0]
	c := x.shape[1]
	src, err := im.nchwOf(x)
	if err != nil {
		return nil, err
	}
	var parts []string
	for _, v := range ins {
		if v == nil {
			continue
		}
		if v.c == nil {
			parts = append(parts, src)
			continue
		}
		if !v.c.allEqual(0) {
			return nil, im.unsupported("concatenation with a non-zero constant")
		}
		k := v.c.dims[1]
		if k == 0 {
			continue
		}
		g := gcd(c, k)
		if err := im.spend(k * c / g); err != nil {
			return nil, err
		}
		w := &infer.Tensor{Shape: infer.Shape{k, 1, 1, c / g}, Data: make([]float32, k*c/g)}
		parts = append(parts, im.emit(out+"/zeros", &infer.Node{Op: infer.OpConv, Inputs: []string{src}, W: w, Groups: g}))
	}
	name := im.emit(out, &infer.Node{Op: infer.OpConcat, Inputs: parts})
	return &value{name: name, shape: outShape, lay: nchw}, nil
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func (im *importer) dense(n *onnxpb.NodeProto, ins []*value) (*value, error) {
	a, err := im.act(ins, 0)
	if err != nil {
		return nil, err
	}
	bc, err := im.cnst(ins, 1, true)
	if err != nil {
		return nil, err
	}
	if len(a.shape) != 2 || len(bc.dims) != 2 {
		return nil, im.unsupported("%s of shapes %v and %v (only [N,K] x [K,M] with constant weights)", n.GetOpType(), a.shape, bc.dims)
	}
	gemm := n.GetOpType() == "Gemm"
	transB, alpha, beta := 0, float32(1), float32(1)
	if gemm {
		if attrInt(n, "transA", 0) != 0 {
			return nil, im.unsupported("transA=1")
		}
		transB, alpha, beta = attrInt(n, "transB", 0), attrFloat(n, "alpha", 1), attrFloat(n, "beta", 1)
	}
	k := a.shape[1]
	var oc int
	if transB != 0 {
		oc = bc.dims[0]
		if bc.dims[1] != k {
			return nil, im.invalid("weights %v (transposed) do not fit input %v", bc.dims, a.shape)
		}
	} else {
		oc = bc.dims[1]
		if bc.dims[0] != k {
			return nil, im.invalid("weights %v do not fit input %v", bc.dims, a.shape)
		}
	}
	if oc < 1 {
		return nil, im.invalid("weights %v", bc.dims)
	}
	src, err := im.floats(bc)
	if err != nil {
		return nil, err
	}
	if err := im.spend(oc * k); err != nil {
		return nil, err
	}
	w := &infer.Tensor{Shape: infer.Shape{oc, 1, 1, k}, Data: make([]float32, oc*k)}
	for o := range oc {
		for j := range k {
			if transB != 0 {
				w.Data[o*k+j] = alpha * src[o*k+j]
			} else {
				w.Data[o*k+j] = alpha * src[j*oc+o]
			}
		}
	}
	var bias []float32
	if gemm {
		cc, err := im.cnst(ins, 2, false)
		if err != nil {
			return nil, err
		}
		if cc != nil {
			if cc.elems() != oc && cc.elems() != 1 {
				return nil, im.unsupported("bias of shape %v (want [%d])", cc.dims, oc)
			}
			if bias, err = im.vector(cc, oc, "bias"); err != nil {
				return nil, err
			}
			for j := range bias {
				bias[j] *= beta
			}
		}
	}
	name := im.emit(n.GetOutput()[0], &infer.Node{Op: infer.OpDense, Inputs: []string{im.plainOf(a)}, W: w, B: bias})
	return &value{name: name, shape: []int{a.shape[0], oc}, lay: plain}, nil
}

func (im *importer) reshapeOp(n *onnxpb.NodeProto, ins []*value) (*value, error) {
	x, err := im.act(ins, 0)
	if err != nil {
		return nil, err
	}
	shape, err := im.reshapeTarget(n, ins, x.shape)
	if err != nil {
		return nil, im.invalid("%v", err)
	}
	return im.reshapeAct(n.GetOutput()[0], x, shape)
}

// reshapeAct reinterprets x's ONNX row-major values with a new shape.
func (im *importer) reshapeAct(out string, x *value, shape []int) (*value, error) {
	if len(shape) > 4 {
		return nil, im.unsupported("result of rank %d (shape %v); the engine is 4-D", len(shape), shape)
	}
	for _, d := range shape {
		if d < 1 {
			return nil, im.invalid("shape %v", shape)
		}
	}
	lay := plain
	target, _ := to4(shape)
	if len(shape) == 4 && trivialCHW(shape) {
		// Same flat data either way: take the layout convolutions want.
		lay = nchw
		target = infer.Shape{shape[0], shape[2], shape[3], shape[1]}
	}
	src, ss := im.flatOfShape(x)
	name := im.reshapeTo(out, src, ss, target)
	return &value{name: name, shape: shape, lay: lay}, nil
}

func (im *importer) transpose(n *onnxpb.NodeProto, ins []*value) (*value, error) {
	x, err := im.act(ins, 0)
	if err != nil {
		return nil, err
	}
	r := len(x.shape)
	perm := attrInts(n, "perm")
	if perm == nil {
		for k := r - 1; k >= 0; k-- {
			perm = append(perm, k)
		}
	}
	if len(perm) != r {
		return nil, im.invalid("perm %v for rank %d", perm, r)
	}
	seen := make([]bool, r)
	outShape := make([]int, r)
	for k, p := range perm {
		if p < 0 || p >= r || seen[p] {
			return nil, im.invalid("perm %v is not a permutation", perm)
		}
		seen[p] = true
		outShape[k] = x.shape[p]
	}
	// R: storage permutation giving the output in plain layout.
	pos := func(a int) int {
		if a == 0 && r > 1 {
			return 0
		}
		return a + 4 - r
	}
	R := [4]int{0, 1, 2, 3}
	if x.lay == nchw {
		qinv := [4]int{0, 3, 1, 2}
		for k := range 4 {
			R[k] = qinv[perm[k]]
		}
	} else {
		for k := range r {
			R[pos(k)] = pos(perm[k])
		}
	}
	in := storage(x)
	out := n.GetOutput()[0]
	if R == [4]int{0, 1, 2, 3} {
		return &value{name: x.name, shape: outShape, lay: plain}, nil
	}
	if r == 4 {
		q := [4]int{0, 2, 3, 1}
		var R2 [4]int
		for k := range 4 {
			R2[k] = R[q[k]]
		}
		if R2 == [4]int{0, 1, 2, 3} {
			return &value{name: x.name, shape: outShape, lay: nchw}, nil
		}
	}
	s4, _ := to4(outShape)
	if onlyMovesOnes(R, in) {
		return &value{name: im.reshapeTo(out, x.name, in, s4), shape: outShape, lay: plain}, nil
	}
	name := im.emit(out, &infer.Node{Op: infer.OpTranspose, Inputs: []string{x.name}, Perm: R})
	return &value{name: name, shape: outShape, lay: plain}, nil
}

// onlyMovesOnes reports whether permuting s by p keeps the order of every
// dimension larger than one, so that it is a reshape.
func onlyMovesOnes(p [4]int, s infer.Shape) bool {
	last := -1
	for _, d := range p {
		if s[d] > 1 {
			if d < last {
				return false
			}
			last = d
		}
	}
	return true
}

func (im *importer) softmax(n *onnxpb.NodeProto, ins []*value) (*value, error) {
	x, err := im.act(ins, 0)
	if err != nil {
		return nil, err
	}
	r := len(x.shape)
	def := 1
	if im.opset >= 13 {
		def = -1
	}
	axis := attrInt(n, "axis", def)
	if axis < 0 {
		axis += r
	}
	if axis < 0 || axis >= r {
		return nil, im.invalid("axis %d for rank %d", attrInt(n, "axis", def), r)
	}
	out := n.GetOutput()[0]
	// The values reduced together: axis alone (opset 13) or axis..r-1.
	trailing := 1
	for _, d := range x.shape[axis+1:] {
		trailing *= d
	}
	if im.opset >= 13 && trailing != 1 {
		if x.lay == nchw && axis == 1 {
			name := im.emit(out, &infer.Node{Op: infer.OpSoftmax, Inputs: []string{x.name}})
			return &value{name: name, shape: x.shape, lay: nchw}, nil
		}
		return nil, im.unsupported("softmax over axis %d of %v (only the last axis or NCHW channels)", axis, x.shape)
	}
	if x.lay == nchw && axis == 1 && x.shape[2]*x.shape[3] == 1 {
		name := im.emit(out, &infer.Node{Op: infer.OpSoftmax, Inputs: []string{x.name}})
		return &value{name: name, shape: x.shape, lay: nchw}, nil
	}
	outer, _ := elemsOf(x.shape[:axis])
	inner, _ := elemsOf(x.shape[axis:])
	src, ss := im.flatOfShape(x)
	view := infer.Shape{1, 1, outer, inner}
	name := im.reshapeTo(out+"/2d", src, ss, view)
	s4, _ := to4(x.shape)
	if s4 == view {
		name = im.emit(out, &infer.Node{Op: infer.OpSoftmax, Inputs: []string{name}})
	} else {
		name = im.emit(out+"/softmax", &infer.Node{Op: infer.OpSoftmax, Inputs: []string{name}})
		name = im.emit(out, &infer.Node{Op: infer.OpReshape, Inputs: []string{name}, NewShape: s4})
	}
	return &value{name: name, shape: x.shape, lay: plain}, nil
}

// resize handles nearest-neighbour upsampling by an integer factor, the same
// in height and width, checking that the file's coordinate mode really maps
// output pixel x to input pixel x/factor.
func (im *importer) resize(n *onnxpb.NodeProto, ins []*value) (*value, error) {
	x, err := im.act(ins, 0)
	if err != nil {
		return nil, err
	}
	if len(x.shape) != 4 {
		return nil, im.unsupported("resize of a rank-%d tensor", len(x.shape))
	}
	if mode := attrString(n, "mode", "nearest"); mode != "nearest" {
		return nil, im.unsupported("mode %q (only nearest)", mode)
	}
	var scales []float64
	var sizes []int
	switch {
	case n.GetOpType() == "Upsample" && im.opset < 9:
		a := attr(n, "scales")
		if a == nil {
			return nil, im.invalid("no scales")
		}
		for _, f := range a.GetFloats() {
			scales = append(scales, float64(f))
		}
	case n.GetOpType() == "Upsample" || im.opset == 10:
		c, err := im.cnst(ins, 1, true)
		if err != nil {
			return nil, err
		}
		for k := range min(c.elems(), maxRank) {
			scales = append(scales, c.at(k))
		}
	default:
		if c, err := im.cnst(ins, 2, false); err != nil {
			return nil, err
		} else if c != nil && c.elems() > 0 {
			for k := range min(c.elems(), maxRank) {
				scales = append(scales, c.at(k))
			}
		}
		if c, err := im.cnst(ins, 3, false); err != nil {
			return nil, err
		} else if c != nil && c.elems() > 0 {
			if sizes, err = im.ints(c); err != nil {
				return nil, err
			}
		}
	}
	var f [2]int
	switch {
	case len(scales) == 4:
		if scales[0] != 1 || scales[1] != 1 {
			return nil, im.unsupported("scales %v (only height and width)", scales)
		}
		for k := range 2 {
			f[k] = int(scales[k+2])
			if float64(f[k]) != scales[k+2] {
				return nil, im.unsupported("scales %v (only integer factors)", scales)
			}
		}
	case len(sizes) == 4:
		if sizes[0] != x.shape[0] || sizes[1] != x.shape[1] || sizes[2]%x.shape[2] != 0 || sizes[3]%x.shape[3] != 0 {
			return nil, im.unsupported("sizes %v from %v (only integer factors)", sizes, x.shape)
		}
		f = [2]int{sizes[2] / x.shape[2], sizes[3] / x.shape[3]}
	default:
		return nil, im.invalid("needs 4 scales or 4 sizes")
	}
	if f[0] != f[1] || f[0] < 1 || f[0] > 16 {
		return nil, im.unsupported("factors %dx%d (only the same integer factor 1..16 for height and width)", f[0], f[1])
	}
	ctm, nm := "asymmetric", "floor"
	if n.GetOpType() == "Resize" && im.opset >= 11 {
		ctm = attrString(n, "coordinate_transformation_mode", "half_pixel")
		nm = attrString(n, "nearest_mode", "round_prefer_floor")
	}
	for d := range 2 {
		in := x.shape[2+d]
		if !nearestReplicates(ctm, nm, in, f[0]) {
			return nil, im.unsupported("coordinate_transformation_mode %q with nearest_mode %q does not replicate pixels %dx", ctm, nm, f[0])
		}
	}
	src, err := im.nchwOf(x)
	if err != nil {
		return nil, err
	}
	name := im.emit(n.GetOutput()[0], &infer.Node{Op: infer.OpResize, Inputs: []string{src}, ResizeScale: f[0]})
	return &value{name: name, shape: []int{x.shape[0], x.shape[1], x.shape[2] * f[0], x.shape[3] * f[0]}, lay: nchw}, nil
}

// nearestReplicates reports whether ONNX nearest resizing of in pixels by
// factor s maps every output pixel x to input x/s.
func nearestReplicates(ctm, nm string, in, s int) bool {
	out := in * s
	for x := range min(out, 64*s) {
		var o float64
		fs := float64(s)
		switch ctm {
		case "half_pixel":
			o = (float64(x)+0.5)/fs - 0.5
		case "pytorch_half_pixel":
			if out > 1 {
				o = (float64(x)+0.5)/fs - 0.5
			}
		case "asymmetric":
			o = float64(x) / fs
		case "tf_half_pixel_for_nn":
			o = (float64(x) + 0.5) / fs
		case "align_corners":
			if out > 1 {
				o = float64(x) * float64(in-1) / float64(out-1)
			}
		default:
			return false
		}
		var k float64
		switch nm {
		case "round_prefer_floor":
			if o-math.Floor(o) == 0.5 {
				k = math.Floor(o)
			} else {
				k = math.Round(o)
			}
		case "round_prefer_ceil":
			if o-math.Floor(o) == 0.5 {
				k = math.Ceil(o)
			} else {
				k = math.Round(o)
			}
		case "floor":
			k = math.Floor(o)
		case "ceil":
			k = math.Ceil(o)
		default:
			return false
		}
		k = max(0, min(k, float64(in-1)))
		if int(k) != x/s {
			return false
		}
	}
	return true
}

// pad handles a constant zero Pad of the spatial axes of an NCHW tensor
// whose every consumer is a Conv: the padding is added to theirs.
func (im *importer) pad(n *onnxpb.NodeProto, ins []*value) (*value, error) {
	x, err := im.act(ins, 0)
	if err != nil {
		return nil, err
	}
	if mode := attrString(n, "mode", "constant"); mode != "constant" {
		return nil, im.unsupported("mode %q (only constant zero padding before a Conv)", mode)
	}
	var pads []int
	padValue := 0.0
	if im.opset < 11 {
		pads = attrInts(n, "pads")
		padValue = float64(attrFloat(n, "value", 0))
	} else {
		c, err := im.cnst(ins, 1, true)
		if err != nil {
			return nil, err
		}
		if pads, err = im.ints(c); err != nil {
			return nil, err
		}
		if v, err := im.cnst(ins, 2, false); err != nil {
			return nil, err
		} else if v != nil && v.elems() > 0 {
			padValue = v.at(0)
		}
	}
	if len(x.shape) != 4 || len(pads) != 8 || padValue != 0 || pads[0] != 0 || pads[1] != 0 || pads[4] != 0 || pads[5] != 0 {
		return nil, im.unsupported("pads %v value %g on %v (only zero padding of height and width)", pads, padValue, x.shape)
	}
	for _, p := range pads {
		if p < 0 || p > 1<<12 {
			return nil, im.unsupported("pads %v", pads)
		}
	}
	out := n.GetOutput()[0]
	if !im.onlyConvUsers(out) {
		return nil, im.unsupported("Pad feeding something else than a Conv")
	}
	src, err := im.nchwOf(x)
	if err != nil {
		return nil, err
	}
	shape := []int{x.shape[0], x.shape[1], x.shape[2] + pads[2] + pads[6], x.shape[3] + pads[3] + pads[7]}
	return &value{name: src, shape: shape, lay: nchw, pendingPad: []int{pads[2], pads[3], pads[6], pads[7]}}, nil
}

// dilate turns a dilated kernel into the equivalent undilated one with
// zeros between the taps: exact, at the cost of the zero multiplies (the
// engine has no dilation).
func (im *importer) dilate(w *infer.Tensor, dh, dw int) (*infer.Tensor, error) {
	if dh < 1 || dw < 1 || dh > 64 || dw > 64 {
		return nil, im.unsupported("dilations %dx%d", dh, dw)
	}
	oc, kh, kw, ic := w.Shape[0], w.Shape[1], w.Shape[2], w.Shape[3]
	nh, nw := (kh-1)*dh+1, (kw-1)*dw+1
	n := oc * nh * nw * ic
	if err := im.spend(n); err != nil {
		return nil, err
	}
	out := &infer.Tensor{Shape: infer.Shape{oc, nh, nw, ic}, Data: make([]float32, n)}
	for o := range oc {
		for y := range kh {
			for x := range kw {
				copy(out.Data[((o*nh+y*dh)*nw+x*dw)*ic:][:ic], w.Data[((o*kh+y)*kw+x)*ic:][:ic])
			}
		}
	}
	return out, nil
}

// reduceMean handles the mean over the spatial axes of an NCHW tensor (a
// global average pool written as ReduceMean, as Keras exports do).
func (im *importer) reduceMean(n *onnxpb.NodeProto, ins []*value) (*value, error) {
	x, err := im.act(ins, 0)
	if err != nil {
		return nil, err
	}
	axes := attrInts(n, "axes")
	for k, a := range axes {
		if a < 0 {
			axes[k] = a + len(x.shape)
		}
	}
	slices.Sort(axes)
	if len(x.shape) != 4 || !slices.Equal(axes, []int{2, 3}) {
		return nil, im.unsupported("mean over axes %v of %v (only the spatial axes of an NCHW tensor)", attrInts(n, "axes"), x.shape)
	}
	src, err := im.nchwOf(x)
	if err != nil {
		return nil, err
	}
	out := n.GetOutput()[0]
	if attrInt(n, "keepdims", 1) != 0 {
		name := im.emit(out, &infer.Node{Op: infer.OpGlobalAvgPool, Inputs: []string{src}})
		return &value{name: name, shape: []int{x.shape[0], x.shape[1], 1, 1}, lay: nchw}, nil
	}
	name := im.emit(out+"/pool", &infer.Node{Op: infer.OpGlobalAvgPool, Inputs: []string{src}})
	// [N,1,1,C] is already the plain layout of [N,C].
	return &value{name: name, shape: []int{x.shape[0], x.shape[1]}, lay: plain}, nil
}
