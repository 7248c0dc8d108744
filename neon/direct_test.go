package neon

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type directCase struct {
	rows, cols, rowStep  int
	n, seg, pixStep, ldd int
	taps                 []int
	src, w               []int8 // w is [n][len(taps)*seg]
	q                    *Requant
}

func (c directCase) String() string {
	return fmt.Sprintf("%dx%d steps %d,%d n=%d seg=%d taps=%v ldd=%d", c.rows, c.cols, c.rowStep, c.pixStep, c.n, c.seg, c.taps, c.ldd)
}

// check runs ConvDirect with canaries around every output and compares it
// with the oracle on the im2col rows the taps describe.
func (c directCase) check(t *testing.T) bool {
	t.Helper()
	k := len(c.taps) * c.seg
	m := c.rows * c.cols
	a := make([]int8, m*k)
	for r := range c.rows {
		for i := range c.cols {
			for ti, o := range c.taps {
				s := r*c.rowStep + i*c.pixStep + o
				copy(a[(r*c.cols+i)*k+ti*c.seg:], c.src[s:s+c.seg])
			}
		}
	}
	want := naiveAcc(a, k, m, c.w, c.n, k)
	buf := make([]int8, 8+max(m-1, 0)*c.ldd+c.n+8)
	for i := range buf {
		buf[i] = canary
	}
	pk := Pack(c.w, c.n, k)
	ConvDirect(buf[8:], c.ldd, c.src, c.rows, c.cols, c.rowStep, c.pixStep, c.taps, pk, c.q)
	if !c.compare(t, buf, want) {
		return false
	}
	// The same on the biased source.
	for i := range buf {
		buf[i] = canary
	}
	biased := make([]int8, len(c.src))
	XorCopy(biased, c.src)
	ConvDirectBiased(buf[8:], c.ldd, biased, c.rows, c.cols, c.rowStep, c.pixStep, c.taps, pk, c.q)
	return c.compare(t, buf, want)
}

// compare checks ConvDirect's output in buf (8 canaries first) against the
// oracle's accumulators.
func (c directCase) compare(t *testing.T, buf []int8, want []int32) bool {
	t.Helper()
	m := c.rows * c.cols
	for idx := range buf {
		i, j := (idx-8)/c.ldd, (idx-8)%c.ldd
		if idx < 8 || i >= m || j >= c.n {
			if buf[idx] != canary {
				return assert.Fail(t, "canary overwritten", "%v: at %d: %d", c, idx-8, buf[idx])
			}
			continue
		}
		if w := naiveEpilogue(want[i*c.n+j], c.q, j); buf[idx] != w {
			return assert.Equal(t, w, buf[idx], "%v: out[%d][%d] acc %d", c, i, j, want[i*c.n+j])
		}
	}
	return true
}

// randDirectCase makes a case whose source holds exactly the bytes read
// (so a read past them would fault or fail the race detector's bounds).
func randDirectCase(r *rand.Rand, rows, cols, n, seg, ntaps int) directCase {
	c := directCase{rows: rows, cols: cols, n: n, seg: seg, pixStep: r.IntN(3 * seg), ldd: n + r.IntN(3)}
	c.rowStep = max(cols-1, 0)*c.pixStep + r.IntN(100)
	end := 0
	for range ntaps {
		o := r.IntN(64)
		c.taps = append(c.taps, o)
		end = max(end, max(rows-1, 0)*c.rowStep+max(cols-1, 0)*c.pixStep+o+seg)
	}
	c.src = randInt8s(r, end, -128, 127)
	c.w = randInt8s(r, n*ntaps*seg, -127, 127)
	c.q = randRequant(r, n)
	return c
}

func TestConvDirect(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(51, 52))
		for m := 0; m <= 41; m++ {
			for _, n := range []int{1, 12, 16, 17, 32, 40} {
				for _, seg := range []int{4, 8, 12, 16, 64} {
					for _, ntaps := range []int{1, 3, 9} {
						if !randDirectCase(r, 1+m%3, m, n, seg, ntaps).check(t) {
							return
						}
					}
				}
			}
		}
		// The first layer of a detector: 3x3 windows of an RGB row, 9 bytes
		// per window row padded to 12 with zero weights (the 3 bytes past
		// each window row are read and must not matter).
		for _, v := range []int8{-128, 127, 0} {
			c := randDirectCase(r, 2, 77, 16, 12, 3)
			for i := range c.w {
				if i%12 >= 9 {
					c.w[i] = 0
				}
			}
			for i := range c.src {
				if r.IntN(2) == 0 {
					c.src[i] = v
				}
			}
			c.check(t)
		}
	})
}

func TestConvDirectExtremes(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(53, 54))
		for _, av := range []int8{-128, 127} {
			for _, wv := range []int8{-128, -127, 127} {
				c := randDirectCase(r, 2, 19, 20, 64, 9)
				for i := range c.src {
					c.src[i] = av
				}
				for i := range c.w {
					c.w[i] = wv
				}
				c.check(t)
			}
		}
	})
}

