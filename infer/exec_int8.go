package infer

import (
	"fmt"
	"math"
	"slices"

	"github.com/vigil-edge/vigil/neon"
	"github.com/vigil-edge/vigil/quant"
)

// The int8 executor. Every activation tensor is int8 with per-tensor
// parameters real = scale*(q-zp) taken from Graph.Ranges; weights are int8
// symmetric per output channel. Requantization inside the network is
// integer only (neon.Requantize), so results are bit-identical on every
// architecture; only the 256-entry lookup tables of the non-linear operators
// (sigmoid, softmax's exponentials, PReLU, affine) are computed in float64
// at load time, with every product rounded explicitly (no FMA contraction)
// and a portable exp, so they too are the same everywhere. Softmax then
// normalises in float64 per pixel (sums and one product per value, no
// fusable operation).
//
// Data-movement operators (Reshape, Flatten, Transpose, Resize, MaxPool,
// AvgPool) keep their input's parameters: their calibrated range is not
// needed and is ignored.
//
// Fast paths, each producing exactly the bytes of the plain computation
// (tests compare them, switched on and off, on random layers and on
// UltraFace): 1x1 stride-1 convolutions feed their input rows to
// neon.Gemm without im2col; other convolutions build im2col rows padded to
// whole groups of 4 k (zero weights) in cache-sized chunks; kernels that
// are zero-stuffed dilated ones (UltraFace's RFB branches, as ONNX files
// store them) run as the dilated kernels they are; 3x3 depthwise reads a
// copy of its rows with the padding written out; max pooling works on
// whole rows; two-channel softmax is a table; the input is quantized in
// AVX-512 where present.

// quantizeInto writes round(x/scale)+zp clamped to int8.
func quantizeInto(dst []int8, src []float32, scale float32, zp int32) {
	inv := 1 / float64(scale)
	dst = dst[:len(src)]
	for quantizeSIMD && len(src) >= 16 {
		n := quantizeAVX512(&dst[0], &src[0], len(src)&^15, inv, zp)
		if n < len(src)&^15 {
			n += 16 // a block with a NaN: the Go loop below does it
			quantizeGo(dst[n-16:n], src[n-16:n], inv, zp)
		}
		dst, src = dst[n:], src[n:]
	}
	quantizeGo(dst, src, inv, zp)
}

func quantizeGo(dst []int8, src []float32, inv float64, zp int32) {
	dst = dst[:len(src)]
	for i, x := range src {
		t := float64(x) * inv
		if !(t > -1024 && t < 1024) {
			// NaN, infinities and values that clamp whatever zp is.
			v := math.Round(t) + float64(zp)
			dst[i] = int8(min(max(v, -128), 127))
			continue
		}
		// Round half away from zero in integers: r truncates toward zero,
		// d = t-r in (-1, 1) is exact, and int32(2*d) is 1 for d >= 0.5,
		// -1 for d <= -0.5 and 0 otherwise: math.Round(t) without branches.
		r := int32(t)
		d := t - float64(r)
		r += int32(d + d)
		dst[i] = int8(min(max(r+zp, -128), 127))
	}
}

// roundFinite is math.Round for finite x, through math.Trunc (one
// instruction on amd64 and arm64): x-t is exact and int64(2*(x-t)) is the
// rounding step, -1, 0 or 1. A zero result may be +0 where math.Round
// gives -0; integer conversions do not see the difference.
func roundFinite(x float64) float64 {
	t := math.Trunc(x)
	d := x - t
	return t + float64(int64(d+d))
}

// dequantizeInto writes (q-zp)*scale.
func dequantizeInto(dst []float32, src []int8, scale float32, zp int32) {
	dst = dst[:len(src)]
	for i, q := range src {
		dst[i] = float32(int32(q)-zp) * scale
	}
}

// inheritsParams says whether a node's output reuses its (first) input's
// quantization parameters.
func inheritsParams(op Op) bool {
	switch op {
	case OpReshape, OpFlatten, OpTranspose, OpResize, OpMaxPool, OpAvgPool:
		return true
	}
	return false
}

