package infer

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/neon"
)

// im2colQRef is the plain per-tap im2col the fast one must match.
func im2colQRef(a, in []int8, g *convGeom, p0, p1, c0, cn, lda int, pad int8) {
	d := max(g.dil, 1)
	for p := p0; p < p1; p++ {
		n, oy, ox := p/(g.oh*g.ow), p/g.ow%g.oh, p%g.ow
		i := (p - p0) * lda
		for ky := range g.kh {
			for kx := range g.kw {
				iy, ix := oy*g.sh-g.pt+ky*d, ox*g.sw-g.pl+kx*d
				for c := range cn {
					v := pad
					if iy >= 0 && iy < g.h && ix >= 0 && ix < g.w {
						v = in[((n*g.h+iy)*g.w+ix)*g.c+c0+c]
					}
					a[i] = v
					i++
				}
			}
		}
		for ; i < (p-p0+1)*lda; i++ {
			a[i] = pad
		}
	}
}

func TestIm2colQ(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for it := range 2000 {
		g := convGeom{n: 1 + r.IntN(2), h: 1 + r.IntN(9), w: 1 + r.IntN(9), kh: 1 + r.IntN(4), kw: 1 + r.IntN(4),
			sh: 1 + r.IntN(3), sw: 1 + r.IntN(3)}
		groups := 1 + r.IntN(3)
		cn := []int{1, 2, 3, 5, 8, 16, 17, 40, 64, 100, 200}[r.IntN(11)]
		g.c = groups * cn
		g.dil = r.IntN(4)
		d := max(g.dil, 1)
		g.pt, g.pl = r.IntN((g.kh-1)*d+1), r.IntN((g.kw-1)*d+1)
		g.oh = max(1, (g.h+2*g.pt-(g.kh-1)*d-1)/g.sh+1)
		g.ow = max(1, (g.w+2*g.pl-(g.kw-1)*d-1)/g.sw+1)
		in := make([]int8, g.n*g.h*g.w*g.c)
		for i := range in {
			in[i] = int8(r.IntN(256) - 128)
		}
		m := g.n * g.oh * g.ow
		p0 := r.IntN(m)
		p1 := p0 + r.IntN(m-p0+1)
		c0 := r.IntN(groups) * cn
		k := g.kh * g.kw * cn
		lda := k + r.IntN(4)
		want := make([]int8, (p1-p0)*lda+8)
		got := make([]int8, len(want))
		for i := range want {
			want[i], got[i] = 99, 99
		}
		im2colQRef(want, in, &g, p0, p1, c0, cn, lda, -7)
		im2colQ(got, in, &g, p0, p1, c0, cn, lda, -7)
		require.Equal(t, want, got, "case %d: %+v rows [%d,%d) c0=%d cn=%d", it, g, p0, p1, c0, cn)
	}
}

// TestMaxPoolRows checks the row-wise max pooling against neon.MaxPoolInt8
// byte for byte, over random geometries (paddings on every side, channel
// counts around the SIMD block sizes) and every kernel implementation.
func TestMaxPoolRows(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, impl := range neon.Impls() {
		t.Run(impl, func(t *testing.T) {
			defer neon.SetImpl(impl)()
			tested := 0
			for it := 0; tested < 300 && it < 3000; it++ {
				p := neon.Pool{H: 1 + r.IntN(12), W: 1 + r.IntN(12), C: []int{1, 3, 15, 16, 17, 32, 33, 64}[r.IntN(8)],
					KH: 1 + r.IntN(4), KW: 1 + r.IntN(4), StrideH: 1 + r.IntN(3), StrideW: 1 + r.IntN(3), Min: -128, Max: 127}
				p.PadTop, p.PadLeft = r.IntN(p.KH), r.IntN(p.KW)
				p.OutH = max(1, (p.H+p.PadTop+r.IntN(p.KH)-p.KH)/p.StrideH+1)
				p.OutW = max(1, (p.W+p.PadLeft+r.IntN(p.KW)-p.KW)/p.StrideW+1)
				if !rowPoolable(&p) {
					continue
				}
				tested++
				src := make([]int8, p.H*p.W*p.C)
				for i := range src {
					src[i] = int8(r.IntN(256) - 128)
				}
				n := p.OutH * p.OutW * p.C
				want, got := make([]int8, n+4), make([]int8, n+4)
				for i := range want {
					want[i], got[i] = 55, 55
				}
				neon.MaxPoolInt8(want[:n], src, &p)
				scratch := make([]int8, 2*p.W*p.C)
				for oy := range p.OutH {
					maxPoolRow(got[:n], src, &p, oy, scratch)
				}
				require.Equal(t, want, got, "%+v", p)
			}
			require.Equal(t, 300, tested)
		})
	}
}

