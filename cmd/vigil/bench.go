package main

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// A benchRunner is one (model, engine, threads) combination of `vigil bench`:
// run does one inference on the prepared input.
type benchRunner struct {
	model   string
	engine  string // vigil-float, vigil-int8, onnxruntime, opencv-dnn
	threads int
	impl    string // the kernel implementation or peer version that ran
	skip    string // why the runner did not run (peer not installed, no ONNX form)
	run     func() error
	close   func()

	times []time.Duration
}

// benchResult is one line of `vigil bench --json`.
type benchResult struct {
	Model    string  `json:"model"`
	Engine   string  `json:"engine"`
	Threads  int     `json:"threads"`
	MedianMS float64 `json:"median_ms"`
	P90MS    float64 `json:"p90_ms"`
	Impl     string  `json:"impl"`
	Runs     int     `json:"runs"`
	Skipped  string  `json:"skipped,omitempty"`
	// Ratio is this runner's median over our int8 runner's median with the same thread
	// count (>1: slower than ours). Zero when there is nothing to compare with.
	Ratio float64 `json:"ratio_to_vigil_int8,omitempty"`
}

// runInterleaved warms every runner up, then runs them round-robin so that
// machine noise (other load, frequency changes) falls on all of them alike.
func runInterleaved(runners []*benchRunner, warmup, iters int, deadline time.Duration) error {
	live := slices.DeleteFunc(slices.Clone(runners), func(r *benchRunner) bool { return r.skip != "" })
	for _, r := range live {
		for range warmup {
			if err := r.run(); err != nil {
				return fmt.Errorf("%s on %s: %w", r.engine, r.model, err)
			}
		}
	}
	start := time.Now()
	for i := 0; i < iters; i++ {
		for _, r := range live {
			t0 := time.Now()
			if err := r.run(); err != nil {
				return fmt.Errorf("%s on %s: %w", r.engine, r.model, err)
			}
			r.times = append(r.times, time.Since(t0))
		}
		// Keep at least 5 runs for a median, then respect the time budget.
		if i >= 4 && deadline > 0 && time.Since(start) > deadline {
			break
		}
	}
	return nil
}

func quantile(ts []time.Duration, q float64) float64 {
	if len(ts) == 0 {
		return 0
	}
	s := slices.Clone(ts)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	i = min(max(i, 0), len(s)-1)
	return float64(s[i]) / float64(time.Millisecond)
}

func summarize(runners []*benchRunner) []benchResult {
	ours := map[string]float64{} // model/threads -> our int8 median
	out := make([]benchResult, 0, len(runners))
	for _, r := range runners {
		res := benchResult{Model: r.model, Engine: r.engine, Threads: r.threads, Impl: r.impl, Skipped: r.skip, Runs: len(r.times)}
		if r.skip == "" {
			res.MedianMS = quantile(r.times, 0.5)
			res.P90MS = quantile(r.times, 0.9)
			if r.engine == "vigil-int8" {
				ours[fmt.Sprintf("%s/%d", r.model, r.threads)] = res.MedianMS
			}
		}
		out = append(out, res)
	}
	for i := range out {
		if base := ours[fmt.Sprintf("%s/%d", out[i].Model, out[i].Threads)]; base > 0 && out[i].MedianMS > 0 {
			out[i].Ratio = out[i].MedianMS / base
		}
	}
	return out
}
