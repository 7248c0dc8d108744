package tfjs

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/infer"
)

// tamperedModel copies a real tfjs model folder (manifest and shards) into a temporary one
// and lets edit change the manifest and the concatenated shard bytes, given each tensor's
// byte offset. Shards are written back with their original sizes.
func tamperedModel(t *testing.T, sub, manifest string, edit func(groups []map[string]any, offsets map[string]int64, data []byte)) string {
	t.Helper()
	src := modelDir(t, sub)
	raw, err := os.ReadFile(filepath.Join(src, manifest))
	require.NoError(t, err)
	var groups []map[string]any
	require.NoError(t, json.Unmarshal(raw, &groups))
	require.Len(t, groups, 1, "one weight group")
	var data []byte
	var sizes []int
	for _, p := range groups[0]["paths"].([]any) {
		b, err := os.ReadFile(filepath.Join(src, p.(string)))
		require.NoError(t, err)
		data = append(data, b...)
		sizes = append(sizes, len(b))
	}
	offsets := map[string]int64{}
	off := int64(0)
	for _, w := range groups[0]["weights"].([]any) {
		w := w.(map[string]any)
		offsets[w["name"].(string)] = off
		n := int64(1)
		for _, d := range w["shape"].([]any) {
			n *= int64(d.(float64))
		}
		size := int64(4)
		if q, ok := w["quantization"].(map[string]any); ok {
			switch q["dtype"] {
			case "uint8":
				size = 1
			case "uint16", "float16":
				size = 2
			}
		}
		off += n * size
	}
	require.Equal(t, int64(len(data)), off, "the manifest describes the shards exactly")
	edit(groups, offsets, data)

	dst := t.TempDir()
	raw, err = json.Marshal(groups)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dst, manifest), raw, 0o644))
	for i, p := range groups[0]["paths"].([]any) {
		require.NoError(t, os.WriteFile(filepath.Join(dst, p.(string)), data[:sizes[i]], 0o644))
		data = data[sizes[i]:]
	}
	return dst
}

func findWeight(groups []map[string]any, name string) map[string]any {
	for _, w := range groups[0]["weights"].([]any) {
		if w := w.(map[string]any); w["name"] == name {
			return w
		}
	}
	panic("no tensor " + name)
}

// TestNonFiniteWeightsRefused: the real tfjs models (MTCNN in float32, the face recognition
// network with uint8-quantized tensors) with one NaN or infinity put into a weight, a bias,
// a PReLU slope or a dense layer, or with a quantization scale that overflows float32, are
// refused at load with an error naming NaN/Inf or a non-finite value; never built.
func TestNonFiniteWeightsRefused(t *testing.T) {
	bad := map[string]float32{"NaN": float32(math.NaN()), "+Inf": float32(math.Inf(1)), "-Inf": float32(math.Inf(-1))}
	refused := 0
	for _, tensor := range []string{"pnet/conv1/weights", "pnet/conv4_2/bias", "rnet/prelu4_alpha", "rnet/fc1/weights", "onet/fc2_3/bias"} {
		for vname, v := range bad {
			t.Run("mtcnn "+tensor+" "+vname, func(t *testing.T) {
				dir := tamperedModel(t, "mtcnn", MTCNNManifest, func(_ []map[string]any, offs map[string]int64, data []byte) {
					binary.LittleEndian.PutUint32(data[offs[tensor]+4:], math.Float32bits(v)) // its second value
				})
				var p, r, o *infer.Graph
				var err error
				require.NotPanics(t, func() { p, r, o, err = MTCNN(dir) })
				require.Error(t, err, "MTCNN with %s in %s loaded", vname, tensor)
				assert.Nil(t, p)
				assert.Nil(t, r)
				assert.Nil(t, o)
				assert.Regexp(t, `NaN|Inf|finite`, err.Error())
				refused++
				t.Log(err)
			})
		}
	}
	// Quantized tensors: JSON has no NaN, but a scale or min beyond float32 becomes Inf, and
	// a finite but huge scale overflows when the bytes are dequantized.
	for _, tc := range []struct {
		name       string
		key        string
		value      float64
		tensorName string
	}{
		{"scale beyond float32", "scale", 1e39, "conv32_down/conv/filters"},
		{"min beyond float32", "min", -1e39, "conv32_down/conv/bias"},
		{"scale overflowing on dequantization", "scale", 3e38, "conv32_1/conv1/scale/weights"},
	} {
		t.Run("face recognition "+tc.name, func(t *testing.T) {
			dir := tamperedModel(t, "face-api", FaceRecognitionManifest, func(groups []map[string]any, _ map[string]int64, _ []byte) {
				findWeight(groups, tc.tensorName)["quantization"].(map[string]any)[tc.key] = tc.value
			})
			var g *infer.Graph
			var err error
			require.NotPanics(t, func() { g, err = FaceRecognition(dir) })
			require.Error(t, err, "%s in %s loaded", tc.name, tc.tensorName)
			assert.Nil(t, g)
			assert.Regexp(t, `NaN|Inf|finite`, err.Error())
			refused++
			t.Log(err)
		})
	}
	// The untouched copies load: the refusals are for the values.
	_, _, _, err := MTCNN(tamperedModel(t, "mtcnn", MTCNNManifest, func([]map[string]any, map[string]int64, []byte) {}))
	require.NoError(t, err)
	_, err = FaceRecognition(tamperedModel(t, "face-api", FaceRecognitionManifest, func([]map[string]any, map[string]int64, []byte) {}))
	require.NoError(t, err)
	t.Logf("%d tfjs models with NaN or Inf weights refused at load", refused)
}