// TestQuantizeInto checks the integer rounding of quantizeInto against
// math.Round in float64, the definition.
func TestQuantizeInto(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	src := []float32{0, float32(math.Copysign(0, -1)), 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, float32(math.Inf(1)), float32(math.Inf(-1)),
		math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32, 1e6, -1e6, 1023.5, -1023.5, 1024.5, -1024.5}
	for range 200000 {
		src = append(src, (r.Float32()-0.5)*600, float32(r.IntN(600)-300)/2, math.Float32frombits(r.Uint32()))
	}
	// NaN blocks go to the Go loop; put a few among the SIMD blocks.
	for _, i := range []int{5, 16, 47, 48 + 15, 1000} {
		src[i] = float32(math.NaN())
	}
	for _, sc := range []struct {
		scale float32
		zp    int32
	}{{1, 0}, {0.5, -128}, {2, 127}, {0.0078125, 3}, {0.1, -7}, {3e-3, 100}} {
		for _, simd := range []bool{false, true} {
			if simd && !quantizeSIMD {
				continue
			}
			for _, off := range []int{0, 3} {
				func() {
					defer func(v bool) { quantizeSIMD = v }(quantizeSIMD)
					quantizeSIMD = simd
					src := src[off:]
					got := make([]int8, len(src)+8)
					for i := range got {
						got[i] = 77
					}
					quantizeInto(got[:len(src)], src, sc.scale, sc.zp)
					inv := 1 / float64(sc.scale)
					want := make([]int8, len(src))
					for i, x := range src {
						v := math.Round(float64(x)*inv) + float64(sc.zp)
						want[i] = int8(min(max(v, -128), 127))
						if x != x {
							want[i] = got[i] // int8(NaN): whatever the Go conversion gives
						}
					}
					require.Equal(t, want, got[:len(src)], "scale=%v zp=%d simd=%v", sc.scale, sc.zp, simd)
					require.Equal(t, []int8{77, 77, 77, 77, 77, 77, 77, 77}, got[len(src):])
				}()
			}
		}
	}
}

