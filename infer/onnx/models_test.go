package onnx_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/infer"
	. "github.com/vigil-edge/vigil/infer/onnx"
)

// modelCache finds models/cache as DEVELOPERS.md says: VIGIL_MODELS, or
// models/cache next to go.mod above the working directory.
func modelCache(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("VIGIL_MODELS"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "models", "cache")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory; set VIGIL_MODELS")
		}
		dir = parent
	}
}

// modelFile returns the path of a fetched model file, failing (never
// skipping) when it is missing.
func modelFile(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(modelCache(t), rel)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("model %s is missing (%v): run scripts/fetch-models.sh", p, err)
	}
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
