package ort_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/infer/onnx/ort"
)

func TestLibrary(t *testing.T) {
	// A missing library is a clear error, and does not spoil a later Init.
	err := ort.Init(filepath.Join(t.TempDir(), "libonnxruntime.so.1"))
	require.Error(t, err)
	assert.ErrorIs(t, err, ort.ErrUnavailable)

	lib, err := ort.LibraryPath()
	require.NoError(t, err, "run scripts/fetch-models.sh")
	require.NoError(t, ort.Init(lib))
	require.NoError(t, ort.Init(lib), "Init twice")
	assert.NotEmpty(t, ort.Version())
	t.Log("ONNX Runtime", ort.Version())

	data, err := os.ReadFile(filepath.Join(filepath.Dir(filepath.Dir(filepath.Dir(lib))), "faceplugin", "fr_detect.onnx"))
	require.NoError(t, err, "run scripts/fetch-models.sh")
	s, err := ort.NewSession(data, ort.Options{Threads: 1, Outputs: []string{"scores", "462"}})
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, []ort.TensorInfo{{Name: "input", Shape: []int64{1, 3, 240, 320}}}, s.Inputs())
	assert.Equal(t, []ort.TensorInfo{{Name: "scores", Shape: []int64{1, 4420, 2}}, {Name: "462", Shape: []int64{1, 4420, 4}}}, s.Outputs())
	require.NoError(t, s.Run())
	for k := range 4420 {
		p := s.Output(0)[2*k : 2*k+2]
		assert.InDelta(t, 1, p[0]+p[1], 1e-5, "softmax of anchor %d", k)
	}
}
