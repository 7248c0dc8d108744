package neon

import "fmt"

// clamp8 is min(max(x, lo), hi), in that order, like every SIMD path
// (so lo > hi gives hi everywhere).
func clamp8(x int64, lo, hi int8) int8 {
	return int8(min(max(x, int64(lo)), int64(hi)))
}

// RequantizeInt8 rescales int8 values from one quantization to another:
// dst[i] = clamp(Requantize(src[i]-zpIn, mult, shift) + zpOut, min, max).
func RequantizeInt8(dst, src []int8, zpIn int32, mult, shift, zpOut int32, min, max int8) {
	dst = dst[:len(src)]
	if cur.id != 0 {
		n := archRequantize(dst, src, zpIn, mult, shift, zpOut, min, max)
		dst, src = dst[n:], src[n:]
	}
	for i, v := range src {
		dst[i] = clamp8(int64(Requantize(int32(v)-zpIn, mult, shift))+int64(zpOut), min, max)
	}
}

// AddLeftShift is the headroom AddInt8 gives its inputs before rescaling
// them, as in TFLite.
const AddLeftShift = 20

// AddMultipliers computes the AddInt8 multipliers for input scales sA, sB
// and output scale sOut (TFLite's recipe: both inputs are brought to twice
// the larger input scale, the sum to the output scale).
func AddMultipliers(sA, sB, sOut float64) (multA, shiftA, multB, shiftB, multOut, shiftOut int32) {
	twice := 2 * max(sA, sB)
	multA, shiftA = QuantizeMultiplier(sA / twice)
	multB, shiftB = QuantizeMultiplier(sB / twice)
	multOut, shiftOut = QuantizeMultiplier(twice / (float64(int64(1)<<AddLeftShift) * sOut))
	return
}

// AddInt8 adds two quantized tensors elementwise, TFLite-style:
//
//	x = Requantize((a[i]-zpA) << 20, multA, shiftA)
//	y = Requantize((b[i]-zpB) << 20, multB, shiftB)
//	dst[i] = clamp(Requantize(x+y, multOut, shiftOut) + zpOut, min, max)
//
// Use AddMultipliers for the multipliers. len(a) == len(b) elements are written.
func AddInt8(dst, a, b []int8, zpA, multA, shiftA, zpB, multB, shiftB, zpOut, multOut, shiftOut int32, min, max int8) {
	if len(a) != len(b) || len(dst) < len(a) {
		panic(fmt.Sprintf("neon.AddInt8: len(dst)=%d len(a)=%d len(b)=%d", len(dst), len(a), len(b)))
	}
	dst = dst[:len(a)]
	b = b[:len(a)]
	if cur.id != 0 {
		n := archAdd(dst, a, b, zpA, multA, shiftA, zpB, multB, shiftB, zpOut, multOut, shiftOut, min, max)
		dst, a, b = dst[n:], a[n:], b[n:]
	}
	for i := range a {
		x := Requantize((int32(a[i])-zpA)<<AddLeftShift, multA, shiftA)
		y := Requantize((int32(b[i])-zpB)<<AddLeftShift, multB, shiftB)
		dst[i] = clamp8(int64(Requantize(x+y, multOut, shiftOut))+int64(zpOut), min, max)
	}
}