// assignQuant gives every tensor its int8 parameters.
func (m *Model) assignQuant() error {
	set := func(t *tensor, r Range) {
		p := quant.ParamsFor(r.Min, r.Max)
		t.scale, t.zp = p.Scale, p.ZeroPoint
	}
	missing := func(name, what string) error {
		return fmt.Errorf("infer: int8 model: %s %q has no calibrated range in Graph.Ranges (run Calibrate): %w", what, name, ErrMissingRange)
	}
	for _, i := range m.inputs {
		t := m.tensors[i]
		r, ok := m.g.Ranges[t.name]
		if !ok {
			return missing(t.name, "input")
		}
		set(t, r)
	}
	for _, n := range m.g.Nodes {
		t := m.tensorOf(n.Name)
		if inheritsParams(n.Op) {
			in := m.tensorOf(n.Inputs[0])
			t.scale, t.zp = in.scale, in.zp
			continue
		}
		r, ok := m.g.Ranges[n.Name]
		if !ok {
			return missing(n.Name, "tensor of node ("+string(n.Op)+")")
		}
		if !finiteAll([]float32{r.Min, r.Max}) || r.Min > r.Max {
			return fmt.Errorf("infer: int8 model: range of %q is [%v, %v]", n.Name, r.Min, r.Max)
		}
		switch n.Op {
		case OpReLU, OpReLU6, OpSigmoid, OpSoftmax:
			r.Min = 0 // these never go below 0; spend no levels there
		}
		if n.Act != ActNone {
			r.Min = 0
		}
		if n.Op == OpReLU6 || n.Act == ActReLU6 {
			r.Max = min(r.Max, 6)
		}
		if n.Op == OpSigmoid || n.Op == OpSoftmax {
			r.Max = min(r.Max, 1)
		}
		set(t, r)
	}
	return nil
}

// clampFor returns the int8 bounds that implement a fused activation in the
// output quantization.
func clampFor(act Activation, out *tensor) (lo, hi int8) {
	lo, hi = -128, 127
	switch act {
	case ActReLU:
		lo = int8(min(max(out.zp, -128), 127))
	case ActReLU6:
		lo = int8(min(max(out.zp, -128), 127))
		six := math.Round(6/float64(out.scale)) + float64(out.zp)
		hi = int8(min(max(six, -128), 127))
	}
	return lo, hi
}

// qweights are a Conv/Dense node's int8 weights.
type qweights struct {
	data  []int8
	scale []float32
}

func nodeQWeights(n *Node) (*qweights, error) {
	if n.QW != nil {
		for i, v := range n.QW.Data {
			if v == -128 {
				return nil, nodeErr(n, "int8 weight %d is -128; weights must be in [-127, 127]", i)
			}
		}
		return &qweights{n.QW.Data, n.QW.Scale}, nil
	}
	if n.W == nil {
		return nil, nodeErr(n, "has no weights")
	}
	q, s, err := quant.QuantizeWeights(n.W.Data, n.W.Shape[0])
	if err != nil {
		return nil, nodeErr(n, "%v", err)
	}
	return &qweights{q, s}, nil
}

// requantFor builds the epilogue of output channels [j0, j0+len(rowSum)):
// Bias[j] = round(b/(sIn*sW)) - zpIn*RowSum[j].
func requantFor(n *Node, w *qweights, j0 int, rowSum []int32, in, out *tensor) *neon.Requant {
	nc := len(rowSum)
	q := &neon.Requant{Bias: make([]int32, nc), Mult: make([]int32, nc), Shift: make([]int32, nc), ZeroPoint: out.zp}
	q.Min, q.Max = clampFor(n.Act, out)
	for j := range nc {
		sw := float64(w.scale[j0+j])
		accScale := float64(in.scale) * sw
		var b float64
		if n.B != nil {
			b = math.Round(float64(n.B[j0+j]) / accScale)
			b = min(max(b, -(1<<30)), 1<<30)
		}
		q.Bias[j] = int32(b) - in.zp*rowSum[j]
		q.Mult[j], q.Shift[j] = neon.QuantizeMultiplier(accScale / float64(out.scale))
	}
	return q
}

