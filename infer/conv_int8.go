package infer

// The int8 convolution: im2col + neon.Gemm, direct 1x1, dilated kernels,
// and 3x3 depthwise (see the notes at the top of exec_int8.go).

import (
	"unsafe"

	"github.com/vigil-edge/vigil/neon"
)

// convQ is an int8 convolution.
type convQ struct {
	in, out *tensor
	g       convGeom
	groups  int
	icg     int
	ocg     int
	k       int // reduction length: kh*kw*icg
	lda     int // im2col row stride: k rounded up to a multiple of 4
	kind    int
	packed  []*neon.Packed // per group
	q       []*neon.Requant
	dw      []int8 // depthwise weights [kh*kw][oc]
	dwq     *neon.Requant
	dw3     bool               // neon.DepthwiseConv3x3 applies
	dw3p    *neon.Depthwise3x3 // dw and dwq prepared, when dw3
	mc      int
	direct  *directQ // non-nil: neon.ConvDirect on padded input rows, no im2col
}

// directQ is the geometry of a convolution run by neon.ConvDirect: its
// input rows are copied with the padding written out (wp pixels wide, pl
// of them on the left), chunk output rows at a time, and each output
// pixel reads taps, byte offsets from its window's top-left corner.
type directQ struct {
	wp, pl int
	chunk  int // output rows per padded copy
	taps   []int
}

// convQWeights are the load-time products shared by Reshape-d models.
type convQWeights struct {
	packed []*neon.Packed
	q      []*neon.Requant
	dw     []int8
	dwq    *neon.Requant
	dw3p   *neon.Depthwise3x3 // 3x3 depthwise: dw and dwq prepared once
	// A kernel whose taps off a grid of pitch dil are all zero (a dilated
	// convolution imported as a zero-stuffed kernel, as UltraFace's) is
	// packed as the dilated kh x kw kernel it is.
	dil, kh, kw int
	// seg > 0: packed for neon.ConvDirect, seg bytes per tap (rows: one
	// window row of kw*ic bytes padded to seg with zero weights).
	seg  int
	rows bool
}

// detectDilation lets compileConvQ run zero-stuffed kernels as dilated
// convolutions (tests switch it off to compare).
var detectDilation = true

// directConv lets compileConvQ run small-channel convolutions with
// neon.ConvDirect instead of im2col + Gemm (tests switch it off).
var directConv = true

// directSeg decides whether a (possibly dilated) kh x kw kernel over ic
// channels runs as neon.ConvDirect, and how: one tap per kernel position
// when ic is a whole number of 4-byte groups, or, for an undilated kernel
// whose window rows are at most 16 bytes (the 9 bytes of a 3x3 window row
// of an RGB input), one tap per window row padded to whole groups. Larger
// channel counts stay with im2col, whose GEMM shares each activation
// broadcast between two panels and whose copy is cheap next to it.
func directSeg(kh, kw, ic, dil int) (seg int, rows bool) {
	switch {
	case !directConv:
		return 0, false
	case ic%4 == 0 && ic <= 16 && kh*kw*ic <= 4096:
		return ic, false
	case dil == 1 && kw*ic <= 16:
		return (kw*ic + 3) &^ 3, true
	}
	return 0, false
}

// dilatedKernel looks for the largest d > 1 such that every int8 weight
// of w [oc][kh][kw][ic] off the taps (d*i, d*j) is zero and returns the
// kernel of those taps, [oc][(kh-1)/d+1][(kw-1)/d+1][ic]. The dropped taps
// add exactly 0 to every accumulator, and their weight sums (the -zpIn
// correction in the bias) are 0, so the results are the same bytes.
func dilatedKernel(w []int8, oc, kh, kw, ic int) (d int, data []int8) {
	for d = min(kh, kw) - 1; d > 1; d-- {
		if (kh-1)%d != 0 || (kw-1)%d != 0 {
			continue
		}
		zero := true
		for o := 0; o < oc && zero; o++ {
			for ky := 0; ky < kh && zero; ky++ {
				for kx := range kw {
					if ky%d == 0 && kx%d == 0 {
						continue
					}
					for _, v := range w[((o*kh+ky)*kw+kx)*ic : ((o*kh+ky)*kw+kx+1)*ic] {
						if v != 0 {
							zero = false
							break
						}
					}
				}
			}
		}
		if !zero {
			continue
		}
		ckh, ckw := (kh-1)/d+1, (kw-1)/d+1
		data = make([]int8, 0, oc*ckh*ckw*ic)
		for o := range oc {
			for ky := 0; ky < kh; ky += d {
				for kx := 0; kx < kw; kx += d {
					data = append(data, w[((o*kh+ky)*kw+kx)*ic:((o*kh+ky)*kw+kx+1)*ic]...)
				}
			}
		}
		return d, data
	}
	return 1, w
}