// TestDilatedKernelBitIdentical runs convolutions whose kernels are
// zero-stuffed dilated ones (UltraFace's RFB branches) with and without
// the dilation found at load time: the int8 bytes must be the same, and
// kernels with a non-zero tap off the grid must not be taken for dilated.
func TestDilatedKernelBitIdentical(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	cases := []struct {
		in     Shape
		oc, d  int
		k      int // dilated kernel size
		stride int
		pad    Padding
		spoil  bool // one non-zero weight off the grid
	}{
		{Shape{1, 12, 14, 16}, 16, 2, 3, 1, Padding{Mode: PadExplicit, Top: 2, Left: 2, Bottom: 2, Right: 2}, false},
		{Shape{1, 12, 14, 16}, 16, 3, 3, 1, Padding{Mode: PadExplicit, Top: 3, Left: 3, Bottom: 3, Right: 3}, false},
		{Shape{2, 15, 13, 5}, 7, 5, 3, 1, Padding{Mode: PadExplicit, Top: 5, Left: 5, Bottom: 5, Right: 5}, false},
		{Shape{1, 13, 11, 3}, 9, 2, 3, 2, Padding{Mode: PadSame}, false},
		{Shape{1, 10, 10, 4}, 6, 2, 2, 1, Padding{Mode: PadValid}, false},
		{Shape{1, 12, 14, 16}, 16, 2, 3, 1, Padding{Mode: PadExplicit, Top: 2, Left: 2, Bottom: 2, Right: 2}, true},
	}
	for i, c := range cases {
		kk := (c.k-1)*c.d + 1
		ic := c.in[3]
		w := &Tensor{Shape: Shape{c.oc, kk, kk, ic}, Data: make([]float32, c.oc*kk*kk*ic)}
		for o := range c.oc {
			for ky := 0; ky < kk; ky += c.d {
				for kx := 0; kx < kk; kx += c.d {
					for j := range ic {
						w.Data[((o*kk+ky)*kk+kx)*ic+j] = r.Float32() - 0.5
					}
				}
			}
		}
		if c.spoil {
			w.Data[((0*kk+1)*kk+0)*ic] = 0.3
		}
		n := &Node{Name: "conv", Op: OpConv, Stride: [2]int{c.stride, c.stride}, Pad: c.pad, Act: ActReLU, W: w, B: rndVec(r, c.oc, -0.2, 0.2)}
		g := calibrated(t, oneNode(n, c.in), [][]float32{rndVec(r, c.in.Elems(), -1, 1)}, "minmax")
		x := rndVec(r, c.in.Elems(), -1.2, 1.2)
		run := func(detect bool) ([]int8, *Model) {
			defer func(v bool) { detectDilation = v }(detectDilation)
			detectDilation = detect
			m, err := NewModel(g, Options{Precision: Int8, Threads: 2})
			require.NoError(t, err)
			s := m.NewSession()
			defer s.Close()
			copy(s.Input(0), x)
			require.NoError(t, s.Run())
			out, _, _ := s.OutputInt8(0)
			return append([]int8(nil), out...), m
		}
		want, _ := run(false)
		got, m := run(true)
		require.Equal(t, want, got, "case %d", i)
		l := m.layers[0].(*convQ)
		if c.spoil {
			assert.LessOrEqual(t, l.g.dil, 1, "case %d", i)
		} else {
			assert.Equal(t, c.d, l.g.dil, "case %d", i)
			assert.Equal(t, c.k, l.g.kh, "case %d", i)
		}
	}
}

func TestRoundFinite(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	xs := []float64{0, math.Copysign(0, -1), 0.5, -0.5, 1.5, -2.5, 0.49999999999999994, -0.49999999999999994,
		1<<52 + 0.5, 4503599627370495.5, 1 << 60, -(1 << 60), math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64}
	for range 200000 {
		xs = append(xs, (r.Float64()-0.5)*600, float64(r.IntN(600)-300)/2)
		if x := math.Float64frombits(r.Uint64()); !math.IsNaN(x) && !math.IsInf(x, 0) {
			xs = append(xs, x)
		}
	}
	for _, x := range xs {
		if want, got := math.Round(x), roundFinite(x); want != got || want != 0 && math.Float64bits(want) != math.Float64bits(got) {
			t.Fatalf("roundFinite(%v) = %v, math.Round gives %v", x, got, want)
		}
	}
}

// TestDepthwisePaddedBitIdentical runs 3x3 depthwise convolutions with the
// padding written out and without: the same bytes, whatever the threads.
func TestDepthwisePaddedBitIdentical(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	tested := 0
	for i := range 60 {
		in := Shape{1 + r.IntN(2), 1 + r.IntN(13), 1 + r.IntN(13), []int{1, 5, 16, 32, 33, 48}[r.IntN(6)]}
		st := 1 + r.IntN(2)
		pads := []Padding{{Mode: PadSame}, {Mode: PadValid},
			{Mode: PadExplicit, Top: r.IntN(5), Left: r.IntN(5), Bottom: r.IntN(5), Right: r.IntN(5)}}
		c := convCase{in, in[3], 3, 3, st, st, in[3], pads[r.IntN(3)], []Activation{ActNone, ActReLU, ActReLU6}[r.IntN(3)]}
		n := c.node(r)
		g := oneNode(n, c.in)
		if _, err := g.Check(); err != nil {
			continue // window larger than the padded input
		}
		g = calibrated(t, g, [][]float32{rndVec(r, c.in.Elems(), -1, 1)}, "minmax")
		x := rndVec(r, c.in.Elems(), -1.2, 1.2)
		var outs [][]int8
		for _, pre := range []bool{false, true} {
			for _, threads := range []int{1, 3} {
				func() {
					defer func(v bool) { prepadDepthwise = v }(prepadDepthwise)
					prepadDepthwise = pre
					m, err := NewModel(g, Options{Precision: Int8, Threads: threads})
					require.NoError(t, err)
					s := m.NewSession()
					defer s.Close()
					copy(s.Input(0), x)
					require.NoError(t, s.Run())
					o, _, _ := s.OutputInt8(0)
					outs = append(outs, append([]int8(nil), o...))
				}()
			}
		}
		for j := 1; j < len(outs); j++ {
			require.Equal(t, outs[0], outs[j], "case %d %+v run %d", i, c, j)
		}
		tested++
	}
	require.Greater(t, tested, 30)
}