func (m *Model) compileInt8(n *Node) (layer, error) {
	out := m.tensorOf(n.Name)
	var in []*tensor
	for _, name := range n.Inputs {
		in = append(in, m.tensorOf(name))
	}
	if l, ok, err := m.compileAccOut(n, in, out); ok || err != nil {
		return l, err
	}
	switch n.Op {
	case OpConv:
		return m.compileConvQ(n, in[0], out)
	case OpDense:
		v, err := m.w.get(n, func() (any, error) {
			w, err := nodeQWeights(n)
			if err != nil {
				return nil, err
			}
			oc, k := n.weightShape()[0], n.weightShape()[3]
			p := neon.Pack(w.data, oc, k)
			return &denseQ{in: in[0], out: out, p: p, q: requantFor(n, w, 0, p.RowSum, in[0], out)}, nil
		})
		if err != nil {
			return nil, err
		}
		l := *v.(*denseQ)
		l.in, l.out = in[0], out
		return &l, nil
	case OpMaxPool, OpAvgPool:
		g := geomOf(n, in[0].shape, out.shape, n.Kernel[0], n.Kernel[1])
		l := &poolQ{in: in[0], out: out, max: n.Op == OpMaxPool, p: neon.Pool{H: g.h, W: g.w, C: g.c, KH: g.kh, KW: g.kw,
			StrideH: g.sh, StrideW: g.sw, PadTop: g.pt, PadLeft: g.pl, OutH: g.oh, OutW: g.ow, Min: -128, Max: 127}}
		if l.max && rowPoolable(&l.p) {
			l.rows = true
			m.scratchB = max(m.scratchB, 2*g.w*g.c)
		}
		return l, nil
	case OpGlobalAvgPool:
		hw := in[0].shape[1] * in[0].shape[2]
		m.scratchI = max(m.scratchI, in[0].shape[3])
		mult, shift := neon.QuantizeMultiplier(float64(in[0].scale) / (float64(hw) * float64(out.scale)))
		return &gapQ{in: in[0], out: out, mult: mult, shift: shift}, nil
	case OpAdd:
		l := &addQ{a: in[0], b: in[1], out: out}
		l.ma, l.sa, l.mb, l.sb, l.mo, l.so = neon.AddMultipliers(float64(in[0].scale), float64(in[1].scale), float64(out.scale))
		l.lo, l.hi = clampFor(n.Act, out)
		return l, nil
	case OpMul:
		mult, shift := neon.QuantizeMultiplier(float64(in[0].scale) * float64(in[1].scale) / float64(out.scale))
		return &mulQ{a: in[0], b: in[1], out: out, mult: mult, shift: shift}, nil
	case OpAffine, OpReLU, OpReLU6, OpLeakyReLU, OpPReLU:
		return &lutQ{in: in[0], out: out, lut: buildLUT(n, in[0], out)}, nil
	case OpSigmoid:
		l := &lutQ{in: in[0], out: out, lut: buildLUT(n, in[0], out)}
		if l.fout = m.floatOutput(n); l.fout != nil {
			l.flut = new([256]float32)
			for q := -128; q < 128; q++ {
				x := float64(float64(in[0].scale) * float64(int32(q)-in[0].zp))
				l.flut[uint8(int8(q))] = float32(1 / (1 + portableExp(-x)))
			}
		}
		return l, nil
	case OpSoftmax:
		l := &softmaxQ{in: in[0], out: out, fout: m.floatOutput(n)}
		for d := range l.exp {
			l.exp[d] = portableExp(-float64(float64(d) * float64(in[0].scale)))
		}
		if in[0].shape[3] == 2 && softmaxPairs {
			l.pair, l.pairF = l.pairTable()
		}
		return l, nil
	case OpConcat:
		l := &concatQ{in: in, out: out, lut: make([][]int8, len(in))}
		for i, t := range in {
			if t.scale != out.scale || t.zp != out.zp {
				l.lut[i] = requantLUT(t, out)
			}
		}
		return l, nil
	case OpReshape, OpFlatten:
		return nopLayer{}, nil
	case OpTranspose:
		return &transposeQ{in: in[0], out: out, perm: n.Perm}, nil
	case OpResize:
		return &resizeQ{in: in[0], out: out, s: n.ResizeScale}, nil
	case OpBatchNorm:
		return nil, nodeErr(n, "BatchNorm left after folding")
	}
	return nil, nodeErr(n, "no int8 implementation")
}

// weightShape is the shape of the node's weights, float or int8.
func (n *Node) weightShape() Shape {
	if n.W != nil {
		return n.W.Shape
	}
	return n.QW.Shape
}

// requantLUT maps every int8 value of in to out's parameters (integer
// arithmetic, as neon.RequantizeInt8).
func requantLUT(in, out *tensor) []int8 {
	mult, shift := neon.QuantizeMultiplier(float64(in.scale) / float64(out.scale))
	lut := make([]int8, 256)
	for q := -128; q < 128; q++ {
		v := int64(neon.Requantize(int32(q)-in.zp, mult, shift)) + int64(out.zp)
		lut[uint8(int8(q))] = int8(min(max(v, -128), 127))
	}
	return lut
}