func (m *Model) compileConvQ(n *Node, in, out *tensor) (layer, error) {
	ws := n.weightShape()
	l := &convQ{in: in, out: out, g: geomOf(n, in.shape, out.shape, ws[1], ws[2])}
	l.groups = max(n.Groups, 1)
	l.icg = in.shape[3] / l.groups
	l.ocg = ws[0] / l.groups
	l.k = ws[1] * ws[2] * ws[3]
	g := l.g
	depthwise := l.icg == 1 && l.groups > 1
	is1x1 := l.groups == 1 && g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pt == 0 && g.pl == 0 && g.oh == g.h && g.ow == g.w
	v, err := m.w.get(n, func() (any, error) {
		w, err := nodeQWeights(n)
		if err != nil {
			return nil, err
		}
		cw := &convQWeights{}
		if depthwise {
			taps := g.kh * g.kw
			cw.dw = make([]int8, taps*g.oc)
			sums := make([]int32, g.oc)
			for oc := range g.oc {
				for t := range taps {
					v := w.data[oc*taps+t]
					cw.dw[t*g.oc+oc] = v
					sums[oc] += int32(v)
				}
			}
			cw.dwq = requantFor(n, w, 0, sums, in, out)
			if g.kh == 3 && g.kw == 3 && g.oc == g.c {
				cw.dw3p = neon.NewDepthwise3x3(cw.dw, g.c, cw.dwq)
			}
			return cw, nil
		}
		cw.dil, cw.kh, cw.kw = 1, g.kh, g.kw
		data, k := w.data, l.k
		if detectDilation && l.groups == 1 && g.kh >= 3 && g.kw >= 3 {
			var d int
			d, data = dilatedKernel(w.data, l.ocg, g.kh, g.kw, l.icg)
			if d > 1 {
				cw.dil, cw.kh, cw.kw = d, (g.kh-1)/d+1, (g.kw-1)/d+1
				k = cw.kh * cw.kw * l.icg
			}
		}
		// im2col rows are padded to whole groups of 4 k (zero weights, so
		// the padding bytes add exactly 0): the GEMM then needs no tail.
		kp := k
		if !is1x1 {
			kp = (k + 3) &^ 3
		}
		if l.groups == 1 && !is1x1 {
			cw.seg, cw.rows = directSeg(cw.kh, cw.kw, l.icg, cw.dil)
			if cw.rows {
				// [oc][kh][kw*ic] -> [oc][kh][seg], zero-padded.
				span := cw.kw * l.icg
				kp = cw.kh * cw.seg
				wp := make([]int8, l.ocg*kp)
				for o := range l.ocg {
					for ky := range cw.kh {
						copy(wp[o*kp+ky*cw.seg:], data[o*k+ky*span:o*k+(ky+1)*span])
					}
				}
				data, k = wp, kp
			}
		}
		for gi := range l.groups {
			wg := data[gi*l.ocg*k : (gi+1)*l.ocg*k]
			if kp != k {
				wp := make([]int8, l.ocg*kp)
				for o := range l.ocg {
					copy(wp[o*kp:], wg[o*k:(o+1)*k])
				}
				wg = wp
			}
			p := neon.Pack(wg, l.ocg, kp)
			q := requantFor(n, w, gi*l.ocg, p.RowSum, in, out)
			q.Prepare()
			cw.packed = append(cw.packed, p)
			cw.q = append(cw.q, q)
		}
		return cw, nil
	})
	if err != nil {
		return nil, err
	}
	cw := v.(*convQWeights)
	l.packed, l.q, l.dw, l.dwq, l.dw3p = cw.packed, cw.q, cw.dw, cw.dwq, cw.dw3p
	if !depthwise && cw.dil > 1 {
		l.g.dil, l.g.kh, l.g.kw = cw.dil, cw.kh, cw.kw
		l.k = cw.kh * cw.kw * l.icg
		g = l.g
	}
	switch {
	case depthwise:
		l.kind = convDepthwise
		l.dw3 = l.ocg == 1 && g.kh == 3 && g.kw == 3 && g.sh == g.sw && (g.sh == 1 || g.sh == 2) && l.dw3p != nil
		if l.dw3 && prepadDepthwise {
			m.scratchB = max(m.scratchB, ((g.oh-1)*g.sh+3)*((g.ow-1)*g.sw+3)*g.c+63)
		}
		if !l.dw3 {
			m.scratchI = max(m.scratchI, g.oc)
		}
	case is1x1:
		l.kind = conv1x1
	case cw.seg > 0:
		l.kind = convIm2col
		l.direct = directGeom(&g, cw.seg, cw.rows)
		m.scratchB = max(m.scratchB, l.direct.bufLen(&g, l.direct.chunk)+63)
	default:
		l.kind = convIm2col
		l.lda = l.packed[0].K
		l.mc = chunkRows(l.lda / 4) // int8 rows are a quarter of float ones
		m.scratchB = max(m.scratchB, l.mc*l.lda)
	}
	return l, nil
}

