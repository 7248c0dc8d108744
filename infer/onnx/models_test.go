package onnx

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
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

var realModels = []struct {
	name, path string
	opts       Options
}{
	{"ultraface", "faceplugin/fr_detect.onnx", Options{Outputs: []string{"scores", "462"}}},
	{"mobilefacenet", "faceplugin/fr_feature.onnx", Options{}},
	{"blazeface", "blazeface/face_detection_front_128x128_barracuda.onnx", Options{}},
}
