package neon

import (
	"math/rand/v2"
	"testing"
)

// forEachImpl runs body once per implementation this CPU can run, the
// selected one switched in (as crypto/internal/cryptotest does).
func forEachImpl(t *testing.T, body func(t *testing.T)) {
	for _, name := range Impls() {
		t.Run(name, func(t *testing.T) {
			defer SetImpl(name)()
			body(t)
		})
	}
}

func randInt8s(r *rand.Rand, n int, lo, hi int) []int8 {
	s := make([]int8, n)
	for i := range s {
		s[i] = int8(lo + r.IntN(hi-lo+1))
	}
	return s
}

// randRequant gives per-channel parameters spanning the useful range,
// including negative shifts (multipliers above 1) and a zero scale. Half
// the time every shift is in [1, 24] instead (multipliers below 1/2, as
// real layers have), which the fast AVX-512 epilogue takes up to 22; 24
// and the occasional zero shift send a panel back to the full epilogue.
func randRequant(r *rand.Rand, n int) *Requant {
	q := &Requant{Bias: make([]int32, n), Mult: make([]int32, n), Shift: make([]int32, n)}
	typical := r.IntN(2) == 0
	for j := 0; j < n; j++ {
		q.Bias[j] = int32(r.IntN(1<<17)) - 1<<16
		q.Mult[j] = int32(1<<30 + r.IntN(1<<30))
		q.Shift[j] = int32(r.IntN(16) - 2)
		if typical {
			q.Shift[j] = int32(1 + r.IntN(22))
			if r.IntN(100) == 0 {
				q.Shift[j] = []int32{0, 23, 24}[r.IntN(3)]
			}
		}
		if r.IntN(50) == 0 {
			q.Mult[j], q.Shift[j] = 0, 0
		}
	}
	q.ZeroPoint = int32(r.IntN(256) - 128)
	q.Min, q.Max = -128, 127
	if r.IntN(3) == 0 {
		q.Min = int8(q.ZeroPoint) // fused ReLU
	}
	return q
}

// typicalShifts gives every channel of q a shift in [5, 14], as real
// layers have (multipliers of 2^-6 to 2^-15): the benchmarks then measure
// the paths real layers take.
func typicalShifts(r *rand.Rand, q *Requant) {
	for j := range q.Shift {
		q.Shift[j] = int32(5 + r.IntN(10))
	}
}
