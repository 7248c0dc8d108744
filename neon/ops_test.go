package neon

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDepthwiseConv3x3(t *testing.T) {
	forEachImpl(t, testDepthwise)
}

func testDepthwise(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for iter := 0; iter < 500; iter++ {
		h, w, c := 1+r.IntN(12), 1+r.IntN(20), []int{1 + r.IntN(20), 16, 32, 35, 48, 64, 128, 192}[r.IntN(8)]
		stride := 1 + r.IntN(2)
		padTop, padLeft := r.IntN(2), r.IntN(2)
		outH := (h+padTop+r.IntN(2)-3)/stride + 1
		outW := (w+padLeft+r.IntN(2)-3)/stride + 1
		if outH <= 0 || outW <= 0 {
			continue
		}
		src := randInt8s(r, h*w*c, -128, 127)
		wts := randInt8s(r, 9*c, -127, 127)
		if iter%10 == 0 { // extremes
			for i := range src {
				src[i] = -128
			}
			for i := range wts {
				wts[i] = []int8{-127, 127}[iter/10%2]
			}
		}
		pad := int8(r.IntN(256) - 128)
		q := randRequant(r, c)
		dst := make([]int8, outH*outW*c+1)
		dst[len(dst)-1] = canary
		DepthwiseConv3x3(dst, src, h, w, c, stride, padTop, padLeft, outH, outW, pad, wts, q)
		require.Equal(t, canary, dst[len(dst)-1])
		for oy := 0; oy < outH; oy++ {
			for ox := 0; ox < outW; ox++ {
				for ch := 0; ch < c; ch++ {
					var s int32
					for ky := 0; ky < 3; ky++ {
						for kx := 0; kx < 3; kx++ {
							iy, ix := oy*stride-padTop+ky, ox*stride-padLeft+kx
							v := int32(pad)
							if iy >= 0 && iy < h && ix >= 0 && ix < w {
								v = int32(src[(iy*w+ix)*c+ch])
							}
							s += v * int32(wts[(ky*3+kx)*c+ch])
						}
					}
					if got := dst[(oy*outW+ox)*c+ch]; got != naiveEpilogue(s, q, ch) && !assert.Equal(t, naiveEpilogue(s, q, ch), got, "h=%d w=%d c=%d stride=%d pad=%d,%d (%d,%d,%d) acc %d bias %d mult %d shift %d zp %d", h, w, c, stride, padTop, padLeft, oy, ox, ch, s, q.Bias[ch], q.Mult[ch], q.Shift[ch], q.ZeroPoint) {
						return
					}
				}
			}
		}
	}
}

func TestPools(t *testing.T) {
	// 3x3 single channel, 2x2 window, stride 2, pad 1 top/left: windows cover
	// {0}, {1,2}, {3,6}, {4,5,7,8}.
	src := []int8{1, -2, 3, 4, 5, -6, 7, 8, 9}
	p := &Pool{H: 3, W: 3, C: 1, KH: 2, KW: 2, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, OutH: 2, OutW: 2, Min: -128, Max: 127}
	dst := make([]int8, 4)
	MaxPoolInt8(dst, src, p)
	assert.Equal(t, []int8{1, 3, 7, 9}, dst)
	AvgPoolInt8(dst, src, p)
	// 1, (−2+3)/2=0.5->1, (4+7)/2=5.5->6, (5−6+8+9)/4=4
	assert.Equal(t, []int8{1, 1, 6, 4}, dst)
	src2 := []int8{-3, -4}
	p2 := &Pool{H: 1, W: 2, C: 1, KH: 1, KW: 2, StrideH: 1, StrideW: 1, OutH: 1, OutW: 1, Min: -128, Max: 127}
	AvgPoolInt8(dst[:1], src2, p2)
	assert.Equal(t, int8(-4), dst[0], "-3.5 rounds away from zero")
	p2.Min = 0
	MaxPoolInt8(dst[:1], src2, p2)
	assert.Equal(t, int8(0), dst[0], "clamped by the fused ReLU")

	forEachImpl(t, testPoolsRandom)
}

