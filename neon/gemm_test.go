package neon

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const canary = int8(0x5a)

// naiveAcc is the test oracle: a plain triple loop on unpacked weights.
func naiveAcc(a []int8, lda, m int, w []int8, n, k int) []int32 {
	out := make([]int32, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s int32
			for kk := 0; kk < k; kk++ {
				s += int32(a[i*lda+kk]) * int32(w[j*k+kk])
			}
			out[i*n+j] = s
		}
	}
	return out
}

// naiveEpilogue spells the Requant contract out with int64 arithmetic.
func naiveEpilogue(acc int32, q *Requant, j int) int8 {
	x := int64(Requantize(acc+q.Bias[j], q.Mult[j], q.Shift[j])) + int64(q.ZeroPoint)
	return int8(min(max(x, int64(q.Min)), int64(q.Max)))
}

type gemmCase struct {
	m, n, k, lda, ldd int
	a, w              []int8
	q                 *Requant
}

func (c gemmCase) String() string {
	return fmt.Sprintf("m=%d n=%d k=%d lda=%d ldd=%d", c.m, c.n, c.k, c.lda, c.ldd)
}

// check runs Gemm and GemmInt32 on c with canaries around every output and
// compares them with the oracle.
func (c gemmCase) check(t *testing.T) bool {
	t.Helper()
	p := Pack(c.w, c.n, c.k)
	want := naiveAcc(c.a, c.lda, c.m, c.w, c.n, c.k)
	size := 8
	if c.m > 0 {
		size += (c.m-1)*c.ldd + c.n + 8
	}
	buf := make([]int8, size)
	for i := range buf {
		buf[i] = canary
	}
	Gemm(buf[8:], c.ldd, c.a, c.lda, c.m, p, c.q)
	buf32 := make([]int32, size)
	for i := range buf32 {
		buf32[i] = int32(canary)
	}
	GemmInt32(buf32[8:], c.ldd, c.a, c.lda, c.m, p)
	for idx := range buf {
		i, j := (idx-8)/c.ldd, (idx-8)%c.ldd
		if idx < 8 || i >= c.m || j >= c.n {
			if buf[idx] != canary || buf32[idx] != int32(canary) {
				return assert.Fail(t, "canary overwritten", "%v: at %d: %d, %d", c, idx-8, buf[idx], buf32[idx])
			}
			continue
		}
		// compare directly and let testify format the failure only
		if w := want[i*c.n+j]; buf32[idx] != w || buf[idx] != naiveEpilogue(w, c.q, j) {
			assert.Equal(t, w, buf32[idx], "%v: acc[%d][%d]", c, i, j)
			return assert.Equal(t, naiveEpilogue(w, c.q, j), buf[idx], "%v: out[%d][%d] acc %d", c, i, j, w)
		}
	}
	return true
}

func randGemmCase(r *rand.Rand, m, n, k int) gemmCase {
	c := gemmCase{m: m, n: n, k: k, lda: k + r.IntN(4), ldd: n + r.IntN(4)}
	c.ldd = max(c.ldd, 1)
	c.a = randInt8s(r, max((m-1)*c.lda+k, 0), -128, 127)
	c.w = randInt8s(r, n*k, -127, 127)
	c.q = randRequant(r, n)
	return c
}

func TestGemmSweep(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 6))
		for m := 0; m <= 9; m++ {
			for n := 0; n <= 40; n++ {
				for k := 0; k <= 40; k++ {
					if !randGemmCase(r, m, n, k).check(t) {
						return
					}
				}
			}
		}
	})
}

func TestGemmLarge(t *testing.T) {
	sizes := [][3]int{{37, 70, 300}, {64, 64, 576}, {5, 33, 1001}, {17, 16, 27}, {130, 48, 144}, {3, 100, 4099}}
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 8))
		for _, s := range sizes {
			randGemmCase(r, s[0], s[1], s[2]).check(t)
		}
	})
}

// TestGemmExtremes drives the accumulators to their largest magnitudes:
// 128*127*K with every activation -128 and every weight +-127.
func TestGemmExtremes(t *testing.T) {
	fill := func(n int, v int8) []int8 {
		s := make([]int8, n)
		for i := range s {
			s[i] = v
		}
		return s
	}
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(9, 10))
		for _, k := range []int{1, 3, 4, 15, 16, 17, 64, 1000, 4097} {
			for _, av := range []int8{-128, 127, -1} {
				for _, wv := range []int8{127, -127, -128} {
					m, n := 5, 19
					c := gemmCase{m: m, n: n, k: k, lda: k + 1, ldd: n, a: fill((m-1)*(k+1)+k, av), w: fill(n*k, wv)}
					c.q = randRequant(r, n)
					c.check(t)
				}
			}
			// alternating extremes
			c := randGemmCase(r, 6, 21, k)
			for i := range c.a {
				c.a[i] = []int8{-128, 127}[r.IntN(2)]
			}
			for i := range c.w {
				c.w[i] = []int8{-127, 127}[r.IntN(2)]
			}
			c.check(t)
		}
	})
}

func TestGemmAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	c := randGemmCase(r, 33, 40, 100)
	p := Pack(c.w, c.n, c.k)
	dst := make([]int8, c.m*c.ldd)
	dst32 := make([]int32, c.m*c.ldd)
	forEachImpl(t, func(t *testing.T) {
		assert.Zero(t, testing.AllocsPerRun(10, func() { Gemm(dst, c.ldd, c.a, c.lda, c.m, p, c.q) }))
		assert.Zero(t, testing.AllocsPerRun(10, func() { GemmInt32(dst32, c.ldd, c.a, c.lda, c.m, p) }))
	})
}

