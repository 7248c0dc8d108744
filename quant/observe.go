package quant

import (
	"fmt"
	"math"
)

// Observer accumulates the values a tensor takes over the calibration set
// and proposes the range to quantize it to. Ranges always contain 0.
type Observer interface {
	Observe(x []float32)
	// Range is the chosen [min, max]; (0, 0) before any value was observed.
	Range() (lo, hi float32)
}

// Methods are the observer names NewObserver accepts.
var Methods = []string{"minmax", "percentile", "entropy"}

// NewObserver returns the observer for a calibration method: "minmax",
// "percentile" (99.99%) or "entropy" (KL divergence, 2048 bins).
func NewObserver(method string) (Observer, error) {
	switch method {
	case "minmax", "":
		return &MinMax{}, nil
	case "percentile":
		return &Percentile{P: 0.9999}, nil
	case "entropy":
		return &Entropy{}, nil
	}
	return nil, fmt.Errorf("quant: unknown calibration method %q (want one of %v)", method, Methods)
}

// MinMax takes the extreme values seen.
type MinMax struct {
	lo, hi float32
}

func (m *MinMax) Observe(x []float32) {
	for _, v := range x {
		if v < m.lo {
			m.lo = v
		}
		if v > m.hi {
			m.hi = v
		}
	}
}

func (m *MinMax) Range() (float32, float32) { return m.lo, m.hi }

// HistBins is the number of histogram bins of the Percentile and Entropy
// observers (TensorRT's choice).
const HistBins = 2048

// Ranger is implemented by the histogram observers: told the largest |x|
// beforehand (a first pass over the calibration set, as TensorRT does),
// their bins cover exactly [0, maxAbs] instead of growing by doubling.
type Ranger interface {
	SetMaxAbs(maxAbs float32)
}

// hist is a histogram of |x| over [0, width*HistBins) that doubles its range
// (merging bin pairs) when a larger value arrives, plus the signed extremes.
// Exact zeros are only counted: zero is exactly representable whatever the
// range, and the spike ReLU puts there would otherwise dominate the entropy
// search (every candidate that does not give 0 a bin of its own looks bad).
type hist struct {
	bins   [HistBins]float64
	zeros  float64
	width  float64
	lo, hi float32
	total  float64
}

func (h *hist) setMaxAbs(m float32) {
	if h.total == 0 && m > 0 && !math.IsInf(float64(m), 0) {
		h.width = float64(m) / HistBins * 1.0001
	}
}

func (h *hist) observe(x []float32) {
	var m float32
	for _, v := range x {
		h.lo = min(h.lo, v)
		h.hi = max(h.hi, v)
		m = max(m, float32(math.Abs(float64(v))))
	}
	h.total += float64(len(x))
	if m == 0 {
		h.zeros += float64(len(x))
		return
	}
	if h.width == 0 {
		h.width = float64(m) / HistBins * 1.0001
	}
	for float64(m) >= h.width*HistBins {
		for i := range HistBins / 2 {
			h.bins[i] = h.bins[2*i] + h.bins[2*i+1]
		}
		clear(h.bins[HistBins/2:])
		h.width *= 2
	}
	inv := 1 / h.width
	for _, v := range x {
		if v == 0 {
			h.zeros++
			continue
		}
		b := int(math.Abs(float64(v)) * inv)
		h.bins[min(b, HistBins-1)]++
	}
}

// clip returns the observed range clipped to [-t, t].
func (h *hist) clip(t float64) (float32, float32) {
	return max(h.lo, float32(-t)), min(h.hi, float32(t))
}

// Percentile clips |x| at the P quantile (e.g. 0.9999) of the observed values.
type Percentile struct {
	P float64
	h hist
}

func (p *Percentile) Observe(x []float32) { p.h.observe(x) }

// SetMaxAbs fixes the histogram range before the first Observe.
func (p *Percentile) SetMaxAbs(m float32) { p.h.setMaxAbs(m) }

func (p *Percentile) Range() (float32, float32) {
	h := &p.h
	if h.width == 0 {
		return min(h.lo, 0), max(h.hi, 0)
	}
	want := p.P * h.total
	cum := h.zeros
	for i, c := range h.bins {
		cum += c
		if cum >= want {
			return h.clip(float64(i+1) * h.width)
		}
	}
	return h.lo, h.hi
}