// buildLUT tabulates a per-channel (Affine, PReLU) or per-tensor function
// of the int8 input: 256 entries per channel, indexed by uint8(q).
func buildLUT(n *Node, in, out *tensor) []int8 {
	channels := 1
	if n.Op == OpAffine || n.Op == OpPReLU {
		channels = in.shape[3]
	}
	lut := make([]int8, 256*channels)
	for c := range channels {
		for q := -128; q < 128; q++ {
			x := float64(float64(in.scale) * float64(int32(q)-in.zp))
			var y float64
			switch n.Op {
			case OpAffine:
				y = float64(x*float64(n.Scale[c])) + float64(n.Shift[c])
			case OpReLU:
				y = max(x, 0)
			case OpReLU6:
				y = min(max(x, 0), 6)
			case OpLeakyReLU:
				y = x
				if x < 0 {
					y = float64(x * float64(n.Alpha))
				}
			case OpPReLU:
				y = x
				if x < 0 {
					y = float64(x * float64(n.Slope[c]))
				}
			case OpSigmoid:
				y = 1 / (1 + portableExp(-x))
			}
			switch n.Act {
			case ActReLU:
				y = max(y, 0)
			case ActReLU6:
				y = min(max(y, 0), 6)
			}
			v := math.Round(y/float64(out.scale)) + float64(out.zp)
			lut[c*256+int(uint8(int8(q)))] = int8(min(max(v, -128), 127))
		}
	}
	return lut
}

type denseQ struct {
	in, out *tensor
	p       *neon.Packed
	q       *neon.Requant
}

func (l *denseQ) run(s *Session) { s.parallel(l, l.in.shape[0], 4) }

func (l *denseQ) part(s *Session, w, lo, hi int) {
	k, oc := l.p.K, l.p.N
	neon.Gemm(s.bbuf(l.out)[lo*oc:hi*oc], oc, s.bbuf(l.in)[lo*k:hi*k], k, hi-lo, l.p, l.q)
}

type poolQ struct {
	in, out *tensor
	max     bool
	rows    bool // max pooling by whole rows (maxPoolRow)
	p       neon.Pool
}

func (l *poolQ) run(s *Session) {
	if l.rows {
		s.parallel(l, l.in.shape[0]*l.p.OutH, 1)
		return
	}
	s.parallel(l, l.in.shape[0], 1)
}

func (l *poolQ) part(s *Session, w, lo, hi int) {
	in, out := s.bbuf(l.in), s.bbuf(l.out)
	isz, osz := l.p.H*l.p.W*l.p.C, l.p.OutH*l.p.OutW*l.p.C
	if l.rows {
		for r := lo; r < hi; r++ {
			n, oy := r/l.p.OutH, r%l.p.OutH
			maxPoolRow(out[n*osz:(n+1)*osz], in[n*isz:(n+1)*isz], &l.p, oy, s.sb[w])
		}
		return
	}
	for n := lo; n < hi; n++ {
		if l.max {
			neon.MaxPoolInt8(out[n*osz:(n+1)*osz], in[n*isz:(n+1)*isz], &l.p)
		} else {
			neon.AvgPoolInt8(out[n*osz:(n+1)*osz], in[n*isz:(n+1)*isz], &l.p)
		}
	}
}

// rowPoolable says whether maxPoolRow computes p: no clamp and no window
// without a pixel in the image (where MaxPoolInt8 writes clamp(0)).
func rowPoolable(p *neon.Pool) bool {
	if p.Min != -128 || p.Max != 127 || p.OutH == 0 || p.OutW == 0 || p.C == 0 {
		return false
	}
	return axisCovered(p.H, p.KH, p.StrideH, p.PadTop, p.OutH) && axisCovered(p.W, p.KW, p.StrideW, p.PadLeft, p.OutW)
}

// axisCovered says whether every window along one axis holds a pixel of
// the image. Window o starts at o*stride-pad, so checking the first and the
// last window covers the ones in between.
func axisCovered(size, k, stride, pad, out int) bool {
	for _, o := range []int{0, out - 1} {
		lo := o*stride - pad
		if max(lo, 0) >= min(lo+k, size) {
			return false
		}
	}
	return true
}

