package tfjs

import (
	"fmt"

	"github.com/vigil-edge/vigil/infer"
)

// builder appends nodes to a graph from a manifest's tensors. The first error
// sticks; later calls do nothing and return "".
type builder struct {
	w   Weights
	g   *infer.Graph
	err error
}

func newBuilder(w Weights, input string, shape infer.Shape) *builder {
	return &builder{w: w, g: &infer.Graph{Inputs: []infer.Input{{Name: input, Shape: shape}}}}
}

func (b *builder) tensor(name string, shape ...int) *Tensor {
	if b.err != nil {
		return nil
	}
	t, err := b.w.Tensor(name, shape...)
	if err != nil {
		b.err = err
	}
	return t
}

// shapeOf returns the tensor's shape after checking its rank, so callers can
// take the sizes from the file and then insist on exact shapes for the rest.
func (b *builder) shapeOf(name string, rank int) []int {
	t := b.tensor(name)
	if t == nil {
		return nil
	}
	if len(t.Shape) != rank {
		b.err = fmt.Errorf("%w: manifest %q: tensor %q has shape %v, want %d dimensions", ErrBadManifest, b.w.Manifest, name, t.Shape, rank)
		return nil
	}
	return t.Shape
}

func (b *builder) add(n *infer.Node) string {
	if b.err != nil {
		return ""
	}
	b.g.Nodes = append(b.g.Nodes, n)
	return n.Name
}

// convFilter turns a tfjs conv filter [KH, KW, IC, OC] into infer's
// [OC, KH, KW, IC]. With swap, the kernel's two spatial axes are exchanged
// too (for nets trained on transposed images, see MTCNN).
func convFilter(t *Tensor, swap bool) *infer.Tensor {
	kh, kw, ic, oc := t.Shape[0], t.Shape[1], t.Shape[2], t.Shape[3]
	okh, okw := kh, kw
	if swap {
		okh, okw = kw, kh
	}
	out := &infer.Tensor{Shape: infer.Shape{oc, okh, okw, ic}, Data: make([]float32, len(t.Data))}
	for y := range kh {
		for x := range kw {
			oy, ox := y, x
			if swap {
				oy, ox = x, y
			}
			for i := range ic {
				src := t.Data[((y*kw+x)*ic+i)*oc:][:oc]
				for o, v := range src {
					out.Data[((o*okh+oy)*okw+ox)*ic+i] = v
				}
			}
		}
	}
	return out
}

// conv adds a Conv from tfjs filters [KH, KW, IC, OC] (named filters) and an
// optional bias [OC] (bias == "" for none).
func (b *builder) conv(name, in, filters, bias string, stride int, pad infer.Padding, act infer.Activation, swap bool) string {
	s := b.shapeOf(filters, 4)
	if s == nil {
		return ""
	}
	w := convFilter(b.tensor(filters), swap)
	var bv []float32
	if bias != "" {
		if t := b.tensor(bias, s[3]); t != nil {
			bv = t.Data
		}
	}
	return b.add(&infer.Node{Name: name, Op: infer.OpConv, Inputs: []string{in}, W: w, B: bv,
		Stride: [2]int{stride, stride}, Pad: pad, Act: act})
}

// depthwise adds a depthwise Conv from a tfjs depthwise filter [KH, KW, C, 1].
func (b *builder) depthwise(name, in, filters string, pad infer.Padding) string {
	s := b.shapeOf(filters, 4)
	if s == nil {
		return ""
	}
	if s[3] != 1 {
		b.err = fmt.Errorf("%w: manifest %q: depthwise filter %q has shape %v, want channel multiplier 1", ErrBadManifest, b.w.Manifest, filters, s)
		return ""
	}
	w := convFilter(b.tensor(filters), false) // [1, KH, KW, C]
	c := s[2]
	// [1, KH, KW, C] -> [C, KH, KW, 1]
	kk := s[0] * s[1]
	data := make([]float32, len(w.Data))
	for k := range kk {
		for ch := range c {
			data[ch*kk+k] = w.Data[k*c+ch]
		}
	}
	return b.add(&infer.Node{Name: name, Op: infer.OpConv, Inputs: []string{in}, Groups: c,
		W: &infer.Tensor{Shape: infer.Shape{c, s[0], s[1], 1}, Data: data}, Pad: pad})
}

// dense adds a Dense from tfjs weights [IC, OC] and an optional bias [OC].
func (b *builder) dense(name, in, weights, bias string) string {
	s := b.shapeOf(weights, 2)
	if s == nil {
		return ""
	}
	ic, oc := s[0], s[1]
	t := b.tensor(weights)
	w := &infer.Tensor{Shape: infer.Shape{oc, 1, 1, ic}, Data: make([]float32, len(t.Data))}
	for i := range ic {
		for o, v := range t.Data[i*oc : (i+1)*oc] {
			w.Data[o*ic+i] = v
		}
	}
	var bv []float32
	if bias != "" {
		if t := b.tensor(bias, oc); t != nil {
			bv = t.Data
		}
	}
	return b.add(&infer.Node{Name: name, Op: infer.OpDense, Inputs: []string{in}, W: w, B: bv})
}

func (b *builder) node(n *infer.Node) string { return b.add(n) }

// finish sets the outputs and metadata and checks the graph.
func (b *builder) finish(meta infer.Meta, outputs ...string) (*infer.Graph, error) {
	if b.err != nil {
		return nil, b.err
	}
	b.g.Outputs = outputs
	b.g.Meta = meta
	if _, err := b.g.Check(); err != nil {
		return nil, fmt.Errorf("tfjs %s from %q: %w", meta.Name, b.w.Manifest, err)
	}
	return b.g, nil
}

var (
	valid = infer.Padding{Mode: infer.PadValid}
	same  = infer.Padding{Mode: infer.PadSame}
)

func explicit(top, left, bottom, right int) infer.Padding {
	return infer.Padding{Mode: infer.PadExplicit, Top: top, Left: left, Bottom: bottom, Right: right}
}
