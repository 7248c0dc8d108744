package onnx

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/vigil-edge/vigil/infer/onnx/onnxpb"
)

// maxRank bounds the rank of any tensor the importer handles.
const maxRank = 8

// constT is a constant tensor known at import time: an initializer, a
// Constant node or the folded result of shape arithmetic. Exactly one of f
// and i holds the values, row-major. A splat holds a single value repeated
// over dims (ConstantOfShape), so a huge fuzzed shape costs nothing.
type constT struct {
	dims  []int
	f     []float32
	i     []int64
	isInt bool
	splat bool
}

func (c *constT) elems() int { n, _ := elemsOf(c.dims); return n }

// elemsOf multiplies dims, refusing negative dims and products above 1<<31.
func elemsOf(dims []int) (int, error) {
	n := 1
	for _, d := range dims {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension %d in %v", d, dims)
		}
		if d != 0 && n > (1<<31)/d {
			return 0, fmt.Errorf("shape %v has too many elements", dims)
		}
		n *= d
	}
	return n, nil
}

// at returns element k as float64 (k < elems).
func (c *constT) at(k int) float64 {
	if c.splat {
		k = 0
	}
	if c.isInt {
		return float64(c.i[k])
	}
	return float64(c.f[k])
}

// atInt returns element k as int64.
func (c *constT) atInt(k int) int64 {
	if c.splat {
		k = 0
	}
	if c.isInt {
		return c.i[k]
	}
	return int64(c.f[k])
}

// allEqual reports whether every element equals v.
func (c *constT) allEqual(v float64) bool {
	n := c.elems()
	if c.splat {
		n = min(n, 1)
	}
	for k := range n {
		if c.at(k) != v {
			return false
		}
	}
	return true
}

// ints returns the values as ints (shape vectors, axes, pads).
func (im *importer) ints(c *constT) ([]int, error) {
	n := c.elems()
	if err := im.spend(n); err != nil {
		return nil, err
	}
	out := make([]int, n)
	for k := range out {
		v := c.atInt(k)
		if v > math.MaxInt32 {
			v = math.MaxInt32
		}
		if v < math.MinInt32 {
			v = math.MinInt32
		}
		out[k] = int(v)
	}
	return out, nil
}

// floats materializes the values as float32.
func (im *importer) floats(c *constT) ([]float32, error) {
	n := c.elems()
	if !c.isInt && !c.splat {
		return c.f, nil
	}
	if err := im.spend(n); err != nil {
		return nil, err
	}
	out := make([]float32, n)
	for k := range out {
		out[k] = float32(c.at(k))
	}
	return out, nil
}