// maxPoolRow writes output row oy of MaxPoolInt8(dst, src, p): the window
// rows are maxed into one image row with neon.MaxInt8 (whole rows, SIMD),
// the window columns likewise into the row of every window start, and each
// output pixel then copies its window's maximum. scratch holds 2*W*C bytes.
// Max is exact and order-free, so the bytes are MaxPoolInt8's.
func maxPoolRow(dst, src []int8, p *neon.Pool, oy int, scratch []int8) {
	c, w := p.C, p.W
	rw := w * c
	y0 := oy*p.StrideH - p.PadTop
	y1 := min(y0+p.KH, p.H)
	y0 = max(y0, 0)
	rmax := scratch[:rw]
	copy(rmax, src[y0*rw:(y0+1)*rw])
	for y := y0 + 1; y < y1; y++ {
		neon.MaxInt8(rmax, src[y*rw:(y+1)*rw])
	}
	// wmax[x] is the maximum of the window of KW columns starting at x, for
	// the starts whose window is inside the row.
	starts := w - p.KW + 1
	var wmax []int8
	if starts > 0 {
		wmax = scratch[rw : rw+starts*c]
		copy(wmax, rmax)
		for kx := 1; kx < p.KW; kx++ {
			neon.MaxInt8(wmax, rmax[kx*c:kx*c+len(wmax)])
		}
	}
	out := dst[oy*p.OutW*c : (oy+1)*p.OutW*c]
	for ox := range p.OutW {
		o := out[ox*c : ox*c+c]
		x0 := ox*p.StrideW - p.PadLeft
		if x0 >= 0 && x0 < starts {
			copyPixel(o, wmax[x0*c:x0*c+c])
			continue
		}
		x1 := min(x0+p.KW, w)
		x0 = max(x0, 0)
		copy(o, rmax[x0*c:x0*c+c])
		for x := x0 + 1; x < x1; x++ {
			neon.MaxInt8(o, rmax[x*c:x*c+c])
		}
	}
}

// copyPixel copies len(src) bytes in 16-byte moves (no memmove call for the
// short channel vectors of one pixel).
func copyPixel(dst, src []int8) {
	dst = dst[:len(src)]
	for len(src) >= 16 {
		*(*[16]int8)(dst) = *(*[16]int8)(src)
		dst, src = dst[16:], src[16:]
	}
	copy(dst, src)
}

type gapQ struct {
	in, out     *tensor
	mult, shift int32
}

func (l *gapQ) run(s *Session) {
	in, out := s.bbuf(l.in), s.bbuf(l.out)
	sh := l.in.shape
	hw, c := sh[1]*sh[2], sh[3]
	acc := s.gapAcc(c)
	bias := -int32(hw) * l.in.zp
	for n := range sh[0] {
		for j := range acc {
			acc[j] = bias
		}
		for p := range hw {
			px := in[(n*hw+p)*c : (n*hw+p+1)*c]
			px = px[:len(acc)]
			for j, v := range px {
				acc[j] += int32(v)
			}
		}
		o := out[n*c : (n+1)*c]
		for j, a := range acc {
			v := int64(neon.Requantize(a, l.mult, l.shift)) + int64(l.out.zp)
			o[j] = int8(min(max(v, -128), 127))
		}
	}
}

// gapAcc is int32 scratch of c values from worker 0's scratch.
func (s *Session) gapAcc(c int) []int32 { return s.si[0][:c] }

type addQ struct {
	a, b, out      *tensor
	ma, sa, mb, sb int32
	mo, so         int32
	lo, hi         int8
}

func (l *addQ) run(s *Session) { s.parallel(l, l.out.size(), 1<<14) }

func (l *addQ) part(s *Session, w, lo, hi int) {
	neon.AddInt8(s.bbuf(l.out)[lo:hi], s.bbuf(l.a)[lo:hi], s.bbuf(l.b)[lo:hi],
		l.a.zp, l.ma, l.sa, l.b.zp, l.mb, l.sb, l.out.zp, l.mo, l.so, l.lo, l.hi)
}

type mulQ struct {
	a, b, out   *tensor
	mult, shift int32
}

func (l *mulQ) run(s *Session) {
	sh := l.out.shape
	s.parallel(l, sh[0]*sh[1]*sh[2], 4096/sh[3]+1)
}

