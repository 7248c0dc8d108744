package main

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/infer"
	"github.com/vigil-edge/vigil/models"
)

// smallFloatModel is a conv-relu-pool-dense classifier on 32x32 RGB with random weights.
func smallFloatModel(t *testing.T) string {
	r := rand.New(rand.NewPCG(7, 9))
	vec := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = (r.Float32()*2 - 1) * 0.3
		}
		return v
	}
	g := &infer.Graph{
		Meta:    infer.Meta{Name: "small", Mean: [3]float32{127.5, 127.5, 127.5}, Scale: [3]float32{1 / 128.0, 1 / 128.0, 1 / 128.0}, ChannelOrder: "RGB"},
		Inputs:  []infer.Input{{Name: "in", Shape: infer.Shape{1, 32, 32, 3}}},
		Outputs: []string{"fc"},
		Nodes: []*infer.Node{
			{Name: "c1", Op: infer.OpConv, Inputs: []string{"in"}, Pad: infer.Padding{Mode: infer.PadSame}, Act: infer.ActReLU, W: &infer.Tensor{Shape: infer.Shape{8, 3, 3, 3}, Data: vec(216)}, B: vec(8)},
			{Name: "p1", Op: infer.OpMaxPool, Inputs: []string{"c1"}, Kernel: [2]int{2, 2}, Stride: [2]int{2, 2}},
			{Name: "gap", Op: infer.OpGlobalAvgPool, Inputs: []string{"p1"}},
			{Name: "fc", Op: infer.OpDense, Inputs: []string{"gap"}, W: &infer.Tensor{Shape: infer.Shape{4, 1, 1, 8}, Data: vec(32)}, B: vec(4)},
		},
	}
	path := filepath.Join(t.TempDir(), "small.vq")
	require.NoError(t, infer.SaveFile(path, g))
	return path
}

func TestQuantizeCommand(t *testing.T) {
	in := smallFloatModel(t)
	out := filepath.Join(t.TempDir(), "small-int8.vq")
	report := filepath.Join(t.TempDir(), "report.json")
	calib := filepath.Join("..", "..", "..", "shared", "testdata", "johns")
	require.DirExists(t, calib)
	for _, method := range []string{"minmax", "percentile", "entropy"} {
		code, stdout, stderr := run("quantize", "--model", in, "--calib", calib, "--method", method, "--out", out, "--report", report, "--max-images", "6")
		require.Equal(t, 0, code, stderr)
		assert.Contains(t, stdout, "SQNR")
		assert.Contains(t, stderr, "6/6", "progress bar")

		g, err := infer.LoadFile(out)
		require.NoError(t, err)
		assert.True(t, infer.Summarize(g, 0).Int8, "weights stored as int8")
		assert.Len(t, g.Ranges, 5, "a range for the input and every node")

		var rep quantReport
		b, err := os.ReadFile(report)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &rep))
		assert.Equal(t, 6, rep.Images)
		require.Len(t, rep.Outputs, 1)
		t.Logf("%s: output cosine int8 vs float %.5f (min %.5f)", method, rep.Outputs[0].MeanCosine, rep.Outputs[0].MinCosine)
		assert.Greater(t, rep.Outputs[0].MeanCosine, 0.99)
	}
}

// BlazeFace (ONNX) quantized with and without --equalize on the johns
// chips, which fill its frame and so light up its 8x8 head, the one behind
// the depthwise convolutions whose channels spread 250x.
func TestQuantizeEqualize(t *testing.T) {
	in, err := models.CachePath("blazeface", "face_detection_front_128x128_barracuda.onnx")
	require.NoError(t, err, "run scripts/fetch-models.sh")
	calib := filepath.Join("..", "..", "..", "shared", "testdata", "johns")
	dir := t.TempDir()
	minCos := map[bool]float64{}
	for _, eq := range []bool{false, true} {
		args := []string{"quantize", "--model", in, "--calib", calib, "--method", "minmax", "--max-images", "12",
			"--out", filepath.Join(dir, "b.vq"), "--report", filepath.Join(dir, "r.json")}
		if eq {
			args = append(args, "--equalize")
		}
		code, stdout, stderr := run(args...)
		require.Equal(t, 0, code, stderr)
		var rep quantReport
		b, err := os.ReadFile(filepath.Join(dir, "r.json"))
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &rep))
		require.Len(t, rep.Outputs, 4)
		minCos[eq] = 1
		for _, o := range rep.Outputs {
			minCos[eq] = min(minCos[eq], o.MinCosine)
		}
		if eq {
			assert.Equal(t, 16, rep.Equalized, "BlazeFace's depthwise/pointwise pairs")
			assert.Contains(t, stdout, "equalized 16 convolution pairs")
		} else {
			assert.Zero(t, rep.Equalized)
		}
	}
	t.Logf("worst output cosine int8 vs float: %.4f plain, %.4f equalized", minCos[false], minCos[true])
	assert.Greater(t, minCos[true], minCos[false])
}

func TestQuantizeCommandErrors(t *testing.T) {
	in := smallFloatModel(t)
	code, _, stderr := run("quantize", "--model", in, "--calib", t.TempDir(), "--out", filepath.Join(t.TempDir(), "x.vq"))
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "holds no JPEG or PNG image")

	code, _, stderr = run("quantize", "--model", in, "--calib", t.TempDir(), "--method", "median", "--out", "x.vq")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "median")

	code, _, stderr = run("quantize", "--model", filepath.Join(t.TempDir(), "missing.vq"), "--calib", t.TempDir(), "--out", "x.vq")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "missing.vq")
}