// directGeom lays out the padded input rows of a direct convolution.
func directGeom(g *convGeom, seg int, rows bool) *directQ {
	dil := max(g.dil, 1)
	d := &directQ{wp: (g.ow-1)*g.sw + (g.kw-1)*dil + 1, pl: g.pl}
	if rows {
		for ky := range g.kh {
			d.taps = append(d.taps, ky*dil*d.wp*g.c)
		}
	} else {
		for ky := range g.kh {
			for kx := range g.kw {
				d.taps = append(d.taps, (ky*d.wp+kx)*dil*g.c)
			}
		}
	}
	// About 32 KB of padded rows per copy (L1), at least one output row.
	d.chunk = max(1, min(g.oh, (32<<10/(d.wp*g.c)-(g.kh-1)*dil-1)/g.sh+1))
	return d
}

// bufLen is the scratch a chunk of n output rows needs: their input rows,
// padded, and 16 bytes for the zero-weight bytes read past the last window.
func (d *directQ) bufLen(g *convGeom, n int) int {
	return ((n-1)*g.sh+(g.kh-1)*max(g.dil, 1)+1)*d.wp*g.c + 16
}

// directRows computes output rows [lo, hi) over N*OH with neon.ConvDirect,
// from copies of the input rows they read with the padding (the input
// zero point) written out, as depthwisePadded does: every window is then
// inside the copy and the taps are plain offsets.
func (l *convQ) directRows(in, out []int8, lo, hi int, scratch []int8) {
	scratch = align64(scratch)
	g, d := l.g, l.direct
	c := g.c
	dil := max(g.dil, 1)
	pad := int8(l.in.zp)
	// Where the kernel reads a biased source natively, the copy writes it
	// so (XOR 0x80, as fast as a copy) and saves a XOR per broadcast.
	biased := neon.DirectBiased()
	if biased {
		pad ^= -128
	}
	pl := min(d.pl, d.wp)
	cols := max(0, min(g.w, d.wp-pl))
	for r := lo; r < hi; {
		n, oy0 := r/g.oh, r%g.oh
		oy1 := min(g.oh, oy0+min(hi-r, d.chunk))
		rows := (oy1-oy0-1)*g.sh + (g.kh-1)*dil + 1
		buf := scratch[:d.bufLen(&g, oy1-oy0)]
		padRows(buf, in, &g, n, oy0*g.sh-g.pt, rows, d.wp, pl, cols, c, pad, biased)
		fill8(buf[rows*d.wp*c:], pad)
		dst := out[((n*g.oh+oy0)*g.ow)*g.oc : ((n*g.oh+oy1)*g.ow)*g.oc]
		if biased {
			neon.ConvDirectBiased(dst, g.oc, buf, oy1-oy0, g.ow, g.sh*d.wp*c, g.sw*c, d.taps, l.packed[0], l.q[0])
		} else {
			neon.ConvDirect(dst, g.oc, buf, oy1-oy0, g.ow, g.sh*d.wp*c, g.sw*c, d.taps, l.packed[0], l.q[0])
		}
		r += oy1 - oy0
	}
}