func (l *mulQ) part(s *Session, w, lo, hi int) {
	sh := l.out.shape
	c := sh[3]
	a, o := s.bbuf(l.a), s.bbuf(l.out)
	b := s.bbuf(l.b)
	za, zb, zo := l.a.zp, l.b.zp, int64(l.out.zp)
	same := l.b.shape == l.out.shape
	hw := sh[1] * sh[2]
	for p := lo; p < hi; p++ {
		ap := a[p*c : (p+1)*c]
		bp := b[(p/hw)*c : (p/hw+1)*c]
		if same {
			bp = b[p*c : (p+1)*c]
		}
		op := o[p*c : (p+1)*c]
		bp, op = bp[:len(ap)], op[:len(ap)]
		for i, x := range ap {
			v := int64(neon.Requantize((int32(x)-za)*(int32(bp[i])-zb), l.mult, l.shift)) + zo
			op[i] = int8(min(max(v, -128), 127))
		}
	}
}

// lutQ applies a 256-entry table, per channel when len(lut) > 256.
type lutQ struct {
	in, out *tensor
	lut     []int8
	// A sigmoid that is a graph output also writes its float32 value
	// (flut, indexed by uint8(q)) to the outputs fout (session io indices).
	flut *[256]float32
	fout []int
}

func (l *lutQ) run(s *Session) {
	sh := l.out.shape
	s.parallel(l, sh[0]*sh[1]*sh[2], 16384/sh[3]+1)
	if l.flut != nil {
		in := s.bbuf(l.in)
		dst := s.io[l.fout[0]]
		for i, v := range in {
			dst[i] = l.flut[uint8(v)]
		}
		for _, o := range l.fout[1:] {
			copy(s.io[o], dst)
		}
	}
}

func (l *lutQ) part(s *Session, w, lo, hi int) {
	c := l.out.shape[3]
	in, out := s.bbuf(l.in)[lo*c:hi*c], s.bbuf(l.out)[lo*c:hi*c]
	if len(l.lut) == 256 {
		neon.LookupInt8(out, in, (*[256]int8)(l.lut))
		return
	}
	for p := 0; p < len(in); p += c {
		px, op := in[p:p+c], out[p:p+c]
		for j, v := range px {
			op[j] = l.lut[j<<8|int(uint8(v))]
		}
	}
}

// softmaxQ dequantizes through a table of exp(-d*scale) for d = max-q,
// normalises in float64 and requantizes.
type softmaxQ struct {
	in, out *tensor
	exp     [256]float64
	pair    *[256][2]int8    // two channels (detectors' face/background): outputs by difference
	pairF   *[256][2]float32 // the same as float32, for a graph output
	// fout are the session io indices of the graph outputs this softmax is:
	// they get the float32 probabilities (exp/sum, rounded once), not the
	// int8 ones dequantized, whose 1/255 steps tie the scores detectors rank.
	fout []int
}

// softmaxPairs lets two-channel softmaxes run from a table (tests switch it
// off to compare).
var softmaxPairs = true

// pairTable tabulates a two-channel softmax: with d the difference of the
// two inputs, the larger one's output is pair[d][0] and the other's
// pair[d][1]. run's sum is exp[0]+exp[d] in one order or the other, and
// float addition commutes, so every product and rounding is run's own.
func (l *softmaxQ) pairTable() (*[256][2]int8, *[256][2]float32) {
	t := new([256][2]int8)
	var tf *[256][2]float32
	if l.fout != nil {
		tf = new([256][2]float32)
	}
	inv := 1 / float64(l.out.scale)
	zo := float64(l.out.zp)
	for d := range t {
		var sum float64
		sum += l.exp[0]
		sum += l.exp[d]
		k := inv / sum
		for j, e := range [2]float64{l.exp[0], l.exp[d]} {
			q := roundFinite(float64(e*k)) + zo
			t[d][j] = int8(min(max(q, -128), 127))
			if tf != nil {
				tf[d][j] = float32(e / sum)
			}
		}
	}
	return t, tf
}

