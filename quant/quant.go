// Package quant is the arithmetic of vigil's post-training quantization:
// symmetric per-output-channel int8 weights, asymmetric per-tensor int8
// activation parameters, range observers for calibration (min/max,
// percentile, entropy) and quality measures (SQNR, cosine similarity).
//
// It is plain maths over float32 slices and knows nothing of graphs: the
// infer package drives it. Invariants:
//   - Weights are in [-127, 127] (never -128), real = q * scale[oc].
//   - Activation parameters represent 0 exactly: real = scale * (q - zeroPoint)
//     with zeroPoint in [-128, 127].
package quant

import (
	"fmt"
	"math"
)

// Params are asymmetric int8 quantization parameters:
// real = Scale * (q - ZeroPoint).
type Params struct {
	Scale     float32
	ZeroPoint int32
}

// minScale keeps scales of constant or all-zero tensors usable as divisors.
const minScale = 1e-8

// ParamsFor returns the parameters covering [min, max], widened to contain
// 0 so that zero (padding, ReLU) is exact. A degenerate range gives a tiny
// positive scale.
func ParamsFor(lo, hi float32) Params {
	lo = min(lo, 0)
	hi = max(hi, 0)
	if math.IsNaN(float64(lo)) || math.IsNaN(float64(hi)) || math.IsInf(float64(lo), 0) || math.IsInf(float64(hi), 0) {
		return Params{Scale: 1}
	}
	scale := (float64(hi) - float64(lo)) / 255
	if scale < minScale {
		return Params{Scale: minScale, ZeroPoint: -128}
	}
	zp := math.Round(-128 - float64(lo)/scale)
	zp = min(max(zp, -128), 127)
	return Params{Scale: float32(scale), ZeroPoint: int32(zp)}
}

// Quantize maps x to int8, rounding half away from zero and saturating.
func (p Params) Quantize(x float32) int8 {
	v := math.Round(float64(x)/float64(p.Scale)) + float64(p.ZeroPoint)
	return int8(min(max(v, -128), 127))
}

// Dequantize maps q back to a real value.
func (p Params) Dequantize(q int8) float32 { return p.Scale * float32(int32(q)-p.ZeroPoint) }

// Min and Max are the real values of -128 and 127.
func (p Params) Min() float32 { return p.Dequantize(-128) }
func (p Params) Max() float32 { return p.Dequantize(127) }

// QuantizeWeights quantizes w, oc rows (output channels) of equal length,
// symmetrically per row to [-127, 127]: real = q * scale[row]. A row of
// zeros gets scale 1.
func QuantizeWeights(w []float32, oc int) (q []int8, scale []float32, err error) {
	if oc <= 0 || len(w)%oc != 0 {
		return nil, nil, fmt.Errorf("quant: %d weights do not split into %d output channels", len(w), oc)
	}
	per := len(w) / oc
	q = make([]int8, len(w))
	scale = make([]float32, oc)
	for c := range oc {
		row := w[c*per : (c+1)*per]
		var m float64
		for _, v := range row {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, nil, fmt.Errorf("quant: weight %d of output channel %d is %v", c*per, c, v)
			}
			m = max(m, math.Abs(float64(v)))
		}
		s := m / 127
		if s == 0 {
			s = 1
		}
		scale[c] = float32(s)
		qr := q[c*per : (c+1)*per]
		for i, v := range row {
			qr[i] = int8(min(max(math.Round(float64(v)/float64(scale[c])), -127), 127))
		}
	}
	return q, scale, nil
}

// SQNR is the signal-to-quantization-noise ratio of got against ref in dB:
// 10*log10(sum ref^2 / sum (ref-got)^2). Identical slices give +Inf; a
// zero reference with noise gives -Inf.
func SQNR(ref, got []float32) float64 {
	var sig, noise float64
	for i, r := range ref {
		d := float64(r) - float64(got[i])
		sig += float64(r) * float64(r)
		noise += d * d
	}
	if noise == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(sig/noise)
}

// Cosine is the cosine similarity of a and b (0 when either is zero).
func Cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	if aa == 0 || bb == 0 {
		return 0
	}
	return ab / math.Sqrt(aa*bb)
}

// MaxAbsDiff is the largest |a[i]-b[i]|.
func MaxAbsDiff(a, b []float32) float64 {
	var m float64
	for i := range a {
		m = max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}
