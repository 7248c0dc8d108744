package neon

import "math"

// Requantize is the integer requantization of vigil, identical on every
// architecture (the SIMD kernels are tested bit for bit against it):
//
//	if shift < 0 { acc = saturate32(int64(acc) << -shift) }
//	x := int32((int64(acc)*int64(mult) + 1<<30) >> 31)     // SQRDMULH-like, rounding half up
//	if shift > 0 { x = int32((int64(x) + 1<<(shift-1)) >> shift) } // rounding right shift
//
// mult is in [1<<30, 1<<31) (or 0 for a zero scale) and shift in [-31, 31], as
// QuantizeMultiplier returns them. The result approximates acc*mult*2^(-31-shift)
// rounded half up.
func Requantize(acc, mult, shift int32) int32 {
	if shift < 0 {
		v := int64(acc) << uint(-shift)
		switch {
		case v > math.MaxInt32:
			acc = math.MaxInt32
		case v < math.MinInt32:
			acc = math.MinInt32
		default:
			acc = int32(v)
		}
	}
	x := int32((int64(acc)*int64(mult) + 1<<30) >> 31)
	if shift > 0 {
		x = int32((int64(x) + 1<<(shift-1)) >> uint(shift))
	}
	return x
}

// QuantizeMultiplier turns a real multiplier into (mult, shift) for Requantize,
// so that real ≈ mult * 2^(-31-shift) with mult in [1<<30, 1<<31).
// A real that is not positive, is NaN, or is below 2^-32 (where every int32
// accumulator rounds to 0 or ±1) gives (0, 0): a zero scale. A real of 2^31 or
// more saturates to the largest representable multiplier.
func QuantizeMultiplier(real float64) (mult, shift int32) {
	if !(real > 0) || math.IsNaN(real) {
		return 0, 0
	}
	q, e := math.Frexp(real) // real = q * 2^e, q in [0.5, 1)
	m := int64(math.Round(q * (1 << 31)))
	if m == 1<<31 {
		m /= 2
		e++
	}
	s := -e
	switch {
	case s > 31:
		return 0, 0
	case s < -31:
		return math.MaxInt32, -31
	}
	return int32(m), int32(s)
}

// Requant is the fused GEMM/convolution epilogue. For output channel j:
//
//	out = clamp(Requantize(acc + Bias[j], Mult[j], Shift[j]) + ZeroPoint, Min, Max)
//
// acc + Bias[j] wraps in int32 (it cannot overflow for real layers: |acc| <=
// 128*127*K); the add of ZeroPoint and the clamp are exact (no wrap).
// Bias, Mult and Shift have one entry per output channel.
type Requant struct {
	Bias      []int32 // per output channel; the caller has folded -zpIn*sum(w[j]) into it
	Mult      []int32
	Shift     []int32
	ZeroPoint int32
	Min, Max  int8 // output clamp, Min <= Max (a fused ReLU/ReLU6)

	prep *requantPrep // Prepare's per-panel parameters, or nil
}

// Prepare computes, once, the per-panel epilogue parameters the kernels
// otherwise derive from q on every Gemm call (a few hundred nanoseconds
// per panel: noticeable on layers of small images). q must not change
// afterwards: the kernels would keep using the prepared values. Prepare
// is not safe for concurrent use with kernels reading q.
func (q *Requant) Prepare() {
	q.prep = newRequantPrep(q)
}

// requantOne applies the epilogue to one accumulator of channel j.
func requantOne(acc, bias, mult, shift, zp, lo, hi int32) int8 {
	x := int64(Requantize(acc+bias, mult, shift)) + int64(zp)
	if x < int64(lo) {
		x = int64(lo)
	}
	if x > int64(hi) {
		x = int64(hi)
	}
	return int8(x)
}

// epilogueRow writes n = len(dst) outputs of one row from acc, channels
// starting at j0 of q.
func epilogueRow(dst []int8, acc []int32, q *Requant, j0 int) {
	n := len(dst)
	acc = acc[:n]
	bias := q.Bias[j0 : j0+n]
	mult := q.Mult[j0 : j0+n]
	shift := q.Shift[j0 : j0+n]
	zp, lo, hi := q.ZeroPoint, int32(q.Min), int32(q.Max)
	for j := range dst {
		dst[j] = requantOne(acc[j], bias[j], mult[j], shift[j], zp, lo, hi)
	}
}