func (l *convQ) run(s *Session) {
	g := l.g
	if l.direct != nil {
		s.parallel(l, g.n*g.oh, 1)
		return
	}
	switch l.kind {
	case convDepthwise:
		s.parallel(l, g.n*g.oh, 1)
	case conv1x1:
		s.parallel(l, g.n*g.oh*g.ow, 16)
	default:
		s.parallel(l, g.n*g.oh*g.ow, l.mc)
	}
}

func (l *convQ) part(s *Session, w, lo, hi int) {
	g := l.g
	in, out := s.bbuf(l.in), s.bbuf(l.out)
	switch l.kind {
	case convDepthwise:
		if l.dw3 && prepadDepthwise {
			l.depthwisePadded(in, out, lo, hi, s.sb[w])
			return
		}
		l.depthwise(in, out, lo, hi, s.si[w])
		return
	case conv1x1:
		neon.Gemm(out[lo*g.oc:hi*g.oc], g.oc, in[lo*g.c:hi*g.c], g.c, hi-lo, l.packed[0], l.q[0])
		return
	}
	if l.direct != nil {
		l.directRows(in, out, lo, hi, s.sb[w])
		return
	}
	a := s.sb[w]
	pad := int8(l.in.zp)
	for p0 := lo; p0 < hi; p0 += l.mc {
		p1 := min(p0+l.mc, hi)
		c := out[p0*g.oc : p1*g.oc]
		for gi := range l.groups {
			im2colQ(a, in, &g, p0, p1, gi*l.icg, l.icg, l.lda, pad)
			neon.Gemm(c[gi*l.ocg:], g.oc, a, l.lda, p1-p0, l.packed[gi], l.q[gi])
		}
	}
}

// im2colQ is im2colF for int8, padding with the input zero point. When a
// window row lies inside the image and the group spans every channel, its
// kw*cn bytes are contiguous in NHWC and move in one copy. Short pieces
// (the 9 bytes of a 3-pixel window row of an RGB input, pixels of 8-16
// channels) move as one 16-byte block when a has room: the bytes past the
// piece are overwritten by the next ones, as a is filled in order.
func im2colQ(a, in []int8, g *convGeom, p0, p1, c0, cn, lda int, pad int8) {
	span := g.kw * cn
	dil := max(g.dil, 1)
	whole := cn == g.c && dil == 1
	n, oy, ox := p0/(g.oh*g.ow), p0/g.ow%g.oh, p0%g.ow
	a = a[:(p1-p0)*lda]
	i := 0          // write offset in a
	rs := g.w * g.c // input row stride
	short := whole && span <= 16
	taps := !whole && cn <= 16 // one 16-byte move per tap
	ext := (g.kw-1)*dil + 1    // window extent in pixels
	for p := p0; p < p1; p++ {
		ix0 := ox*g.sw - g.pl
		inside := ix0 >= 0 && ix0+g.kw <= g.w
		if iy0 := oy*g.sh - g.pt; (short || taps) && ix0 >= 0 && ix0+ext <= g.w && iy0 >= 0 && iy0+(g.kh-1)*dil < g.h && i+lda+16 <= len(a) {
			// The whole window is in the image (the common case): kh
			// 16-byte moves (first RGB layer) or one per tap.
			so := ((n*g.h+iy0)*g.w+ix0)*g.c + c0
			if so+(g.kh-1)*dil*rs+(ext-1)*g.c+16 <= len(in) {
				if short {
					for range g.kh {
						*(*[16]int8)(a[i : i+16]) = *(*[16]int8)(in[so : so+16])
						i += span
						so += rs
					}
				} else {
					for range g.kh {
						t := so
						for range g.kw {
							*(*[16]int8)(a[i : i+16]) = *(*[16]int8)(in[t : t+16])
							i += cn
							t += dil * g.c
						}
						so += dil * rs
					}
				}
				goto next
			}
		}
		for ky := range g.kh {
			iy := oy*g.sh - g.pt + ky*dil
			if iy < 0 || iy >= g.h {
				fill8(a[i:i+span], pad)
				i += span
				continue
			}
			base := (n*g.h + iy) * g.w
			if inside && whole {
				move8(a, i, in, (base+ix0)*g.c, span)
				i += span
				continue
			}
			for kx := range g.kw {
				ix := ix0 + kx*dil
				if ix < 0 || ix >= g.w {
					fill8(a[i:i+cn], pad)
				} else {
					move8(a, i, in, (base+ix)*g.c+c0, cn)
				}
				i += cn
			}
		}
	next:
		// The row's padding bytes meet zero weights: any value will do, but
		// they get the pad value so that a holds no stale bytes.
		for ; i < (p-p0+1)*lda; i++ {
			a[i] = pad
		}
		if ox++; ox == g.ow {
			ox = 0
			if oy++; oy == g.oh {
				oy = 0
				n++
			}
		}
	}
}