// decodeTensor converts a TensorProto. Float weights come from raw_data or
// float_data; int64 and int32 from raw_data or their typed fields (shape
// vectors, indices). Every allocation is checked against the data actually
// present in the file, so a fuzzed dims field cannot make us allocate.
func (im *importer) decodeTensor(t *onnxpb.TensorProto) (*constT, error) {
	if t.GetDataLocation() == onnxpb.TensorProto_EXTERNAL || len(t.GetExternalData()) > 0 {
		return nil, fmt.Errorf("tensor %q: external data is not supported (save the model with its weights inside the .onnx file)", t.GetName())
	}
	if len(t.GetDims()) > maxRank {
		return nil, fmt.Errorf("tensor %q: rank %d exceeds %d", t.GetName(), len(t.GetDims()), maxRank)
	}
	dims := make([]int, len(t.GetDims()))
	for k, d := range t.GetDims() {
		if d < 0 || d > 1<<31 {
			return nil, fmt.Errorf("tensor %q: dimension %d is %d", t.GetName(), k, d)
		}
		dims[k] = int(d)
	}
	n, err := elemsOf(dims)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.GetName(), err)
	}
	raw := t.GetRawData()
	c := &constT{dims: dims}
	dt := onnxpb.TensorProto_DataType(t.GetDataType())
	switch dt {
	case onnxpb.TensorProto_FLOAT:
		switch {
		case len(raw) > 0 || (n == 0 && len(t.GetFloatData()) == 0):
			if len(raw) != 4*n {
				return nil, fmt.Errorf("tensor %q: shape %v needs %d bytes of float32, raw_data has %d", t.GetName(), dims, 4*n, len(raw))
			}
			if err := im.spend(n); err != nil {
				return nil, fmt.Errorf("tensor %q: %w", t.GetName(), err)
			}
			c.f = make([]float32, n)
			for k := range c.f {
				c.f[k] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*k:]))
			}
		default:
			if len(t.GetFloatData()) != n {
				return nil, fmt.Errorf("tensor %q: shape %v needs %d floats, float_data has %d", t.GetName(), dims, n, len(t.GetFloatData()))
			}
			c.f = t.GetFloatData()
		}
	case onnxpb.TensorProto_INT64, onnxpb.TensorProto_INT32:
		c.isInt = true
		size := 8
		if dt == onnxpb.TensorProto_INT32 {
			size = 4
		}
		switch {
		case len(raw) > 0 || (n == 0 && len(t.GetInt64Data()) == 0 && len(t.GetInt32Data()) == 0):
			if len(raw) != size*n {
				return nil, fmt.Errorf("tensor %q: shape %v needs %d bytes of %v, raw_data has %d", t.GetName(), dims, size*n, dt, len(raw))
			}
			if err := im.spend(n); err != nil {
				return nil, fmt.Errorf("tensor %q: %w", t.GetName(), err)
			}
			c.i = make([]int64, n)
			for k := range c.i {
				if size == 8 {
					c.i[k] = int64(binary.LittleEndian.Uint64(raw[8*k:]))
				} else {
					c.i[k] = int64(int32(binary.LittleEndian.Uint32(raw[4*k:])))
				}
			}
		case dt == onnxpb.TensorProto_INT64:
			if len(t.GetInt64Data()) != n {
				return nil, fmt.Errorf("tensor %q: shape %v needs %d int64 values, int64_data has %d", t.GetName(), dims, n, len(t.GetInt64Data()))
			}
			c.i = t.GetInt64Data()
		default:
			if len(t.GetInt32Data()) != n {
				return nil, fmt.Errorf("tensor %q: shape %v needs %d int32 values, int32_data has %d", t.GetName(), dims, n, len(t.GetInt32Data()))
			}
			if err := im.spend(n); err != nil {
				return nil, fmt.Errorf("tensor %q: %w", t.GetName(), err)
			}
			c.i = make([]int64, n)
			for k, v := range t.GetInt32Data() {
				c.i[k] = int64(v)
			}
		}
	default:
		return nil, fmt.Errorf("tensor %q: data type %v is not supported (float32 weights and int32/int64 shape tensors only)", t.GetName(), dt)
	}
	return c, nil
}

// reshapeConst returns c with new dims (same element count).
func reshapeConst(c *constT, dims []int) *constT {
	d := *c
	d.dims = dims
	return &d
}

// gatherConst implements Gather on constants.
func (im *importer) gatherConst(data, idx *constT, axis int) (*constT, error) {
	r := len(data.dims)
	if axis < 0 {
		axis += r
	}
	if axis < 0 || axis >= r {
		return nil, fmt.Errorf("axis %d out of range for rank %d", axis, r)
	}
	outDims := append(append(append([]int{}, data.dims[:axis]...), idx.dims...), data.dims[axis+1:]...)
	if len(outDims) > maxRank {
		return nil, fmt.Errorf("result rank %d exceeds %d", len(outDims), maxRank)
	}
	n, err := elemsOf(outDims)
	if err != nil {
		return nil, err
	}
	if err := im.spend(n); err != nil {
		return nil, err
	}
	outer, _ := elemsOf(data.dims[:axis])
	inner, _ := elemsOf(data.dims[axis+1:])
	dAxis := data.dims[axis]
	ni := idx.elems()
	out := &constT{dims: outDims, isInt: data.isInt}
	if data.isInt {
		out.i = make([]int64, 0, n)
	} else {
		out.f = make([]float32, 0, n)
	}
	for o := range outer {
		for j := range ni {
			ix := int(idx.atInt(j))
			if ix < 0 {
				ix += dAxis
			}
			if ix < 0 || ix >= dAxis {
				return nil, fmt.Errorf("index %d out of range for dimension %d", idx.atInt(j), dAxis)
			}
			base := (o*dAxis + ix) * inner
			for k := range inner {
				if data.isInt {
					out.i = append(out.i, data.atInt(base+k))
				} else {
					out.f = append(out.f, float32(data.at(base+k)))
				}
			}
		}
	}
	return out, nil
}

