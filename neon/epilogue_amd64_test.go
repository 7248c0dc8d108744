//go:build !purego

package neon

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/cpu"
)

// TestEpilogueKernels runs the AVX-512 and AVX2 epilogues directly on
// tiles of accumulators over the whole int32 range (wrapping biases
// included) against the reference, with parameters the fast epilogue takes
// (every shift in [1, 22], zero multipliers, extreme multipliers and zero
// points) and ones it must refuse.
func TestEpilogueKernels(t *testing.T) {
	if !cpu.X86.HasAVX2 {
		t.Skip("no AVX2")
	}
	r := rand.New(rand.NewPCG(41, 42))
	accs := []int32{0, 1, -1, math.MaxInt32, math.MinInt32, math.MaxInt32 - 1, math.MinInt32 + 1, 1 << 30, -1 << 30}
	fastSeen := 0
	for iter := range 3000 {
		nj := 16
		if iter%7 == 0 {
			nj = 1 + r.IntN(16)
		}
		q := &Requant{Bias: make([]int32, nj), Mult: make([]int32, nj), Shift: make([]int32, nj)}
		for j := range nj {
			q.Bias[j] = int32(r.Uint32())
			if r.IntN(2) == 0 {
				q.Bias[j] >>= r.IntN(31)
			}
			q.Mult[j] = []int32{1 << 30, math.MaxInt32, 0, int32(1<<30 + r.IntN(1<<30))}[r.IntN(4)]
			q.Shift[j] = int32(1 + r.IntN(22))
			if iter%5 == 0 {
				q.Shift[j] = int32(r.IntN(64) - 31)
			}
		}
		q.ZeroPoint = []int32{-128, 127, 0, -256, 256, 257, -300, int32(r.IntN(256) - 128)}[r.IntN(8)]
		q.Min, q.Max = int8(r.IntN(256)-128), 127
		if r.IntN(2) == 0 {
			q.Min = -128
		}
		if q.Min > q.Max {
			q.Min, q.Max = q.Max, q.Min
		}
		var acc [tileM * panelN]int32
		for i := range acc {
			acc[i] = int32(r.Uint32()) >> r.IntN(32)
			if r.IntN(8) == 0 {
				acc[i] = accs[r.IntN(len(accs))]
			}
		}
		var e epi
		e.set(q, 0, nj)
		if e.fast {
			fastSeen++
		}
		rows := 1 + r.IntN(tileM)
		kernels := map[string]func(dst *int8, ldd int, acc *[tileM * panelN]int32, rows int, e *epi){"avx2": epilogueAVX2}
		if cpu.X86.HasAVX512F {
			kernels["avx512"] = epilogueAVX512
			if e.fast {
				kernels["avx512-fast"] = epilogueAVX512Fast
			}
		}
		for name, k := range kernels {
			var dst [tileM * panelN]int8
			k(&dst[0], panelN, &acc, rows, &e)
			for i := range rows {
				for j := range nj {
					want := naiveEpilogue(acc[i*panelN+j], q, j)
					if dst[i*panelN+j] != want {
						require.Equal(t, want, dst[i*panelN+j], "%s: acc %d bias %d mult %d shift %d zp %d clamp [%d, %d]",
							name, acc[i*panelN+j], q.Bias[j], q.Mult[j], q.Shift[j], q.ZeroPoint, q.Min, q.Max)
					}
				}
			}
		}
	}
	assert.Greater(t, fastSeen, 1000, "the fast epilogue was hardly exercised")
}

