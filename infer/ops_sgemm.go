package infer

import "runtime"

// A cache-blocked pure-Go SGEMM for the float32 executor: C += A * B where A
// is row-major M x K (im2col rows or NHWC pixels), B is the weight matrix
// K x N packed once at load time into panels of sgemmNR columns, and C is
// row-major M x N (NHWC output pixels). Every C element is accumulated over
// k in ascending order with the same blocking whatever M is, so splitting
// rows across workers does not change results.

const (
	sgemmNR = 4   // columns per packed panel
	sgemmKC = 256 // k block: an A row block and a B panel block stay in L1
	sgemmNC = 32  // panels per column block of the assembly path (128 columns)
)

// wideRegs selects the 4x4 micro-kernel where the register file holds its 16
// accumulators (arm64 has 32 FP registers); elsewhere two 2x4 kernels run.
// A variable so that tests run both on every architecture.
var wideRegs = runtime.GOARCH == "arm64"

// packedF is B packed for sgemm: panel p holds columns [p*NR, p*NR+NR) as
// K rows of NR values, zero-padded past N.
type packedF struct {
	n, k   int
	panels []float32
}

// packF packs w, which holds N rows of K weights (one output channel per
// row, as Conv/Dense weights are stored), as the K x N matrix B.
func packF(w []float32, n, k int) *packedF {
	np := (n + sgemmNR - 1) / sgemmNR
	p := &packedF{n: n, k: k, panels: make([]float32, np*k*sgemmNR)}
	for j := range n {
		pan := p.panels[(j/sgemmNR)*k*sgemmNR:]
		c := j % sgemmNR
		row := w[j*k : (j+1)*k]
		for kk, v := range row {
			pan[kk*sgemmNR+c] = v
		}
	}
	return p
}

// sgemm computes C[i*ldc+j] += sum_k A[i*lda+k] * B[k][j] for i < m, j < N.
func sgemm(m int, a []float32, lda int, b *packedF, c []float32, ldc int) {
	n, k := b.n, b.k
	if m == 0 || n == 0 || k == 0 {
		return
	}
	// The assembly kernels take pointers: check the extent once here.
	_ = a[(m-1)*lda+k-1]
	_ = c[(m-1)*ldc+n-1]
	np := (n + sgemmNR - 1) / sgemmNR
	for k0 := 0; k0 < k; k0 += sgemmKC {
		k1 := min(k0+sgemmKC, k)
		kc := k1 - k0
		i := 0
		if sgemmFMA {
			// Column blocks of sgemmNC panels keep the packed B block
			// (sgemmNC*4 x kc floats) in L2 while every row block reads it.
			for pb := 0; pb < np; pb += sgemmNC {
				sgemmBlockFMA(m, a, lda, b, c, ldc, k0, k1, pb, min(pb+sgemmNC, np))
			}
			continue
		}
		for ; i+4 <= m; i += 4 {
			a0 := a[i*lda+k0 : i*lda+k1]
			a1 := a[(i+1)*lda+k0 : (i+1)*lda+k1]
			a2 := a[(i+2)*lda+k0 : (i+2)*lda+k1]
			a3 := a[(i+3)*lda+k0 : (i+3)*lda+k1]
			for p := range np {
				pan := b.panels[p*k*sgemmNR+k0*sgemmNR : p*k*sgemmNR+k1*sgemmNR]
				j := p * sgemmNR
				if j+sgemmNR <= n {
					if wideRegs {
						kern4x4(kc, a0, a1, a2, a3, pan, c[i*ldc+j:], c[(i+1)*ldc+j:], c[(i+2)*ldc+j:], c[(i+3)*ldc+j:])
					} else {
						kern2x4(kc, a0, a1, pan, c[i*ldc+j:], c[(i+1)*ldc+j:])
						kern2x4(kc, a2, a3, pan, c[(i+2)*ldc+j:], c[(i+3)*ldc+j:])
					}
				} else {
					for r := range 4 {
						kern1xTail(a[(i+r)*lda+k0:(i+r)*lda+k1], pan, c[(i+r)*ldc+j:(i+r)*ldc+n])
					}
				}
			}
		}
		for ; i < m; i++ {
			a0 := a[i*lda+k0 : i*lda+k1]
			for p := range np {
				pan := b.panels[p*k*sgemmNR+k0*sgemmNR : p*k*sgemmNR+k1*sgemmNR]
				j := p * sgemmNR
				if j+sgemmNR <= n {
					kern1x4(a0, pan, c[i*ldc+j:i*ldc+j+4])
				} else {
					kern1xTail(a0, pan, c[i*ldc+j:i*ldc+n])
				}
			}
		}
	}
}

