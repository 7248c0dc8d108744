package infer

import (
	"math"
)

// convGeom is the resolved geometry of a Conv or pooling window.
type convGeom struct {
	n, h, w, c     int // input
	oh, ow, oc     int // output
	kh, kw, sh, sw int
	pt, pl         int // leading padding
	dil            int // int8 im2col only: taps dil pixels apart (0 and 1: adjacent)
}

func geomOf(n *Node, in, out Shape, kh, kw int) convGeom {
	sh, sw := stride(n)
	_, pt, _ := windowPads(n.Pad, in[1], kh, sh, true)
	_, pl, _ := windowPads(n.Pad, in[2], kw, sw, false)
	return convGeom{n: in[0], h: in[1], w: in[2], c: in[3], oh: out[1], ow: out[2], oc: out[3],
		kh: kh, kw: kw, sh: sh, sw: sw, pt: pt, pl: pl}
}

// chunkRows picks how many im2col rows (output pixels) a worker builds at a
// time for a K-wide row: big enough to reuse each packed weight block, small
// enough to stay in L2.
func chunkRows(k int) int {
	mc := (64 << 10) / max(k, 1)
	mc = min(max(mc, 16), 256)
	return mc &^ 3
}

func (m *Model) compileFloat(n *Node) (layer, error) {
	out := m.tensorOf(n.Name)
	var in []*tensor
	for _, name := range n.Inputs {
		in = append(in, m.tensorOf(name))
	}
	switch n.Op {
	case OpConv:
		return m.compileConvF(n, in[0], out)
	case OpDense:
		v, err := m.w.get(n, func() (any, error) {
			ws := n.weightShape()
			return packF(floatWeights(n), ws[0], ws[3]), nil
		})
		if err != nil {
			return nil, err
		}
		return &denseF{in: in[0], out: out, b: v.(*packedF), bias: n.B, act: n.Act}, nil
	case OpMaxPool, OpAvgPool:
		return &poolF{in: in[0], out: out, g: geomOf(n, in[0].shape, out.shape, n.Kernel[0], n.Kernel[1]), max: n.Op == OpMaxPool}, nil
	case OpGlobalAvgPool:
		return &gapF{in: in[0], out: out}, nil
	case OpAdd:
		return &eltF{op: eltAdd, a: in[0], b: in[1], out: out, act: n.Act}, nil
	case OpMul:
		return &eltF{op: eltMul, a: in[0], b: in[1], out: out}, nil
	case OpAffine:
		return &eltF{op: eltAffine, a: in[0], out: out, scale: n.Scale, shift: n.Shift, act: n.Act}, nil
	case OpReLU:
		return &eltF{op: eltAct, a: in[0], out: out, act: ActReLU}, nil
	case OpReLU6:
		return &eltF{op: eltAct, a: in[0], out: out, act: ActReLU6}, nil
	case OpLeakyReLU:
		return &eltF{op: eltLeaky, a: in[0], out: out, alpha: n.Alpha}, nil
	case OpPReLU:
		return &eltF{op: eltPReLU, a: in[0], out: out, scale: n.Slope}, nil
	case OpSigmoid:
		return &eltF{op: eltSigmoid, a: in[0], out: out}, nil
	case OpSoftmax:
		return &softmaxF{in: in[0], out: out}, nil
	case OpConcat:
		return &concatF{in: in, out: out}, nil
	case OpReshape, OpFlatten:
		return nopLayer{}, nil
	case OpTranspose:
		return &transposeF{in: in[0], out: out, perm: n.Perm}, nil
	case OpResize:
		return &resizeF{in: in[0], out: out, s: n.ResizeScale}, nil
	case OpBatchNorm:
		return nil, nodeErr(n, "BatchNorm left after folding")
	}
	return nil, nodeErr(n, "no float32 implementation")
}

// floatWeights are the node's float weights, dequantized from QW when the
// model carries only int8 weights.
func floatWeights(n *Node) []float32 {
	if n.W != nil {
		return n.W.Data
	}
	per := n.QW.Shape.Elems() / n.QW.Shape[0]
	w := make([]float32, len(n.QW.Data))
	for i, q := range n.QW.Data {
		w[i] = float32(q) * n.QW.Scale[i/per]
	}
	return w
}

type nopLayer struct{}

func (nopLayer) run(*Session) {}

func applyAct(v []float32, act Activation) {
	switch act {
	case ActReLU:
		for i, x := range v {
			v[i] = max(x, 0)
		}
	case ActReLU6:
		for i, x := range v {
			v[i] = min(max(x, 0), 6)
		}
	}
}

// convF is a float32 convolution: depthwise direct, 1x1 straight GEMM, or
// im2col + GEMM per group.
type convF struct {
	in, out *tensor
	g       convGeom
	groups  int
	icg     int
	ocg     int
	k       int // kh*kw*icg
	kind    int
	packed  []*packedF // per group
	dw      []float32  // depthwise weights [kh*kw][oc]
	bias    []float32
	act     Activation
	mc      int
}