func TestConvDirectBadArguments(t *testing.T) {
	p := Pack(make([]int8, 2*24), 2, 24)
	q := randRequant(rand.New(rand.NewPCG(1, 1)), 2)
	src := make([]int8, 100)
	dst := make([]int8, 10)
	assert.NotPanics(t, func() { ConvDirect(dst, 2, src, 1, 5, 0, 4, []int{0, 40}, p, q) })
	assert.NotPanics(t, func() { ConvDirect(dst, 2, src, 5, 1, 4, 0, []int{0, 40}, p, q) })
	assert.Panics(t, func() { ConvDirect(dst, 2, src, 1, 5, 0, 4, []int{0, 40, 80}, p, q) }, "8 bytes per tap")
	assert.Panics(t, func() { ConvDirect(dst, 2, src, 1, 5, 0, 4, []int{0, 80}, p, q) }, "reads past src")
	assert.Panics(t, func() { ConvDirect(dst, 2, src, 2, 5, 1, 4, []int{0, 40}, p, q) }, "row step reads past src")
	assert.Panics(t, func() { ConvDirect(dst, 2, src, 1, 5, 0, 4, []int{0, -1}, p, q) }, "negative tap")
	assert.Panics(t, func() { ConvDirect(dst[:9], 2, src, 1, 5, 0, 4, []int{0, 40}, p, q) }, "short dst")
	assert.Panics(t, func() { ConvDirect(dst, 2, src, 1, 5, 0, 4, nil, p, q) }, "no taps")
	big := Pack(make([]int8, 5000), 1, 5000)
	assert.Panics(t, func() { ConvDirect(dst, 2, make([]int8, 6000), 1, 1, 0, 0, []int{0}, big, q) }, "K > 4096")
}

func TestConvDirectAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(55, 56))
	c := randDirectCase(r, 3, 70, 16, 12, 3)
	p := Pack(c.w, c.n, 36)
	dst := make([]int8, 3*70*c.ldd)
	forEachImpl(t, func(t *testing.T) {
		require.Zero(t, testing.AllocsPerRun(10, func() { ConvDirect(dst, c.ldd, c.src, 3, 70, c.rowStep, c.pixStep, c.taps, p, c.q) }))
	})
}

// FuzzConvDirect compares every implementation with the oracle on fuzzed
// shapes, tap offsets and values.
func FuzzConvDirect(f *testing.F) {
	f.Add(uint8(1), uint8(9), uint8(16), uint8(3), uint8(3), uint64(1), []byte{0x80, 0x7f})
	f.Add(uint8(3), uint8(40), uint8(12), uint8(4), uint8(9), uint64(2), []byte{0x81})
	f.Fuzz(func(t *testing.T, rows, cols, n, seg, ntaps uint8, seed uint64, data []byte) {
		r := rand.New(rand.NewPCG(seed, 98))
		c := randDirectCase(r, int(rows%4), int(cols%70), 1+int(n%48), 4*(1+int(seg%16)), 1+int(ntaps%9))
		for i, b := range data {
			if len(c.src) > 0 {
				c.src[i*7%len(c.src)] = int8(b)
			}
			c.w[i*5%len(c.w)] = int8(b)
		}
		for _, name := range Impls() {
			restore := SetImpl(name)
			ok := c.check(t)
			restore()
			if !ok {
				t.Fatalf("%s: %v", name, c)
			}
		}
	})
}

func BenchmarkConvDirect(b *testing.B) {
	// The first layer of UltraFace at 320x240 (3x3 stride 2 over RGB, 16
	// channels, padded rows of 321 pixels), 8 output rows of 160 pixels,
	// with typical requantization parameters.
	r := rand.New(rand.NewPCG(57, 58))
	c := randDirectCase(r, 1, 1, 16, 12, 3)
	typicalShifts(r, c.q)
	c.src = randInt8s(r, 17*963+16, -128, 127)
	bsrc := make([]int8, len(c.src))
	XorCopy(bsrc, c.src)
	p := Pack(c.w, c.n, 36)
	dst := make([]int8, 8*160*16)
	for _, name := range Impls() {
		b.Run(name, func(b *testing.B) {
			defer SetImpl(name)()
			benchOps(b, 2*float64(8*160*16*27), func() { ConvDirect(dst, 16, c.src, 8, 160, 2*963, 6, []int{0, 963, 2 * 963}, p, c.q) })
		})
		b.Run(name+"/biased", func(b *testing.B) {
			defer SetImpl(name)()
			benchOps(b, 2*float64(8*160*16*27), func() {
				ConvDirectBiased(dst, 16, bsrc, 8, 160, 2*963, 6, []int{0, 963, 2 * 963}, p, c.q)
			})
		})
	}
}

func TestXorCopy(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(59, 60))
		for n := 0; n <= 300; n++ {
			src := randInt8s(r, n, -128, 127)
			dst := make([]int8, n+1)
			dst[n] = canary
			XorCopy(dst, src)
			require.Equal(t, canary, dst[n])
			for i, v := range src {
				if dst[i] != int8(uint8(v)^0x80) {
					require.Equal(t, int8(uint8(v)^0x80), dst[i], "n=%d i=%d", n, i)
				}
			}
		}
	})
}
