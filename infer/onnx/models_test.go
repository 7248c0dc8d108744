package onnx_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/infer"
	. "github.com/vigil-edge/vigil/infer/onnx"
	"github.com/vigil-edge/vigil/models"
)

// modelCache is the fetched-model folder (models.CacheDir).
func modelCache(t testing.TB) string {
	t.Helper()
	d, err := models.CacheDir()
	require.NoError(t, err)
	return d
}

// modelFile returns the path of a fetched model file, failing (never
// skipping) with the fix when it is missing.
func modelFile(t testing.TB, rel string) string {
	t.Helper()
	p, err := models.CachePath(filepath.FromSlash(rel))
	require.NoError(t, err)
	return p
}

// The real models. UltraFace's file ends in the SSD prior decoding (Slice,
// Exp, constant prior tensors), which the engine has no operators for and
// which belongs in the detector: it is cut at the raw box regressions,
// tensor "462" ([1,4420,4], before the priors are applied).
var realModels = []struct {
	name, path string
	opts       Options
	pre        infer.Meta // preprocessing for the test photo
}{
	{"ultraface", "faceplugin/fr_detect.onnx", Options{Outputs: []string{"scores", "462"}},
		infer.Meta{Mean: [3]float32{127, 127, 127}, Scale: [3]float32{1.0 / 128, 1.0 / 128, 1.0 / 128}, ChannelOrder: "RGB"}},
	{"mobilefacenet", "faceplugin/fr_feature.onnx", Options{},
		infer.Meta{Mean: [3]float32{127.5, 127.5, 127.5}, Scale: [3]float32{1.0 / 128, 1.0 / 128, 1.0 / 128}, ChannelOrder: "RGB"}},
	{"blazeface", "blazeface/face_detection_front_128x128_barracuda.onnx", Options{},
		infer.Meta{Mean: [3]float32{127.5, 127.5, 127.5}, Scale: [3]float32{1 / 127.5, 1 / 127.5, 1 / 127.5}, ChannelOrder: "RGB"}},
	{"blazeface_back", "blazeface/face_detection_back_256x256_barracuda.onnx", Options{},
		infer.Meta{Mean: [3]float32{127.5, 127.5, 127.5}, Scale: [3]float32{1 / 127.5, 1 / 127.5, 1 / 127.5}, ChannelOrder: "RGB"}},
}