const (
	convIm2col = iota
	conv1x1
	convDepthwise
)

func (m *Model) compileConvF(n *Node, in, out *tensor) (layer, error) {
	ws := n.weightShape()
	l := &convF{in: in, out: out, g: geomOf(n, in.shape, out.shape, ws[1], ws[2]), bias: n.B, act: n.Act}
	l.groups = max(n.Groups, 1)
	l.icg = in.shape[3] / l.groups
	l.ocg = ws[0] / l.groups
	l.k = ws[1] * ws[2] * ws[3]
	g := l.g
	switch {
	case l.icg == 1 && l.groups > 1:
		l.kind = convDepthwise
		v, _ := m.w.get(n, func() (any, error) {
			wd := floatWeights(n)
			dw := make([]float32, g.kh*g.kw*g.oc)
			for oc := range g.oc {
				for t := range g.kh * g.kw {
					dw[t*g.oc+oc] = wd[oc*g.kh*g.kw+t]
				}
			}
			return dw, nil
		})
		l.dw = v.([]float32)
		return l, nil
	case l.groups == 1 && g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pt == 0 && g.pl == 0 && g.oh == g.h && g.ow == g.w:
		l.kind = conv1x1
	default:
		l.kind = convIm2col
		l.mc = chunkRows(l.k)
		m.scratchF = max(m.scratchF, l.mc*l.k)
	}
	v, _ := m.w.get(n, func() (any, error) {
		ps := make([]*packedF, l.groups)
		wd := floatWeights(n)
		for gi := range l.groups {
			ps[gi] = packF(wd[gi*l.ocg*l.k:(gi+1)*l.ocg*l.k], l.ocg, l.k)
		}
		return ps, nil
	})
	l.packed = v.([]*packedF)
	return l, nil
}

func (l *convF) run(s *Session) {
	g := l.g
	switch l.kind {
	case convDepthwise:
		s.parallel(l, g.n*g.oh, 1)
	case conv1x1:
		s.parallel(l, g.n*g.oh*g.ow, 16)
	default:
		s.parallel(l, g.n*g.oh*g.ow, l.mc)
	}
}

func (l *convF) initBias(c []float32, rows int) {
	oc := l.g.oc
	if l.bias == nil {
		clear(c[:rows*oc])
		return
	}
	for r := range rows {
		copy(c[r*oc:(r+1)*oc], l.bias)
	}
}

func (l *convF) part(s *Session, w, lo, hi int) {
	g := l.g
	in, out := s.fbuf(l.in), s.fbuf(l.out)
	switch l.kind {
	case convDepthwise:
		l.depthwise(in, out, lo, hi)
		return
	case conv1x1:
		c := out[lo*g.oc : hi*g.oc]
		l.initBias(c, hi-lo)
		sgemm(hi-lo, in[lo*g.c:hi*g.c], g.c, l.packed[0], c, g.oc)
		applyAct(c, l.act)
		return
	}
	a := s.sf[w]
	for p0 := lo; p0 < hi; p0 += l.mc {
		p1 := min(p0+l.mc, hi)
		c := out[p0*g.oc : p1*g.oc]
		l.initBias(c, p1-p0)
		for gi := range l.groups {
			im2colF(a, in, &g, p0, p1, gi*l.icg, l.icg)
			sgemm(p1-p0, a, l.k, l.packed[gi], c[gi*l.ocg:], g.oc)
		}
		applyAct(c, l.act)
	}
}

// im2colF writes one row of kh*kw*cn values per output pixel p0..p1-1 (the
// input channels [c0, c0+cn) under the window), zeros for padding.
func im2colF(a, in []float32, g *convGeom, p0, p1, c0, cn int) {
	k := g.kh * g.kw * cn
	for p := p0; p < p1; p++ {
		n := p / (g.oh * g.ow)
		oy := p / g.ow % g.oh
		ox := p % g.ow
		row := a[(p-p0)*k : (p-p0+1)*k]
		i := 0
		for ky := range g.kh {
			iy := oy*g.sh - g.pt + ky
			if iy < 0 || iy >= g.h {
				clear(row[i : i+g.kw*cn])
				i += g.kw * cn
				continue
			}
			base := (n*g.h + iy) * g.w
			for kx := range g.kw {
				ix := ox*g.sw - g.pl + kx
				if ix < 0 || ix >= g.w {
					clear(row[i : i+cn])
				} else {
					o := (base+ix)*g.c + c0
					copy(row[i:i+cn], in[o:o+cn])
				}
				i += cn
			}
		}
	}
}