// TestSoftmaxPairs checks the two-channel softmax table against the
// general loop, byte for byte, over every pair of inputs.
func TestSoftmaxPairs(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	for range 20 {
		lo := -10 * r.Float32()
		n := &Node{Name: "sm", Op: OpSoftmax}
		g := oneNode(n, Shape{1, 256, 256, 2})
		x := make([]float32, 256*256*2)
		for i := range x {
			x[i] = lo + r.Float32()*(10-lo)
		}
		g = calibrated(t, g, [][]float32{x}, "minmax")
		var outs [][]int8
		for _, pairs := range []bool{false, true} {
			func() {
				defer func(v bool) { softmaxPairs = v }(softmaxPairs)
				softmaxPairs = pairs
				m, err := NewModel(g, Options{Precision: Int8, Threads: 1})
				require.NoError(t, err)
				require.Equal(t, pairs, m.layers[0].(*softmaxQ).pair != nil)
				s := m.NewSession()
				defer s.Close()
				in, _, _ := s.InputInt8(0)
				for i := range 256 * 256 {
					in[2*i], in[2*i+1] = int8(i>>8), int8(i) // every pair of int8 inputs
				}
				require.NoError(t, s.RunInt8())
				o, _, _ := s.OutputInt8(0)
				outs = append(outs, append([]int8(nil), o...))
			}()
		}
		require.Equal(t, outs[0], outs[1])
	}
}

func TestFill8(t *testing.T) {
	for n := range 1100 {
		b := make([]int8, n+2)
		fill8(b[1:n+1], -5)
		for i, v := range b {
			want := int8(-5)
			if i == 0 || i == n+1 {
				want = 0
			}
			require.Equal(t, want, v, "n=%d i=%d", n, i)
		}
	}
}

// TestDirectConvBitIdentical runs small-channel convolutions (RGB first
// layers, the RFB branches' 8-16 channel 3x3s, dilated or not) through
// neon.ConvDirect on padded rows and through im2col + Gemm: the same bytes,
// whatever the threads, batch and padding.
func TestDirectConvBitIdentical(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	tested, direct, dilated := 0, 0, 0
	for i := range 160 {
		ic := []int{1, 2, 3, 4, 5, 8, 12, 16, 20}[r.IntN(9)]
		in := Shape{1 + r.IntN(2), 1 + r.IntN(17), 1 + r.IntN(19), ic}
		kh, kw := []int{1, 3, 3, 5, 7}[r.IntN(5)], []int{1, 2, 3, 3, 5}[r.IntN(5)]
		if i%4 == 0 {
			kh = []int{5, 7}[r.IntN(2)]
			kw = kh
		}
		st := 1 + r.IntN(2)
		pads := []Padding{{Mode: PadSame}, {Mode: PadValid},
			{Mode: PadExplicit, Top: r.IntN(4), Left: r.IntN(4), Bottom: r.IntN(4), Right: r.IntN(4)}}
		c := convCase{in, 1 + r.IntN(40), kh, kw, st, 1 + r.IntN(2), 1, pads[r.IntN(3)], []Activation{ActNone, ActReLU, ActReLU6}[r.IntN(3)]}
		n := c.node(r)
		if i%4 == 0 {
			// zero-stuffed: a dilation-2 kernel
			for o := range c.oc {
				for ky := range kh {
					for kx := range kw {
						if ky%2 != 0 || kx%2 != 0 {
							for j := range ic {
								n.W.Data[((o*kh+ky)*kw+kx)*ic+j] = 0
							}
						}
					}
				}
			}
		}
		g := oneNode(n, c.in)
		if _, err := g.Check(); err != nil {
			continue // window larger than the padded input
		}
		g = calibrated(t, g, [][]float32{rndVec(r, c.in.Elems(), -1, 1)}, "minmax")
		x := rndVec(r, c.in.Elems(), -1.2, 1.2)
		var outs [][]int8
		for _, on := range []bool{false, true} {
			for _, threads := range []int{1, 3} {
				func() {
					defer func(v bool) { directConv = v }(directConv)
					directConv = on
					m, err := NewModel(g, Options{Precision: Int8, Threads: threads})
					require.NoError(t, err)
					if l, ok := m.layers[0].(*convQ); ok && on && l.direct != nil && threads == 1 {
						direct++
						if l.g.dil > 1 {
							dilated++
						}
					}
					s := m.NewSession()
					defer s.Close()
					copy(s.Input(0), x)
					require.NoError(t, s.Run())
					if threads == 1 { // (with workers, qemu-aarch64 runs show a rare runtime allocation)
						assert.Zero(t, testing.AllocsPerRun(2, func() { _ = s.Run() }), "case %d %+v direct %v", i, c, on)
					}
					o, _, _ := s.OutputInt8(0)
					outs = append(outs, append([]int8(nil), o...))
				}()
			}
		}
		for j := 1; j < len(outs); j++ {
			require.Equal(t, outs[0], outs[j], "case %d %+v run %d", i, c, j)
		}
		tested++
	}
	t.Logf("%d cases, %d direct, %d of them dilated", tested, direct, dilated)
	require.Greater(t, tested, 60)
	require.Greater(t, direct, 30)
	require.Greater(t, dilated, 5)
}