// concatConst implements Concat on constants.
func (im *importer) concatConst(cs []*constT, axis int) (*constT, error) {
	r := len(cs[0].dims)
	if axis < 0 {
		axis += r
	}
	if axis < 0 || axis >= r {
		return nil, fmt.Errorf("axis %d out of range for rank %d", axis, r)
	}
	outDims := append([]int{}, cs[0].dims...)
	outDims[axis] = 0
	isInt := true
	for _, c := range cs {
		if len(c.dims) != r {
			return nil, fmt.Errorf("cannot concatenate shapes %v and %v", cs[0].dims, c.dims)
		}
		for k := range r {
			if k != axis && c.dims[k] != cs[0].dims[k] {
				return nil, fmt.Errorf("cannot concatenate shapes %v and %v on axis %d", cs[0].dims, c.dims, axis)
			}
		}
		outDims[axis] += c.dims[axis]
		isInt = isInt && c.isInt
	}
	n, err := elemsOf(outDims)
	if err != nil {
		return nil, err
	}
	if err := im.spend(n); err != nil {
		return nil, err
	}
	outer, _ := elemsOf(outDims[:axis])
	out := &constT{dims: outDims, isInt: isInt}
	for o := range outer {
		for _, c := range cs {
			chunk, _ := elemsOf(c.dims[axis:])
			for k := range chunk {
				if isInt {
					out.i = append(out.i, c.atInt(o*chunk+k))
				} else {
					out.f = append(out.f, float32(c.at(o*chunk+k)))
				}
			}
		}
	}
	return out, nil
}

// broadcastShape returns the numpy broadcast of a and b.
func broadcastShape(a, b []int) ([]int, error) {
	r := max(len(a), len(b))
	out := make([]int, r)
	for k := range r {
		da, db := 1, 1
		if j := k - (r - len(a)); j >= 0 {
			da = a[j]
		}
		if j := k - (r - len(b)); j >= 0 {
			db = b[j]
		}
		switch {
		case da == db, db == 1:
			out[k] = da
		case da == 1:
			out[k] = db
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast", a, b)
		}
	}
	return out, nil
}

// broadcastIndex maps a flat index of shape out to a flat index of shape in
// (right-aligned numpy broadcasting).
func broadcastIndex(k int, out, in []int) int {
	idx, stride := 0, 1
	for d := len(out) - 1; d >= 0; d-- {
		coord := k % out[d]
		k /= out[d]
		j := d - (len(out) - len(in))
		if j >= 0 {
			if in[j] != 1 {
				idx += coord * stride
			}
			stride *= in[j]
		}
	}
	return idx
}

// arithConst evaluates a binary elementwise op on constants.
func (im *importer) arithConst(op string, a, b *constT) (*constT, error) {
	dims, err := broadcastShape(a.dims, b.dims)
	if err != nil {
		return nil, err
	}
	n, err := elemsOf(dims)
	if err != nil {
		return nil, err
	}
	if err := im.spend(n); err != nil {
		return nil, err
	}
	out := &constT{dims: dims, isInt: a.isInt && b.isInt}
	for k := range n {
		ka, kb := broadcastIndex(k, dims, a.dims), broadcastIndex(k, dims, b.dims)
		if out.isInt {
			x, y := a.atInt(ka), b.atInt(kb)
			var v int64
			switch op {
			case "Add":
				v = x + y
			case "Sub":
				v = x - y
			case "Mul":
				v = x * y
			case "Div":
				if y == 0 {
					return nil, fmt.Errorf("integer division by zero")
				}
				v = x / y
			}
			out.i = append(out.i, v)
			continue
		}
		x, y := a.at(ka), b.at(kb)
		var v float64
		switch op {
		case "Add":
			v = x + y
		case "Sub":
			v = x - y
		case "Mul":
			v = x * y
		case "Div":
			v = x / y
		}
		out.f = append(out.f, float32(v))
	}
	return out, nil
}