func TestPack(t *testing.T) {
	w := []int8{1, 2, 3, 4, 5, 6, -7, 8, 9, 10}
	p := Pack(w, 2, 5)
	require.Equal(t, []int32{15, 26}, p.RowSum)
	for j := 0; j < 2; j++ {
		for k := 0; k < 5; k++ {
			assert.Equal(t, w[j*5+k], p.At(j, k))
		}
	}
	assert.Panics(t, func() { Pack(w, 3, 5) })
}

func TestGemmBadArguments(t *testing.T) {
	p := Pack(make([]int8, 6), 2, 3)
	q := randRequant(rand.New(rand.NewPCG(1, 1)), 2)
	assert.Panics(t, func() { Gemm(make([]int8, 4), 2, make([]int8, 5), 3, 2, p, q) }, "short a")
	assert.Panics(t, func() { Gemm(make([]int8, 3), 2, make([]int8, 6), 3, 2, p, q) }, "short dst")
	assert.Panics(t, func() { Gemm(make([]int8, 4), 2, make([]int8, 6), 2, 2, p, q) }, "lda < K")
	assert.NotPanics(t, func() { Gemm(nil, 2, nil, 3, 0, p, q) })
}

// FuzzGemm compares every implementation with the oracle on fuzzed shapes
// and values.
func FuzzGemm(f *testing.F) {
	f.Add(uint8(3), uint8(17), uint8(9), uint8(1), uint64(1), []byte{0x80, 0x7f, 0x81})
	f.Add(uint8(4), uint8(16), uint8(16), uint8(0), uint64(2), []byte{0x80})
	f.Add(uint8(1), uint8(1), uint8(1), uint8(3), uint64(3), []byte{})
	f.Fuzz(func(t *testing.T, m, n, k, pad uint8, seed uint64, data []byte) {
		r := rand.New(rand.NewPCG(seed, 99))
		c := randGemmCase(r, int(m%24), int(n%70), int(k)+int(pad%4)*37)
		c.lda = c.k + int(pad%4)
		c.a = randInt8s(r, max((c.m-1)*c.lda+c.k, 0), -128, 127)
		for i, b := range data { // fuzzer-chosen values, extremes included
			if len(c.a) > 0 {
				c.a[i*7%len(c.a)] = int8(b)
			}
			if len(c.w) > 0 {
				c.w[i*5%len(c.w)] = int8(b)
			}
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

// M x K x N: im2col 3x3 convs, then the 1x1 convs of a 320x240 detector.
var benchShapes = [][3]int{{64, 576, 64}, {1024, 288, 32}, {4096, 27, 16}, {256, 1152, 128}, {4800, 32, 64}, {1200, 64, 128}, {300, 128, 256}}

func BenchmarkGemm(b *testing.B) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, s := range benchShapes {
		m, k, n := s[0], s[1], s[2]
		c := randGemmCase(r, m, n, k)
		typicalShifts(r, c.q)
		c.lda, c.ldd = k, n
		c.a = randInt8s(r, m*k, -128, 127)
		p := Pack(c.w, n, k)
		dst := make([]int8, m*n)
		dst32 := make([]int32, m*n)
		for _, name := range Impls() {
			b.Run(fmt.Sprintf("%dx%dx%d/%s", m, k, n, name), func(b *testing.B) {
				defer SetImpl(name)()
				benchOps(b, 2*float64(m*n*k), func() { Gemm(dst, n, c.a, k, m, p, c.q) })
			})
			b.Run(fmt.Sprintf("%dx%dx%d/%s/int32", m, k, n, name), func(b *testing.B) {
				defer SetImpl(name)()
				benchOps(b, 2*float64(m*n*k), func() { GemmInt32(dst32, n, c.a, k, m, p) })
			})
		}
	}
}

// TestGemmRowSplit checks the multi-core contract: rows split across
// goroutines give exactly the bytes of one call.
func TestGemmRowSplit(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	c := randGemmCase(r, 103, 45, 77)
	p := Pack(c.w, c.n, c.k)
	forEachImpl(t, func(t *testing.T) {
		whole := make([]int8, c.m*c.ldd)
		Gemm(whole, c.ldd, c.a, c.lda, c.m, p, c.q)
		split := make([]int8, c.m*c.ldd)
		bounds := []int{0, 13, 50, 51, 103}
		done := make(chan struct{})
		for i := 0; i+1 < len(bounds); i++ {
			go func(i0, i1 int) {
				Gemm(split[i0*c.ldd:], c.ldd, c.a[i0*c.lda:], c.lda, i1-i0, p, c.q)
				done <- struct{}{}
			}(bounds[i], bounds[i+1])
		}
		for i := 0; i+1 < len(bounds); i++ {
			<-done
		}
		assert.Equal(t, whole, split)
	})
}

// TestGemmPrepared runs Gemm, ConvDirect and the sweep shapes with
// prepared Requants: the same bytes as the oracle.
func TestGemmPrepared(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(67, 68))
		// (3001 and 777 rows: several row blocks of the fused kernels)
		for _, s := range [][3]int{{1, 1, 1}, {9, 16, 16}, {37, 70, 300}, {64, 64, 576}, {130, 48, 144}, {17, 33, 27}, {100, 12, 64}, {3001, 48, 16}, {777, 40, 64}} {
			for range 3 {
				c := randGemmCase(r, s[0], s[1], s[2])
				c.q.Prepare()
				c.check(t)
			}
		}
		for range 20 {
			c := randDirectCase(r, 2, 1+r.IntN(40), 1+r.IntN(40), 4*(1+r.IntN(4)), 1+r.IntN(9))
			c.q.Prepare()
			c.check(t)
		}
	})
}