// TestDepthwiseWide checks that the wide depthwise kernel takes the
// layers it is for (64-channel blocks at strides 1 and 2, 16 and 32
// channels at stride 1, 32 at stride 2) and gives the bytes of the 16-channel kernel and
// of the reference, border pixels and remainders included.
func TestDepthwiseWide(t *testing.T) {
	if !slices.Contains(Impls(), "amd64-avx512vnni") || !cpu.X86.HasAVX512VBMI {
		t.Skip("no AVX-512 VNNI and VBMI")
	}
	defer SetImpl("amd64-avx512vnni")()
	r := rand.New(rand.NewPCG(43, 44))
	for _, c := range []int{16, 32, 64, 128, 192} {
		for _, stride := range []int{1, 2} {
			for iter := range 6 {
				h, w := 3+r.IntN(10), 3+r.IntN(30)
				outH, outW := (h-1)/stride+1, (w-1)/stride+1 // padding 1 on each side
				src := randInt8s(r, h*w*c, -128, 127)
				wts := randInt8s(r, 9*c, -128, 127)
				if iter == 0 {
					for i := range src {
						src[i] = []int8{-128, 127}[i%2]
					}
					for i := range wts {
						wts[i] = []int8{-128, 127, -127}[i%3]
					}
				}
				q := randRequant(r, c)
				for j := range q.Shift {
					q.Shift[j] = int32(1 + r.IntN(22))
				}
				oyA, oyB := interiorRange(h, stride, 1, outH)
				oxA, oxB := interiorRange(w, stride, 1, outW)
				done := archDepthwiseWide(make([]int8, outH*outW*c), src, w, c, stride, 1, 1, outW, oyA, oyB, oxA, oxB, wts, q, nil, false)
				if px := max(1, 64/c); (stride == 1 || c%64 == 0 || c == 32) && oyA < oyB && oxB-oxA >= px {
					assert.Equal(t, (oxB-oxA)/px*px, done, "c=%d stride=%d", c, stride)
				} else {
					assert.Zero(t, done, "c=%d stride=%d", c, stride)
				}
				var outs [][]int8
				for _, wide := range []bool{true, false} {
					wideDepthwise = wide
					dst := make([]int8, outH*outW*c)
					DepthwiseConv3x3(dst, src, h, w, c, stride, 1, 1, outH, outW, int8(q.ZeroPoint), wts, q)
					outs = append(outs, dst)
				}
				wideDepthwise = true
				require.Equal(t, outs[1], outs[0], "c=%d stride=%d %dx%d", c, stride, h, w)
			}
		}
	}
}

// TestAddFastTaken checks that real layers' AddInt8 parameters take the
// AVX-512 path (whose bytes TestElementwiseImpls compares).
func TestAddFastTaken(t *testing.T) {
	r := rand.New(rand.NewPCG(45, 46))
	for range 100 {
		mA, sA, mB, sB, mO, sO := AddMultipliers(0.005+r.Float64()/4, 0.005+r.Float64()/4, 0.01+r.Float64()/2)
		var f addFast
		assert.True(t, f.set(int32(r.IntN(256)-128), mA, sA, int32(r.IntN(256)-128), mB, sB, int32(r.IntN(256)-128), mO, sO, -128, 127),
			"shifts %d %d %d", sA, sB, sO)
	}
}

// TestAsmOffsets pins the byte offsets the assembly reads.
func TestAsmOffsets(t *testing.T) {
	var e epi
	assert.Equal(t, []uintptr{0, 64, 128, 192, 256, 320, 384, 388, 392, 400, 464, 528, 592, 656, 660, 664, 668},
		[]uintptr{unsafe.Offsetof(e.bias), unsafe.Offsetof(e.mult), unsafe.Offsetof(e.left), unsafe.Offsetof(e.right),
			unsafe.Offsetof(e.rm1), unsafe.Offsetof(e.one), unsafe.Offsetof(e.lo), unsafe.Offsetof(e.hi), unsafe.Offsetof(e.zp),
			unsafe.Offsetof(e.rndEven), unsafe.Offsetof(e.rndOdd), unsafe.Offsetof(e.shEven), unsafe.Offsetof(e.shOdd),
			unsafe.Offsetof(e.min), unsafe.Offsetof(e.max), unsafe.Offsetof(e.fast), unsafe.Offsetof(e.multOdd)})
	var u dwUnit
	assert.Equal(t, []uintptr{0, 768, 1024, 1280, 1536, 1792, 2048, 2304, 2560, 2816, 2817},
		[]uintptr{unsafe.Offsetof(u.w), unsafe.Offsetof(u.perm), unsafe.Offsetof(u.init), unsafe.Offsetof(u.multE),
			unsafe.Offsetof(u.multO), unsafe.Offsetof(u.rndE), unsafe.Offsetof(u.rndO), unsafe.Offsetof(u.shE),
			unsafe.Offsetof(u.shO), unsafe.Offsetof(u.min), unsafe.Offsetof(u.max)})
	var f addFast
	assert.Equal(t, []uintptr{0, 4, 8, 12, 16, 20, 21, 24, 32, 40, 48, 64, 80, 96, 104},
		[]uintptr{unsafe.Offsetof(f.zpA), unsafe.Offsetof(f.zpB), unsafe.Offsetof(f.multA), unsafe.Offsetof(f.multB),
			unsafe.Offsetof(f.multO), unsafe.Offsetof(f.min), unsafe.Offsetof(f.max), unsafe.Offsetof(f.rndA),
			unsafe.Offsetof(f.rndB), unsafe.Offsetof(f.rndO), unsafe.Offsetof(f.shA), unsafe.Offsetof(f.shB),
			unsafe.Offsetof(f.shO), unsafe.Offsetof(f.lshA), unsafe.Offsetof(f.lshB)})
}