// TestQuantizeAVX512Ties drives the AVX-512 input quantization to the
// products where rounding half away from zero is delicate: exact ties
// k+1/2 and the doubles just beside them, 0.49999999999999994 included
// (x = 1 times that inv), against math.Round.
func TestQuantizeAVX512Ties(t *testing.T) {
	if !quantizeSIMD {
		t.Skip("no AVX-512")
	}
	r := rand.New(rand.NewPCG(25, 26))
	check := func(src []float32, inv float64, zp int32) {
		t.Helper()
		dst := make([]int8, len(src))
		require.Equal(t, len(src), quantizeAVX512(&dst[0], &src[0], len(src), inv, zp))
		for i, x := range src {
			v := math.Round(float64(x)*inv) + float64(zp)
			if want := int8(min(max(v, -128), 127)); dst[i] != want {
				require.Equal(t, want, dst[i], "x=%v inv=%v t=%v zp=%d", x, inv, float64(x)*inv, zp)
			}
		}
	}
	// A NaN stops the kernel before its block (the caller's Go loop does it).
	nan := make([]float32, 64)
	nan[37] = float32(math.NaN())
	nd := make([]int8, 64)
	assert.Equal(t, 32, quantizeAVX512(&nd[0], &nan[0], 64, 1, 0))
	ones := make([]float32, 16)
	for i := range ones {
		ones[i] = []float32{1, -1}[i%2]
	}
	for _, inv := range []float64{0.49999999999999994, 0.5, math.Nextafter(0.5, 1), 1.5, math.Nextafter(1.5, 0), math.Nextafter(1.5, 2),
		2.5, math.Nextafter(2.5, 0), 127.5, math.Nextafter(127.5, 0), 0.25 - 1e-17, 1023.5, math.Nextafter(1023.5, 2000)} {
		check(ones, inv, 0)
		check(ones, inv, -3)
	}
	for range 20000 {
		src := make([]float32, 16)
		k := float64(r.IntN(400) - 200)
		for i := range src {
			src[i] = float32(r.Float64()*4 + 0.01)
			if r.IntN(2) == 0 {
				src[i] = -src[i]
			}
		}
		// An inv putting src[0] on a tie, then nudged by up to 2 ulps.
		inv := (k + 0.5) / float64(src[0])
		for range r.IntN(3) {
			inv = math.Nextafter(inv, []float64{0, 1e9}[r.IntN(2)])
		}
		check(src, inv, int32(r.IntN(256)-128))
	}
}