// testPoolsRandom checks both pools against a naive oracle, channel counts
// around the SIMD widths.
func testPoolsRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	for iter := 0; iter < 200; iter++ {
		q := &Pool{H: 1 + r.IntN(7), W: 1 + r.IntN(7), C: []int{1 + r.IntN(5), 16, 32, 33, 70}[r.IntN(5)], KH: 1 + r.IntN(3), KW: 1 + r.IntN(3),
			StrideH: 1 + r.IntN(2), StrideW: 1 + r.IntN(2), Min: -128, Max: 127}
		q.PadTop, q.PadLeft = r.IntN(q.KH), r.IntN(q.KW)
		q.OutH = (q.H+q.PadTop-q.KH)/q.StrideH + 1
		q.OutW = (q.W+q.PadLeft-q.KW)/q.StrideW + 1
		if q.OutH <= 0 || q.OutW <= 0 {
			continue
		}
		src := randInt8s(r, q.H*q.W*q.C, -128, 127)
		mx := make([]int8, q.OutH*q.OutW*q.C)
		av := make([]int8, len(mx))
		MaxPoolInt8(mx, src, q)
		AvgPoolInt8(av, src, q)
		for oy := 0; oy < q.OutH; oy++ {
			for ox := 0; ox < q.OutW; ox++ {
				for ch := 0; ch < q.C; ch++ {
					m, s, n := -129, 0, 0
					for ky := 0; ky < q.KH; ky++ {
						for kx := 0; kx < q.KW; kx++ {
							iy, ix := oy*q.StrideH-q.PadTop+ky, ox*q.StrideW-q.PadLeft+kx
							if iy >= 0 && iy < q.H && ix >= 0 && ix < q.W {
								v := int(src[(iy*q.W+ix)*q.C+ch])
								m, s, n = max(m, v), s+v, n+1
							}
						}
					}
					i := (oy*q.OutW+ox)*q.C + ch
					require.Positive(t, n)
					assert.Equal(t, int8(m), mx[i])
					assert.Equal(t, int8(math.Round(float64(s)/float64(n))), av[i], "sum %d / %d", s, n)
				}
			}
		}
	}
}

func TestRequantizeInt8(t *testing.T) {
	src := []int8{-128, -5, 0, 5, 127}
	dst := make([]int8, len(src))
	m, s := QuantizeMultiplier(0.5)
	RequantizeInt8(dst, src, -5, m, s, 10, -128, 127)
	// (v+5)*0.5 rounded half up, +10
	assert.Equal(t, []int8{-51, 10, 13, 15, 76}, dst)
	RequantizeInt8(dst, src, -5, m, s, 10, 0, 14)
	assert.Equal(t, []int8{0, 10, 13, 14, 14}, dst)
}

// TestAddInt8 compares with float arithmetic: off by at most 1.
func TestAddInt8(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	for iter := 0; iter < 100; iter++ {
		sA, sB, sOut := math.Exp2(r.Float64()*8-10), math.Exp2(r.Float64()*8-10), math.Exp2(r.Float64()*8-9)
		zpA, zpB, zpOut := int32(r.IntN(256)-128), int32(r.IntN(256)-128), int32(r.IntN(256)-128)
		mA, shA, mB, shB, mO, shO := AddMultipliers(sA, sB, sOut)
		a, b := randInt8s(r, 64, -128, 127), randInt8s(r, 64, -128, 127)
		dst := make([]int8, 64)
		AddInt8(dst, a, b, zpA, mA, shA, zpB, mB, shB, zpOut, mO, shO, -128, 127)
		for i := range a {
			real := (sA*float64(int32(a[i])-zpA) + sB*float64(int32(b[i])-zpB)) / sOut
			want := min(max(math.Round(real)+float64(zpOut), -128), 127)
			assert.InDelta(t, want, float64(dst[i]), 1, "a=%d b=%d scales %g %g %g", a[i], b[i], sA, sB, sOut)
		}
	}
}

func TestDepthwiseAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(27, 28))
	h, w, c := 20, 20, 32
	src, wts := randInt8s(r, h*w*c, -128, 127), randInt8s(r, 9*c, -127, 127)
	q := randRequant(r, c)
	dst := make([]int8, h*w*c)
	forEachImpl(t, func(t *testing.T) {
		assert.Zero(t, testing.AllocsPerRun(5, func() { DepthwiseConv3x3(dst, src, h, w, c, 1, 1, 1, h, w, 3, wts, q) }))
	})
}

// BenchmarkDepthwise runs the depthwise layers of a 320x240 detector
// (UltraFace-like shapes), stride 1 and 2, pad 1.
func BenchmarkDepthwise(b *testing.B) {
	r := rand.New(rand.NewPCG(29, 30))
	for _, s := range [][4]int{{120, 160, 32, 1}, {60, 80, 64, 2}, {30, 40, 128, 1}} {
		h, w, c, stride := s[0], s[1], s[2], s[3]
		outH, outW := (h-1)/stride+1, (w-1)/stride+1
		src, wts := randInt8s(r, h*w*c, -128, 127), randInt8s(r, 9*c, -127, 127)
		q := randRequant(r, c)
		typicalShifts(r, q)
		dst := make([]int8, outH*outW*c)
		// As the executor runs it: prepared, on rows padded and biased.
		d := NewDepthwise3x3(wts, c, q)
		hp, wp := (outH-1)*stride+3, (outW-1)*stride+3
		padded := randInt8s(r, hp*wp*c, -128, 127)
		for _, name := range Impls() {
			b.Run(fmt.Sprintf("%dx%dx%d/s%d/%s", h, w, c, stride, name), func(b *testing.B) {
				defer SetImpl(name)()
				benchOps(b, 2*9*float64(outH*outW*c), func() {
					DepthwiseConv3x3(dst, src, h, w, c, stride, 1, 1, outH, outW, 0, wts, q)
				})
			})
			b.Run(fmt.Sprintf("%dx%dx%d/s%d/%s/prepared", h, w, c, stride, name), func(b *testing.B) {
				defer SetImpl(name)()
				benchOps(b, 2*9*float64(outH*outW*c), func() {
					if d.Biased(stride, outW) {
						d.ConvBiased(dst, padded, hp, wp, stride, outH, outW)
					} else {
						d.Conv(dst, padded, hp, wp, stride, 0, 0, outH, outW, 0)
					}
				})
			})
		}
	}
}

// TestElementwiseImpls checks RequantizeInt8 and AddInt8 of every
// implementation against the scalar formulas, lengths 0..70 with canaries.
func TestElementwiseImpls(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(31, 32))
		ns := []int{127, 128, 129, 191, 200, 1000, 4099}
		for n := 0; n <= 70; n++ {
			ns = append(ns, n)
		}
		for _, n := range ns {
			for rep := 0; rep < 5; rep++ {
				a, b := randInt8s(r, n, -128, 127), randInt8s(r, n, -128, 127)
				if rep == 0 {
					for i := range a {
						a[i], b[i] = -128, 127
					}
				}
				zpA, zpB, zpOut := int32(r.IntN(256)-128), int32(r.IntN(256)-128), int32(r.IntN(256)-128)
				mult := func() int32 { return int32(1<<30 + r.IntN(1<<30)) }
				mA, mB, mO, mR := mult(), mult(), mult(), mult()
				sA, sB, sO, sR := int32(r.IntN(12)-1), int32(r.IntN(12)-1), int32(r.IntN(30)-2), int32(r.IntN(14)-4)
				if rep >= 3 { // real layers' multipliers (the fast AVX-512 path)
					mA, sA, mB, sB, mO, sO = AddMultipliers(0.01+r.Float64()/10, 0.01+r.Float64()/10, 0.01+r.Float64()/5)
				}
				if rep == 4 && n%3 == 0 { // equal scales: both inputs' multipliers are 1/2
					mA, sA, mB, sB, mO, sO = AddMultipliers(0.05, 0.05, 0.01+r.Float64()/5)
				}
				lo, hi := int8(-128), int8(127)
				if rep == 2 {
					lo, hi = min(int8(zpOut), 100), 100
				}
				dst := make([]int8, n+1)
				dst[n] = canary
				AddInt8(dst[:n], a, b, zpA, mA, sA, zpB, mB, sB, zpOut, mO, sO, lo, hi)
				require.Equal(t, canary, dst[n])
				for i := range a {
					x := Requantize((int32(a[i])-zpA)<<AddLeftShift, mA, sA)
					y := Requantize((int32(b[i])-zpB)<<AddLeftShift, mB, sB)
					want := clamp8(int64(Requantize(x+y, mO, sO))+int64(zpOut), lo, hi)
					if dst[i] != want {
						require.Equal(t, want, dst[i], "AddInt8 n=%d i=%d", n, i)
					}
				}
				RequantizeInt8(dst[:n], a, zpA, mR, sR, zpOut, lo, hi)
				require.Equal(t, canary, dst[n])
				for i := range a {
					want := clamp8(int64(Requantize(int32(a[i])-zpA, mR, sR))+int64(zpOut), lo, hi)
					if dst[i] != want {
						require.Equal(t, want, dst[i], "RequantizeInt8 n=%d i=%d", n, i)
					}
				}
			}
		}
	})
}