func (l *softmaxQ) run(s *Session) {
	in, out := s.bbuf(l.in), s.bbuf(l.out)
	var fo []float32
	if l.fout != nil {
		fo = s.io[l.fout[0]]
		defer func() {
			for _, o := range l.fout[1:] {
				copy(s.io[o], fo)
			}
		}()
	}
	c := l.in.shape[3]
	if l.pair != nil {
		for p := 0; p+1 < len(in); p += 2 {
			a, b := int(in[p]), int(in[p+1])
			if a >= b {
				out[p], out[p+1] = l.pair[a-b][0], l.pair[a-b][1]
			} else {
				out[p], out[p+1] = l.pair[b-a][1], l.pair[b-a][0]
			}
		}
		if fo != nil {
			for p := 0; p+1 < len(in); p += 2 {
				a, b := int(in[p]), int(in[p+1])
				if a >= b {
					fo[p], fo[p+1] = l.pairF[a-b][0], l.pairF[a-b][1]
				} else {
					fo[p], fo[p+1] = l.pairF[b-a][1], l.pairF[b-a][0]
				}
			}
		}
		return
	}
	inv := 1 / float64(l.out.scale)
	zo := float64(l.out.zp)
	for p := 0; p < len(in); p += c {
		px, op := in[p:p+c], out[p:p+c]
		m := int8(-128)
		for _, v := range px {
			m = max(m, v)
		}
		var sum float64
		for _, v := range px {
			sum += l.exp[int(m)-int(v)]
		}
		k := inv / sum
		for j, v := range px {
			q := roundFinite(float64(l.exp[int(m)-int(v)]*k)) + zo
			op[j] = int8(min(max(q, -128), 127))
		}
		if fo != nil {
			for j, v := range px {
				fo[p+j] = float32(l.exp[int(m)-int(v)] / sum)
			}
		}
	}
}

// floatOutput returns the session io indices of the graph outputs that are
// node n's tensor (nil when it is none): Sigmoid and Softmax write those in
// float32 themselves (see softmaxQ), and Run leaves them alone.
func (m *Model) floatOutput(n *Node) []int {
	t := m.byName[n.Name]
	var io []int
	for i, o := range m.outputs {
		if o == t {
			io = append(io, len(m.inputs)+i)
			m.floatOut[i] = true
		}
	}
	return io
}

type concatQ struct {
	in  []*tensor
	out *tensor
	lut [][]int8 // per input: nil when it already has the output's parameters
}

func (l *concatQ) run(s *Session) {
	out := s.bbuf(l.out)
	oc := l.out.shape[3]
	px := l.out.shape[0] * l.out.shape[1] * l.out.shape[2]
	c0 := 0
	for i, t := range l.in {
		in := s.bbuf(t)
		c := t.shape[3]
		if lut := l.lut[i]; lut != nil {
			lut := (*[256]int8)(lut)
			for p := range px {
				neon.LookupInt8(out[p*oc+c0:p*oc+c0+c], in[p*c:(p+1)*c], lut)
			}
		} else {
			for p := range px {
				copyPixel(out[p*oc+c0:p*oc+c0+c], in[p*c:(p+1)*c])
			}
		}
		c0 += c
	}
}

type transposeQ struct {
	in, out *tensor
	perm    [4]int
}

func (l *transposeQ) run(s *Session) {
	transpose(s.bbuf(l.out), s.bbuf(l.in), l.in.shape, l.out.shape, l.perm)
}

type resizeQ struct {
	in, out *tensor
	s       int
}

func (l *resizeQ) run(s *Session) {
	resizeNearest(s.bbuf(l.out), s.bbuf(l.in), l.in.shape, l.out.shape, l.s)
}

// portableExp is math.Exp's pure-Go algorithm (FreeBSD's) with every
// product rounded explicitly: math.Exp has assembly versions on amd64 and
// arm64 that may differ in the last bit, and Go may fuse x*y+z into an FMA
// on some architectures. The int8 sigmoid and softmax tables are built
// from it so that they, and the int8 results, are the same everywhere.
// Accurate to about 1 ulp for |x| < 700; only called with such x.
func portableExp(x float64) float64 {
	const (
		ln2Hi = 6.93147180369123816490e-01
		ln2Lo = 1.90821492927058770002e-10
		log2e = 1.44269504088896338700e+00
		p1    = 1.66666666666666657415e-01
		p2    = -2.77777777770155933842e-03
		p3    = 6.61375632143793436117e-05
		p4    = -1.65339022054652515390e-06
		p5    = 4.13813679705723846039e-08
	)
	switch {
	case math.IsNaN(x):
		return x
	case x > 700:
		return math.Inf(1)
	case x < -700:
		return 0
	case -1.0/(1<<28) < x && x < 1.0/(1<<28):
		return 1 + x
	}
	var k int
	switch {
	case x < 0:
		k = int(float64(log2e*x) - 0.5)
	case x > 0:
		k = int(float64(log2e*x) + 0.5)
	}
	hi := x - float64(float64(k)*ln2Hi)
	lo := float64(float64(k) * ln2Lo)
	r := hi - lo
	t := float64(r * r)
	poly := float64(t * p5)
	poly = float64(t * (p4 + poly))
	poly = float64(t * (p3 + poly))
	poly = float64(t * (p2 + poly))
	poly = float64(t * (p1 + poly))
	c := r - poly
	y := 1 - ((lo - float64(r*c)/(2-c)) - hi)
	return math.Ldexp(y, k)
}

