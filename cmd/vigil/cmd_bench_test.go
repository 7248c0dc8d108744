package main

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBenchJSON runs the real engines (ours, ONNX Runtime, OpenCV DNN) on the
// MobileFaceNet fixture for a handful of runs: it checks the report, not the speed.
func TestBenchJSON(t *testing.T) {
	code, stdout, stderr := run("bench", "--json", "--models", "mobilefacenet", "--iters", "2", "--budget", "1ms", "--threads", "2")
	require.Equal(t, 0, code, stderr)
	engines := map[string]benchResult{}
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		var r benchResult
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r), sc.Text())
		assert.Equal(t, "mobilefacenet", r.Model)
		engines[r.Engine+"/"+string(rune('0'+r.Threads))] = r
		t.Logf("%-12s threads %d median %.2f ms p90 %.2f ms %s %s", r.Engine, r.Threads, r.MedianMS, r.P90MS, r.Impl, r.Skipped)
	}
	for _, k := range []string{"vigil-float/1", "vigil-int8/1", "vigil-int8/2", "onnxruntime/1", "onnxruntime/2", "opencv-dnn/1"} {
		r, ok := engines[k]
		require.True(t, ok, "missing %s", k)
		assert.Empty(t, r.Skipped, k)
		assert.NotEmpty(t, r.Impl, k)
		assert.Equal(t, 2, r.Runs, k)
		assert.Greater(t, r.MedianMS, 0.0, k)
		assert.GreaterOrEqual(t, r.P90MS, r.MedianMS, k)
	}
	assert.Greater(t, engines["onnxruntime/1"].Ratio, 0.0)
}

func TestBenchUsage(t *testing.T) {
	code, _, stderr := run("bench", "--models", "no-such-model")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "no-such-model")
}