// depthwise computes output rows [lo, hi) (over N*OH) of a depthwise conv
// with depth multiplier ocg.
func (l *convF) depthwise(in, out []float32, lo, hi int) {
	g := l.g
	oc := g.oc
	for r := lo; r < hi; r++ {
		n, oy := r/g.oh, r%g.oh
		for ox := range g.ow {
			acc := out[((n*g.oh+oy)*g.ow+ox)*oc : ((n*g.oh+oy)*g.ow+ox+1)*oc]
			if l.bias != nil {
				copy(acc, l.bias)
			} else {
				clear(acc)
			}
			for ky := range g.kh {
				iy := oy*g.sh - g.pt + ky
				if iy < 0 || iy >= g.h {
					continue
				}
				for kx := range g.kw {
					ix := ox*g.sw - g.pl + kx
					if ix < 0 || ix >= g.w {
						continue
					}
					px := in[((n*g.h+iy)*g.w+ix)*g.c : ((n*g.h+iy)*g.w+ix+1)*g.c]
					wt := l.dw[(ky*g.kw+kx)*oc : (ky*g.kw+kx+1)*oc]
					if l.ocg == 1 {
						wt = wt[:len(px)]
						acc := acc[:len(px)]
						for c, x := range px {
							acc[c] += x * wt[c]
						}
					} else {
						for o := range acc {
							acc[o] += px[o/l.ocg] * wt[o]
						}
					}
				}
			}
			applyAct(acc, l.act)
		}
	}
}

type denseF struct {
	in, out *tensor
	b       *packedF
	bias    []float32
	act     Activation
}

func (l *denseF) run(s *Session) { s.parallel(l, l.in.shape[0], 4) }

func (l *denseF) part(s *Session, w, lo, hi int) {
	k, oc := l.b.k, l.b.n
	in, out := s.fbuf(l.in), s.fbuf(l.out)
	c := out[lo*oc : hi*oc]
	for r := range hi - lo {
		if l.bias != nil {
			copy(c[r*oc:(r+1)*oc], l.bias)
		} else {
			clear(c[r*oc : (r+1)*oc])
		}
	}
	sgemm(hi-lo, in[lo*k:hi*k], k, l.b, c, oc)
	applyAct(c, l.act)
}

type poolF struct {
	in, out *tensor
	g       convGeom
	max     bool
}

func (l *poolF) run(s *Session) { s.parallel(l, l.g.n*l.g.oh, 4) }

func (l *poolF) part(s *Session, w, lo, hi int) {
	g := l.g
	in, out := s.fbuf(l.in), s.fbuf(l.out)
	c := g.c
	for r := lo; r < hi; r++ {
		n, oy := r/g.oh, r%g.oh
		y0, y1 := max(oy*g.sh-g.pt, 0), min(oy*g.sh-g.pt+g.kh, g.h)
		for ox := range g.ow {
			x0, x1 := max(ox*g.sw-g.pl, 0), min(ox*g.sw-g.pl+g.kw, g.w)
			o := out[((n*g.oh+oy)*g.ow+ox)*c : ((n*g.oh+oy)*g.ow+ox+1)*c]
			if l.max {
				for i := range o {
					o[i] = float32(math.Inf(-1))
				}
			} else {
				clear(o)
			}
			for y := y0; y < y1; y++ {
				for x := x0; x < x1; x++ {
					px := in[((n*g.h+y)*g.w+x)*c : ((n*g.h+y)*g.w+x+1)*c]
					px = px[:len(o)]
					if l.max {
						for i, v := range px {
							o[i] = max(o[i], v)
						}
					} else {
						for i, v := range px {
							o[i] += v
						}
					}
				}
			}
			if !l.max {
				inv := 1 / float32((y1-y0)*(x1-x0))
				for i := range o {
					o[i] *= inv
				}
			}
		}
	}
}

type gapF struct{ in, out *tensor }

func (l *gapF) run(s *Session) {
	in, out := s.fbuf(l.in), s.fbuf(l.out)
	sh := l.in.shape
	hw, c := sh[1]*sh[2], sh[3]
	for n := range sh[0] {
		o := out[n*c : (n+1)*c]
		clear(o)
		for p := range hw {
			px := in[(n*hw+p)*c : (n*hw+p+1)*c]
			px = px[:len(o)]
			for i, v := range px {
				o[i] += v
			}
		}
		inv := 1 / float32(hw)
		for i := range o {
			o[i] *= inv
		}
	}
}

const (
	eltAdd = iota
	eltMul
	eltAffine
	eltAct
	eltLeaky
	eltPReLU
	eltSigmoid
)

// eltF is an element-wise float32 operator; items are pixels.
type eltF struct {
	op           int
	a, b, out    *tensor
	scale, shift []float32
	alpha        float32
	act          Activation
}

func (l *eltF) run(s *Session) {
	sh := l.out.shape
	s.parallel(l, sh[0]*sh[1]*sh[2], 4096/sh[3]+1)
}