// TestGemmFused runs shapes through the fused GEMM epilogue (whole pairs
// of panels, blocks of 8 rows, the rest through the separate epilogue) and
// checks it was taken.
func TestGemmFused(t *testing.T) {
	if !slices.Contains(Impls(), "amd64-avx512vnni") || !cpu.X86.HasAVX512VBMI {
		t.Skip("no AVX-512 VNNI and VBMI")
	}
	defer SetImpl("amd64-avx512vnni")()
	r := rand.New(rand.NewPCG(47, 48))
	for _, s := range [][3]int{{8, 32, 16}, {37, 64, 40}, {33, 48, 27}, {16, 96, 576}, {9, 33, 5}, {64, 32, 1}} {
		for range 4 {
			c := randGemmCase(r, s[0], s[1], s[2])
			for j := range c.q.Shift {
				c.q.Shift[j] = int32(1 + r.IntN(22))
			}
			c.check(t)
			var acc, acc2 [tileM * panelN]int32
			var slots [8]epiSlot
			p := Pack(c.w, c.n, c.k)
			dst := make([]int8, (c.m-1)*c.ldd+c.n)
			rows := min(c.m, tileM)
			done, ok := archTile2Fused(idVNNI512, dst, 0, c.ldd, &acc, &acc2, c.a, 0, c.lda, rows, p, 0, tailWords(new([tileM]uint32), c.a, 0, c.lda, rows, c.k), c.q, &slots)
			assert.True(t, ok, "%v", c)
			assert.Equal(t, rows&^7, done, "%v", c)
		}
	}
}

// TestGemmFused1 runs shapes whose last panel (or only one) goes through
// the fused one-panel kernel, partial panels included, and checks it was
// taken.
func TestGemmFused1(t *testing.T) {
	if !slices.Contains(Impls(), "amd64-avx512vnni") {
		t.Skip("no AVX-512 VNNI")
	}
	defer SetImpl("amd64-avx512vnni")()
	r := rand.New(rand.NewPCG(49, 50))
	for _, s := range [][3]int{{1, 16, 4}, {7, 12, 64}, {37, 8, 64}, {100, 6, 128}, {9, 48, 16}, {33, 1, 8}, {13, 47, 32}} {
		for range 4 {
			c := randGemmCase(r, s[0], s[1], s[2])
			for j := range c.q.Shift {
				c.q.Shift[j] = int32(1 + r.IntN(22))
			}
			c.check(t)
			p := Pack(c.w, c.n, c.k)
			pi := (c.n - 1) / panelN
			var slot epiSlot
			dst := make([]int8, (c.m-1)*c.ldd+c.n)
			assert.True(t, archTile1Fused(idVNNI512, dst, pi*panelN, c.ldd, c.a, c.lda, c.m, p, pi, c.q, &slot), "%v", c)
		}
	}
}

// TestDepthwiseBiasedTaken checks that prepared layers the wide kernel
// takes read biased sources natively.
func TestDepthwiseBiasedTaken(t *testing.T) {
	if !slices.Contains(Impls(), "amd64-avx512vnni") || !cpu.X86.HasAVX512VBMI {
		t.Skip("no AVX-512 VNNI and VBMI")
	}
	defer SetImpl("amd64-avx512vnni")()
	r := rand.New(rand.NewPCG(63, 64))
	for _, c := range []struct{ c, stride, outW int }{{16, 1, 160}, {32, 1, 80}, {32, 2, 80}, {64, 1, 40}, {128, 2, 10}, {256, 1, 10}} {
		q := randRequant(r, c.c)
		for j := range q.Shift {
			q.Shift[j] = int32(1 + r.IntN(22))
		}
		d := NewDepthwise3x3(randInt8s(r, 9*c.c, -127, 127), c.c, q)
		assert.True(t, d.Biased(c.stride, c.outW), "%+v", c)
	}
}