// sgemmBlockFMA is sgemm's assembly path over k in [k0, k1) and panels
// [pb, pe).
func sgemmBlockFMA(m int, a []float32, lda int, b *packedF, c []float32, ldc int, k0, k1, pb, pe int) {
	n, k := b.n, b.k
	kc := k1 - k0
	full := min(pe, n/sgemmNR) // full panels end here
	i := 0
	for ; i+8 <= m; i += 8 {
		p := pb
		for ; p+2 <= full; p += 2 {
			pan := b.panels[p*k*sgemmNR+k0*sgemmNR:]
			sgemm8x8FMA(kc, &a[i*lda+k0], lda, &pan[0], k*sgemmNR, &c[i*ldc+p*sgemmNR], ldc)
		}
		if p < full {
			pan := b.panels[p*k*sgemmNR+k0*sgemmNR:]
			sgemm8x4FMA(kc, &a[i*lda+k0], lda, &pan[0], &c[i*ldc+p*sgemmNR], ldc)
		}
		if full < pe {
			pan := b.panels[full*k*sgemmNR+k0*sgemmNR : full*k*sgemmNR+k1*sgemmNR]
			j := full * sgemmNR
			for r := i; r < i+8; r++ {
				kern1xTail(a[r*lda+k0:r*lda+k1], pan, c[r*ldc+j:r*ldc+n])
			}
		}
	}
	for ; i < m; i++ {
		for p := pb; p < full; p++ {
			pan := b.panels[p*k*sgemmNR+k0*sgemmNR:]
			sgemm1x4FMA(kc, &a[i*lda+k0], &pan[0], &c[i*ldc+p*sgemmNR])
		}
		if full < pe {
			pan := b.panels[full*k*sgemmNR+k0*sgemmNR : full*k*sgemmNR+k1*sgemmNR]
			kern1xTail(a[i*lda+k0:i*lda+k1], pan, c[i*ldc+full*sgemmNR:i*ldc+n])
		}
	}
}

// kern4x4 accumulates a 4x4 block of C over kc values of k.
func kern4x4(kc int, a0, a1, a2, a3, b, c0, c1, c2, c3 []float32) {
	a0, a1, a2, a3 = a0[:kc], a1[:kc], a2[:kc], a3[:kc]
	b = b[:kc*4]
	var s00, s01, s02, s03 float32
	var s10, s11, s12, s13 float32
	var s20, s21, s22, s23 float32
	var s30, s31, s32, s33 float32
	for kk := range kc {
		bb := b[kk*4 : kk*4+4 : kk*4+4]
		b0, b1, b2, b3 := bb[0], bb[1], bb[2], bb[3]
		x := a0[kk]
		s00 += x * b0
		s01 += x * b1
		s02 += x * b2
		s03 += x * b3
		x = a1[kk]
		s10 += x * b0
		s11 += x * b1
		s12 += x * b2
		s13 += x * b3
		x = a2[kk]
		s20 += x * b0
		s21 += x * b1
		s22 += x * b2
		s23 += x * b3
		x = a3[kk]
		s30 += x * b0
		s31 += x * b1
		s32 += x * b2
		s33 += x * b3
	}
	c0 = c0[:4]
	c0[0] += s00
	c0[1] += s01
	c0[2] += s02
	c0[3] += s03
	c1 = c1[:4]
	c1[0] += s10
	c1[1] += s11
	c1[2] += s12
	c1[3] += s13
	c2 = c2[:4]
	c2[0] += s20
	c2[1] += s21
	c2[2] += s22
	c2[3] += s23
	c3 = c3[:4]
	c3[0] += s30
	c3[1] += s31
	c3[2] += s32
	c3[3] += s33
}

// kern2x4 accumulates a 2x4 block of C: 8 accumulators, 4 B values and an
// A value fit amd64's 15 usable XMM registers without spilling.
func kern2x4(kc int, a0, a1, b, c0, c1 []float32) {
	a0, a1 = a0[:kc], a1[:kc]
	b = b[:kc*4]
	var s00, s01, s02, s03 float32
	var s10, s11, s12, s13 float32
	for kk := range kc {
		bb := b[kk*4 : kk*4+4 : kk*4+4]
		b0, b1, b2, b3 := bb[0], bb[1], bb[2], bb[3]
		x := a0[kk]
		s00 += x * b0
		s01 += x * b1
		s02 += x * b2
		s03 += x * b3
		x = a1[kk]
		s10 += x * b0
		s11 += x * b1
		s12 += x * b2
		s13 += x * b3
	}
	c0 = c0[:4]
	c0[0] += s00
	c0[1] += s01
	c0[2] += s02
	c0[3] += s03
	c1 = c1[:4]
	c1[0] += s10
	c1[1] += s11
	c1[2] += s12
	c1[3] += s13
}

// kern1x4 accumulates one row of a full panel.
func kern1x4(a, b, c []float32) {
	b = b[:len(a)*4]
	var s0, s1, s2, s3 float32
	for kk, x := range a {
		bb := b[kk*4 : kk*4+4 : kk*4+4]
		s0 += x * bb[0]
		s1 += x * bb[1]
		s2 += x * bb[2]
		s3 += x * bb[3]
	}
	c = c[:4]
	c[0] += s0
	c[1] += s1
	c[2] += s2
	c[3] += s3
}

// kern1xTail accumulates one row of the last, partial panel (len(c) < NR).
func kern1xTail(a, b, c []float32) {
	var s [sgemmNR]float32
	b = b[:len(a)*sgemmNR]
	for kk, x := range a {
		bb := b[kk*sgemmNR : kk*sgemmNR+sgemmNR : kk*sgemmNR+sgemmNR]
		s[0] += x * bb[0]
		s[1] += x * bb[1]
		s[2] += x * bb[2]
		s[3] += x * bb[3]
	}
	for j := range c {
		c[j] += s[j]
	}
}