func (l *eltF) part(s *Session, w, lo, hi int) {
	sh := l.out.shape
	c := sh[3]
	a := s.fbuf(l.a)[lo*c : hi*c]
	o := s.fbuf(l.out)[lo*c : hi*c]
	switch l.op {
	case eltAdd:
		b := s.fbuf(l.b)[lo*c : hi*c]
		for i, x := range a {
			o[i] = x + b[i]
		}
	case eltMul:
		b := s.fbuf(l.b)
		if l.b.shape == l.out.shape {
			b = b[lo*c : hi*c]
			for i, x := range a {
				o[i] = x * b[i]
			}
			break
		}
		hw := sh[1] * sh[2]
		for p := lo; p < hi; p++ {
			n := p / hw
			bs := b[n*c : (n+1)*c]
			op := o[(p-lo)*c : (p-lo+1)*c]
			for i, x := range a[(p-lo)*c : (p-lo+1)*c] {
				op[i] = x * bs[i]
			}
		}
	case eltAffine:
		for p := range hi - lo {
			op, ap := o[p*c:(p+1)*c], a[p*c:(p+1)*c]
			for i, x := range ap {
				op[i] = x*l.scale[i] + l.shift[i]
			}
		}
	case eltAct:
		copy(o, a)
	case eltLeaky:
		for i, x := range a {
			if x < 0 {
				x *= l.alpha
			}
			o[i] = x
		}
	case eltPReLU:
		for p := range hi - lo {
			op, ap := o[p*c:(p+1)*c], a[p*c:(p+1)*c]
			for i, x := range ap {
				if x < 0 {
					x *= l.scale[i]
				}
				op[i] = x
			}
		}
	case eltSigmoid:
		for i, x := range a {
			o[i] = sigmoid32(x)
		}
	}
	applyAct(o, l.act)
}

func sigmoid32(x float32) float32 { return float32(1 / (1 + math.Exp(-float64(x)))) }

type softmaxF struct{ in, out *tensor }

func (l *softmaxF) run(s *Session) {
	in, out := s.fbuf(l.in), s.fbuf(l.out)
	c := l.in.shape[3]
	for p := 0; p < len(in); p += c {
		softmax32(out[p:p+c], in[p:p+c])
	}
}

func softmax32(o, x []float32) {
	m := float32(math.Inf(-1))
	for _, v := range x {
		m = max(m, v)
	}
	var sum float64
	o = o[:len(x)]
	for i, v := range x {
		e := math.Exp(float64(v - m))
		o[i] = float32(e)
		sum += e
	}
	inv := float32(1 / sum)
	for i := range o {
		o[i] *= inv
	}
}

type concatF struct {
	in  []*tensor
	out *tensor
}

func (l *concatF) run(s *Session) {
	out := s.fbuf(l.out)
	oc := l.out.shape[3]
	px := l.out.shape[0] * l.out.shape[1] * l.out.shape[2]
	c0 := 0
	for _, t := range l.in {
		in := s.fbuf(t)
		c := t.shape[3]
		for p := range px {
			copy(out[p*oc+c0:p*oc+c0+c], in[p*c:(p+1)*c])
		}
		c0 += c
	}
}

type transposeF struct {
	in, out *tensor
	perm    [4]int
}

func (l *transposeF) run(s *Session) {
	transpose(s.fbuf(l.out), s.fbuf(l.in), l.in.shape, l.out.shape, l.perm)
}

// transpose permutes the axes of an NHWC tensor: output axis i is input axis perm[i].
func transpose[T int8 | float32](out, in []T, is, os Shape, perm [4]int) {
	ist := [4]int{is[1] * is[2] * is[3], is[2] * is[3], is[3], 1}
	st := [4]int{ist[perm[0]], ist[perm[1]], ist[perm[2]], ist[perm[3]]}
	o := 0
	for a := range os[0] {
		for b := range os[1] {
			for c := range os[2] {
				base := a*st[0] + b*st[1] + c*st[2]
				for d := range os[3] {
					out[o] = in[base+d*st[3]]
					o++
				}
			}
		}
	}
}

type resizeF struct {
	in, out *tensor
	s       int
}

func (l *resizeF) run(s *Session) {
	resizeNearest(s.fbuf(l.out), s.fbuf(l.in), l.in.shape, l.out.shape, l.s)
}

// resizeNearest scales H and W of an NHWC tensor up by the integer factor k.
func resizeNearest[T int8 | float32](out, in []T, is, os Shape, k int) {
	c := is[3]
	o := 0
	for n := range os[0] {
		for y := range os[1] {
			for x := range os[2] {
				i := ((n*is[1]+y/k)*is[2] + x/k) * c
				copy(out[o:o+c], in[i:i+c])
				o += c
			}
		}
	}
}