// move8 copies src[so:so+n] to dst[do:], as one or two 16-byte blocks
// when n <= 32 and both slices have the room (dst's bytes past n are then
// clobbered).
func move8(dst []int8, do int, src []int8, so, n int) {
	if n <= 32 && do+32 <= len(dst) && so+32 <= len(src) {
		*(*[16]int8)(dst[do : do+16]) = *(*[16]int8)(src[so : so+16])
		if n > 16 {
			*(*[16]int8)(dst[do+16 : do+32]) = *(*[16]int8)(src[so+16 : so+32])
		}
		return
	}
	copy(dst[do:do+n], src[so:so+n])
}

// fill8 sets every byte of b to v: 8 bytes a store for the short pieces
// of im2col and of the padded copies (a pixel's channels), then doubling
// copies (memmove, vectorised) past 256 bytes, for whole padded rows.
func fill8(b []int8, v int8) {
	if len(b) < 8 {
		for i := range b {
			b[i] = v
		}
		return
	}
	w := [8]int8{v, v, v, v, v, v, v, v}
	n := min(len(b), 256) &^ 7
	for i := 0; i < n; i += 8 {
		*(*[8]int8)(b[i : i+8]) = w
	}
	*(*[8]int8)(b[len(b)-8:]) = w // the tail, overlapping
	for ; n < len(b); n *= 2 {
		copy(b[n:], b[:n])
	}
}

// align64 drops the first bytes of b up to a 64-byte boundary (callers
// size their scratch 63 bytes larger): the kernels load 64 bytes at a time
// from the padded rows, and rows of a multiple of 64 channels then never
// split a cache line.
func align64(b []int8) []int8 {
	return b[int(-uintptr(unsafe.Pointer(unsafe.SliceData(b)))&63):]
}

// prepadDepthwise makes 3x3 depthwise convolutions read a copy of their
// input rows with the padding written out (tests switch it off).
var prepadDepthwise = true

// depthwisePadded computes output rows [lo, hi) over N*OH like depthwise,
// from a copy of the input rows they read in which the padding (the input
// zero point, as the kernel's own padValue) is explicit: every output
// pixel is then interior, one kernel call per output row and channel
// block, where a border pixel costs a call of its own and a gathered
// window in neon.DepthwiseConv3x3. The kernel sees the same values either
// way, so the bytes are the same.
func (l *convQ) depthwisePadded(in, out []int8, lo, hi int, scratch []int8) {
	scratch = align64(scratch)
	g := l.g
	c := g.c
	pad := int8(l.in.zp)
	// Where the kernel reads a biased source natively, the copy writes it
	// so (XOR 0x80, as fast as a copy) and saves a XOR per tap load.
	biased := l.dw3p.Biased(g.sh, g.ow)
	if biased {
		pad ^= -128
	}
	wp := (g.ow-1)*g.sw + 3 // padded columns the windows read
	pl := min(g.pl, wp)
	cols := max(0, min(g.w, wp-pl))
	for r := lo; r < hi; {
		n, oy0 := r/g.oh, r%g.oh
		oy1 := min(g.oh, oy0+(hi-r))
		rows := (oy1-oy0-1)*g.sh + 3
		buf := scratch[:rows*wp*c]
		padRows(buf, in, &g, n, oy0*g.sh-g.pt, rows, wp, pl, cols, c, pad, biased)
		dst := out[((n*g.oh+oy0)*g.ow)*c : ((n*g.oh+oy1)*g.ow)*c]
		if biased {
			l.dw3p.ConvBiased(dst, buf, rows, wp, g.sh, oy1-oy0, g.ow)
		} else {
			l.dw3p.Conv(dst, buf, rows, wp, g.sh, 0, 0, oy1-oy0, g.ow, pad)
		}
		r += oy1 - oy0
	}
}