func BenchmarkAddInt8(b *testing.B) {
	r := rand.New(rand.NewPCG(33, 34))
	n := 40 * 30 * 64
	a, c := randInt8s(r, n, -128, 127), randInt8s(r, n, -128, 127)
	dst := make([]int8, n)
	mA, sA, mB, sB, mO, sO := AddMultipliers(0.05, 0.03, 0.06)
	for _, name := range Impls() {
		b.Run(name, func(b *testing.B) {
			defer SetImpl(name)()
			benchOps(b, float64(n), func() { AddInt8(dst, a, c, 3, mA, sA, -5, mB, sB, 1, mO, sO, -128, 127) })
		})
	}
}

func TestDepthwiseConvGeneral(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(35, 36))
		for iter := 0; iter < 150; iter++ {
			g := &DWGeom{H: 1 + r.IntN(9), W: 1 + r.IntN(9), C: []int{1 + r.IntN(20), 16, 300}[r.IntN(3)],
				KH: 1 + r.IntN(7), KW: 1 + r.IntN(7), StrideH: 1 + r.IntN(2), StrideW: 1 + r.IntN(2)}
			if iter%3 == 0 {
				g.KH, g.KW, g.StrideW = 3, 3, g.StrideH // the 3x3 fast path
			}
			g.PadTop, g.PadLeft = r.IntN(g.KH), r.IntN(g.KW)
			g.OutH = (g.H+g.PadTop+r.IntN(g.KH)-g.KH)/g.StrideH + 1
			g.OutW = (g.W+g.PadLeft+r.IntN(g.KW)-g.KW)/g.StrideW + 1
			if g.OutH <= 0 || g.OutW <= 0 {
				continue
			}
			c := g.C
			src, wts := randInt8s(r, g.H*g.W*c, -128, 127), randInt8s(r, g.KH*g.KW*c, -127, 127)
			pad := int8(r.IntN(256) - 128)
			q := randRequant(r, c)
			dst := make([]int8, g.OutH*g.OutW*c)
			DepthwiseConv(dst, src, g, pad, wts, q)
			for oy := 0; oy < g.OutH; oy++ {
				for ox := 0; ox < g.OutW; ox++ {
					for ch := 0; ch < c; ch++ {
						var s int32
						for ky := 0; ky < g.KH; ky++ {
							for kx := 0; kx < g.KW; kx++ {
								iy, ix := oy*g.StrideH-g.PadTop+ky, ox*g.StrideW-g.PadLeft+kx
								v := int32(pad)
								if iy >= 0 && iy < g.H && ix >= 0 && ix < g.W {
									v = int32(src[(iy*g.W+ix)*c+ch])
								}
								s += v * int32(wts[(ky*g.KW+kx)*c+ch])
							}
						}
						if got, want := dst[(oy*g.OutW+ox)*c+ch], naiveEpilogue(s, q, ch); got != want {
							require.Equal(t, want, got, "%+v (%d,%d,%d)", *g, oy, ox, ch)
						}
					}
				}
			}
		}
	})
}

func TestOpsAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(37, 38))
	a, b := randInt8s(r, 1000, -128, 127), randInt8s(r, 1000, -128, 127)
	dst := make([]int8, 1000)
	p := &Pool{H: 10, W: 10, C: 10, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, OutH: 5, OutW: 5, Min: -128, Max: 127}
	g := &DWGeom{H: 10, W: 10, C: 10, KH: 5, KW: 5, StrideH: 1, StrideW: 1, PadTop: 2, PadLeft: 2, OutH: 10, OutW: 10}
	wts := randInt8s(r, 250, -127, 127)
	q := randRequant(r, 10)
	forEachImpl(t, func(t *testing.T) {
		assert.Zero(t, testing.AllocsPerRun(5, func() { AddInt8(dst, a, b, 1, 1<<30, 1, 2, 1<<30, 1, 3, 1<<30, 10, -128, 127) }))
		assert.Zero(t, testing.AllocsPerRun(5, func() { RequantizeInt8(dst, a, 1, 1<<30, 1, 3, -128, 127) }))
		assert.Zero(t, testing.AllocsPerRun(5, func() { MaxPoolInt8(dst, a, p) }))
		assert.Zero(t, testing.AllocsPerRun(5, func() { AvgPoolInt8(dst, a, p) }))
		assert.Zero(t, testing.AllocsPerRun(5, func() { DepthwiseConv(dst, a, g, 0, wts, q) }))
	})
}

// naiveDepthwise is the test oracle for depthwise convolutions.
func naiveDepthwise(src []int8, g *DWGeom, pad int8, wts []int8, q *Requant) []int8 {
	c := g.C
	out := make([]int8, g.OutH*g.OutW*c)
	for oy := 0; oy < g.OutH; oy++ {
		for ox := 0; ox < g.OutW; ox++ {
			for ch := 0; ch < c; ch++ {
				var s int32
				for ky := 0; ky < g.KH; ky++ {
					for kx := 0; kx < g.KW; kx++ {
						iy, ix := oy*g.StrideH-g.PadTop+ky, ox*g.StrideW-g.PadLeft+kx
						v := int32(pad)
						if iy >= 0 && iy < g.H && ix >= 0 && ix < g.W {
							v = int32(src[(iy*g.W+ix)*c+ch])
						}
						s += v * int32(wts[(ky*g.KW+kx)*c+ch])
					}
				}
				out[(oy*g.OutW+ox)*c+ch] = naiveEpilogue(s, q, ch)
			}
		}
	}
	return out
}

// FuzzDepthwise compares every implementation's DepthwiseConv (3x3 SIMD
// path included) with the oracle on fuzzed geometry and values.
func FuzzDepthwise(f *testing.F) {
	f.Add(uint8(5), uint8(7), uint8(16), uint8(3), uint8(1), uint8(1), uint8(1), uint64(1), []byte{0x80, 0x7f})
	f.Add(uint8(9), uint8(4), uint8(35), uint8(3), uint8(2), uint8(0), uint8(1), uint64(2), []byte{})
	f.Add(uint8(3), uint8(3), uint8(7), uint8(5), uint8(1), uint8(2), uint8(2), uint64(3), []byte{1})
	f.Fuzz(func(t *testing.T, h, w, c, k, stride, pt, pl uint8, seed uint64, data []byte) {
		g := &DWGeom{H: 1 + int(h%12), W: 1 + int(w%12), C: 1 + int(c%70), KH: 1 + int(k%7), StrideH: 1 + int(stride%2)}
		g.KW, g.StrideW = g.KH, g.StrideH
		g.PadTop, g.PadLeft = int(pt)%g.KH, int(pl)%g.KW
		g.OutH = (g.H+2*g.PadTop-g.KH)/g.StrideH + 1
		g.OutW = (g.W+2*g.PadLeft-g.KW)/g.StrideW + 1
		if g.OutH <= 0 || g.OutW <= 0 {
			return
		}
		r := rand.New(rand.NewPCG(seed, 7))
		src, wts := randInt8s(r, g.H*g.W*g.C, -128, 127), randInt8s(r, g.KH*g.KW*g.C, -127, 127)
		for i, b := range data {
			src[i*3%len(src)] = int8(b)
			if b != 0x80 {
				wts[i%len(wts)] = int8(b)
			}
		}
		pad := int8(r.IntN(256) - 128)
		q := randRequant(r, g.C)
		want := naiveDepthwise(src, g, pad, wts, q)
		for _, name := range Impls() {
			restore := SetImpl(name)
			got := make([]int8, len(want))
			DepthwiseConv(got, src, g, pad, wts, q)
			restore()
			require.Equal(t, want, got, "%s: %+v", name, *g)
		}
	})
}