// accOutQ is a Dense or 1x1 stride-1 convolution whose output is a graph
// output (a detector's box and score head, an embedding). It keeps the
// int32 accumulators and writes the float32 output from them,
//
//	y[j] = float32(acc[j] - zpIn*RowSum[j]) * (sIn*sW[j]) + b[j],
//
// every product rounded once (no FMA contraction, so the same bits on every
// architecture), instead of requantizing to int8 and dequantizing: a head
// whose channels span different ranges (tiny face's log box sizes next to
// its scores, one int8 scale for all) loses nothing to the output's 256
// levels. The int8 output is still made, by the same epilogue as Gemm's
// (neon.Requant, applied in Go), so OutputInt8 and any consumer are
// unchanged.
type accOutQ struct {
	in, out *tensor
	p       *neon.Packed
	q       *neon.Requant
	scale   []float32 // sIn*sW[j]
	bias    []float32 // b[j] (0 without bias)
	act     Activation
	fout    []int // session io indices of the outputs
}

// accOutRows is the rows of accOutQ's int32 scratch.
const accOutRows = 32

// compileAccOut makes an accOutQ when n qualifies; ok says whether it did.
func (m *Model) compileAccOut(n *Node, in []*tensor, out *tensor) (l layer, ok bool, err error) {
	if n.Op != OpConv && n.Op != OpDense {
		return nil, false, nil
	}
	if n.Op == OpConv {
		ws := n.weightShape()
		g := geomOf(n, in[0].shape, out.shape, ws[1], ws[2])
		if max(n.Groups, 1) != 1 || g.kh != 1 || g.kw != 1 || g.sh != 1 || g.sw != 1 || g.pt != 0 || g.pl != 0 || g.oh != g.h || g.ow != g.w {
			return nil, false, nil
		}
	}
	t := m.byName[n.Name]
	if !slices.Contains(m.outputs, t) {
		return nil, false, nil
	}
	w, err := nodeQWeights(n)
	if err != nil {
		return nil, true, err
	}
	ws := n.weightShape()
	oc, k := ws[0], ws[1]*ws[2]*ws[3]
	a := &accOutQ{in: in[0], out: out, act: n.Act, fout: m.floatOutput(n)}
	a.p = neon.Pack(w.data, oc, k)
	a.q = requantFor(n, w, 0, a.p.RowSum, in[0], out)
	a.scale = make([]float32, oc)
	a.bias = make([]float32, oc)
	for j := range oc {
		a.scale[j] = float32(float64(in[0].scale) * float64(w.scale[j]))
		if n.B != nil {
			a.bias[j] = n.B[j]
		}
	}
	m.scratchI = max(m.scratchI, accOutRows*oc)
	return a, true, nil
}

func (l *accOutQ) run(s *Session) {
	s.parallel(l, l.rows(), accOutRows)
	for _, o := range l.fout[1:] {
		copy(s.io[o], s.io[l.fout[0]])
	}
}

func (l *accOutQ) rows() int { return l.in.shape.Elems() / l.p.K }

func (l *accOutQ) part(s *Session, w, lo, hi int) {
	k, oc := l.p.K, l.p.N
	in, out, fo := s.bbuf(l.in), s.bbuf(l.out), s.io[l.fout[0]]
	acc := s.si[w][:accOutRows*oc]
	zp := l.in.zp
	q := l.q
	for r0 := lo; r0 < hi; r0 += accOutRows {
		r1 := min(r0+accOutRows, hi)
		neon.GemmInt32(acc, oc, in[r0*k:r1*k], k, r1-r0, l.p)
		for r := r0; r < r1; r++ {
			row := acc[(r-r0)*oc : (r-r0+1)*oc]
			for j, v := range row {
				x := int64(neon.Requantize(v+q.Bias[j], q.Mult[j], q.Shift[j])) + int64(q.ZeroPoint)
				out[r*oc+j] = int8(min(max(x, int64(q.Min)), int64(q.Max)))
				y := float32(float32(v-zp*l.p.RowSum[j])*l.scale[j]) + l.bias[j]
				switch l.act {
				case ActReLU:
					y = max(y, 0)
				case ActReLU6:
					y = min(max(y, 0), 6)
				}
				fo[r*oc+j] = y
			}
		}
	}
}