// depthwise computes output rows [lo, hi) over N*OH.
func (l *convQ) depthwise(in, out []int8, lo, hi int, acc32 []int32) {
	g := l.g
	oc := g.oc
	if l.dw3 {
		// One neon call per image and row range: the kernel sees the image
		// starting at the first input row it needs.
		for r := lo; r < hi; {
			n, oy0 := r/g.oh, r%g.oh
			oy1 := min(g.oh, oy0+(hi-r))
			src := in[n*g.h*g.w*g.c : (n+1)*g.h*g.w*g.c]
			h, padTop := g.h, g.pt
			if iy := oy0*g.sh - g.pt; iy > 0 {
				src = src[iy*g.w*g.c:]
				h -= iy
				padTop = 0
			} else {
				padTop = -iy
			}
			dst := out[((n*g.oh+oy0)*g.ow)*oc : ((n*g.oh+oy1)*g.ow)*oc]
			l.dw3p.Conv(dst, src, h, g.w, g.sh, padTop, g.pl, oy1-oy0, g.ow, int8(l.in.zp))
			r += oy1 - oy0
		}
		return
	}
	q := l.dwq
	zp := l.in.zp
	acc := acc32[:oc]
	for r := lo; r < hi; r++ {
		n, oy := r/g.oh, r%g.oh
		for ox := range g.ow {
			o := out[((n*g.oh+oy)*g.ow+ox)*oc : ((n*g.oh+oy)*g.ow+ox+1)*oc]
			clear(acc)
			for ky := range g.kh {
				iy := oy*g.sh - g.pt + ky
				for kx := range g.kw {
					ix := ox*g.sw - g.pl + kx
					wt := l.dw[(ky*g.kw+kx)*oc : (ky*g.kw+kx+1)*oc]
					wt = wt[:len(acc)]
					if iy < 0 || iy >= g.h || ix < 0 || ix >= g.w {
						// Padding holds the zero point: the bias folded -zp*sum(w).
						for j, w := range wt {
							acc[j] += zp * int32(w)
						}
						continue
					}
					px := in[((n*g.h+iy)*g.w+ix)*g.c : ((n*g.h+iy)*g.w+ix+1)*g.c]
					if l.ocg == 1 {
						px = px[:len(acc)]
						for j, w := range wt {
							acc[j] += int32(px[j]) * int32(w)
						}
						continue
					}
					for j, w := range wt {
						acc[j] += int32(px[j/l.ocg]) * int32(w)
					}
				}
			}
			bias, mult, shift := q.Bias[:len(acc)], q.Mult[:len(acc)], q.Shift[:len(acc)]
			o = o[:len(acc)]
			for j, a := range acc {
				v := int64(neon.Requantize(a+bias[j], mult[j], shift[j])) + int64(q.ZeroPoint)
				o[j] = int8(min(max(v, int64(q.Min)), int64(q.Max)))
			}
		}
	}
}

// padRows writes rows input rows of image n, from input row iy0, into buf
// as padded rows of wp pixels: pl pixels of pad, the cols pixels of the
// row (XOR 0x80 when biased), pad to the end; rows outside the image are
// all pad.
func padRows(buf, in []int8, g *convGeom, n, iy0, rows, wp, pl, cols, c int, pad int8, biased bool) {
	for pr := range rows {
		row := buf[pr*wp*c : (pr+1)*wp*c]
		iy := iy0 + pr
		if iy < 0 || iy >= g.h {
			fill8(row, pad)
			continue
		}
		fill8(row[:pl*c], pad)
		o := (n*g.h + iy) * g.w * c
		if biased {
			neon.XorCopy(row[pl*c:(pl+cols)*c], in[o:o+cols*c])
		} else {
			copy(row[pl*c:(pl+cols)*c], in[o:o+cols*c])
		}
		fill8(row[(pl+cols)*c:], pad)
	}
}