// MinEntropyValues is the number of non-zero values the Entropy observer
// needs before it clips: below it (a pooled vector seen on a handful of
// images) the histogram is too sparse for the KL divergence to mean
// anything, and the observer returns the min/max range.
const MinEntropyValues = 4 * HistBins

// Entropy picks the clipping threshold of |x| that minimises the KL
// divergence between the observed distribution and its quantized version,
// as TensorRT's entropy calibrator: 128 levels for signed tensors, 255 for
// non-negative ones (ReLU outputs use the whole int8 range on [0, t]).
// Unlike TensorRT it does not consider thresholds whose clipping error
// (sum of squared distances clipped) exceeds the rounding error of the
// min/max range: KL alone clips long tails that matter (MobileFaceNet's
// embedding fell to cosine 0.19 against float without this guard).
type Entropy struct {
	h hist
}

func (e *Entropy) Observe(x []float32) { e.h.observe(x) }

// SetMaxAbs fixes the histogram range before the first Observe.
func (e *Entropy) SetMaxAbs(m float32) { e.h.setMaxAbs(m) }

func (e *Entropy) Range() (float32, float32) {
	h := &e.h
	if h.width == 0 {
		return min(h.lo, 0), max(h.hi, 0)
	}
	if h.total-h.zeros < MinEntropyValues {
		return h.lo, h.hi // too few values for a distribution: keep them all
	}
	levels := 128
	if h.lo >= 0 {
		levels = 255
	}
	// Last non-empty bin: no point in thresholds beyond it.
	last := HistBins
	for last > levels && h.bins[last-1] == 0 {
		last--
	}
	if last <= levels {
		return h.lo, h.hi
	}
	// The KL divergence weighs a clipped value by its probability, not by
	// how far it is clipped: on peaked distributions with long tails it can
	// pick thresholds whose clipping error dwarfs any rounding saved. So a
	// candidate is only eligible while its clipping error stays below the
	// rounding error of quantizing the whole range (min/max).
	step := float64(last) * h.width / float64(levels)
	budget := (h.total - h.zeros) * step * step / 12
	clipErr := make([]float64, last+1) // clipErr[i]: squared error of clipping at bin i
	for i := last - 1; i >= levels; i-- {
		t := (float64(i) + 0.5) * h.width
		var e float64
		for j := i; j < last; j++ {
			d := (float64(j)+0.5)*h.width - t
			e += h.bins[j] * d * d
		}
		clipErr[i] = e
	}
	best, bestKL := last, math.Inf(1)
	p := make([]float64, HistBins)
	q := make([]float64, HistBins)
	for i := levels; i <= last; i++ {
		if i < last && clipErr[i] > budget {
			continue
		}
		// Reference: the first i bins, the clipped tail folded into the last.
		copy(p, h.bins[:i])
		for _, c := range h.bins[i:] {
			p[i-1] += c
		}
		// Candidate: the first i bins merged into levels groups, each group's
		// mass spread evenly over its non-empty bins.
		clear(q[:i])
		for l := range levels {
			a, b := l*i/levels, (l+1)*i/levels
			var sum float64
			nz := 0
			for j := a; j < b; j++ {
				sum += h.bins[j]
				if h.bins[j] != 0 {
					nz++
				}
			}
			if nz == 0 {
				continue
			}
			for j := a; j < b; j++ {
				if h.bins[j] != 0 {
					q[j] = sum / float64(nz)
				}
			}
		}
		if kl := klDivergence(p[:i], q[:i]); kl < bestKL {
			best, bestKL = i, kl
		}
	}
	return h.clip((float64(best) + 0.5) * h.width)
}

// klDivergence is KL(p || q) of two unnormalised histograms; bins where p
// has mass and q has none cost a large constant (smoothing, as TensorRT).
func klDivergence(p, q []float64) float64 {
	var sp, sq float64
	for i := range p {
		sp += p[i]
		sq += q[i]
	}
	if sp == 0 || sq == 0 {
		return math.Inf(1)
	}
	var kl float64
	for i := range p {
		if p[i] == 0 {
			continue
		}
		pi := p[i] / sp
		qi := q[i] / sq
		if qi == 0 {
			kl += pi * 20 // log of a ~1e-9 smoothing probability
			continue
		}
		kl += pi * math.Log(pi/qi)
	}
	return kl
}