// TestDepthwise3x3Prepared runs Depthwise3x3.Conv and ConvBiased (on
// pre-padded sources, the way the executor calls them) against
// DepthwiseConv3x3 on every implementation: the same bytes, and ConvBiased
// leaves src unbiased only where it could not read it biased.
func TestDepthwise3x3Prepared(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(61, 62))
		for iter := range 300 {
			c := []int{1 + r.IntN(20), 16, 32, 48, 64, 128, 192}[r.IntN(7)]
			stride := 1 + r.IntN(2)
			h, w := 3+r.IntN(10), 3+r.IntN(25)
			outH, outW := (h-3)/stride+1, (w-3)/stride+1
			src := randInt8s(r, h*w*c, -128, 127)
			wts := randInt8s(r, 9*c, -128, 127)
			q := randRequant(r, c)
			if iter%2 == 0 {
				for j := range q.Shift {
					q.Shift[j] = int32(1 + r.IntN(22))
				}
			}
			want := make([]int8, outH*outW*c)
			DepthwiseConv3x3(want, src, h, w, c, stride, 0, 0, outH, outW, 0, wts, q)
			d := NewDepthwise3x3(wts, c, q)
			got := make([]int8, len(want))
			d.Conv(got, src, h, w, stride, 0, 0, outH, outW, 0)
			require.Equal(t, want, got, "Conv c=%d stride=%d %dx%d", c, stride, h, w)
			// with padding, against the unprepared call
			pt, pl := r.IntN(2), r.IntN(2)
			oh2, ow2 := (h+2*pt-3)/stride+1, (w+2*pl-3)/stride+1
			want2, got2 := make([]int8, oh2*ow2*c), make([]int8, oh2*ow2*c)
			DepthwiseConv3x3(want2, src, h, w, c, stride, pt, pl, oh2, ow2, 7, wts, q)
			d.Conv(got2, src, h, w, stride, pt, pl, oh2, ow2, 7)
			require.Equal(t, want2, got2, "Conv padded c=%d stride=%d", c, stride)
			biased := make([]int8, len(src))
			XorCopy(biased, src)
			clear(got)
			native := d.Biased(stride, outW)
			d.ConvBiased(got, biased, h, w, stride, outH, outW)
			require.Equal(t, want, got, "ConvBiased c=%d stride=%d %dx%d native %v", c, stride, h, w, native)
			if !native {
				assert.Equal(t, src, biased, "un-biased in place")
			}
		}
	})
}

func TestDepthwise3x3PreparedAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(65, 66))
	for _, c := range []int{16, 32, 64} {
		q := randRequant(r, c)
		for j := range q.Shift {
			q.Shift[j] = 5
		}
		d := NewDepthwise3x3(randInt8s(r, 9*c, -127, 127), c, q)
		src := randInt8s(r, 20*24*c, -128, 127)
		dst := make([]int8, 20*24*c)
		forEachImpl(t, func(t *testing.T) {
			assert.Zero(t, testing.AllocsPerRun(5, func() { d.Conv(dst, src, 20, 24, 1, 1, 1, 20, 24, 3) }))
		})
	}
}
