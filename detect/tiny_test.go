package detect

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/infer"
	"github.com/vigil-edge/vigil/infer/tfjs"
)

func tinyGraph(t testing.TB) *infer.Graph {
	t.Helper()
	g, err := tfjs.TinyFaceDetector(cacheDir(t, "face-api"))
	require.NoError(t, err)
	return g
}

func TestTinyOptions(t *testing.T) {
	g := tinyGraph(t)
	_, err := NewTinyFaceDetector(g, TinyOptions{InputSize: 100})
	assert.ErrorContains(t, err, "multiple of 32")
	bad := *g
	bad.Meta.Extra = map[string]string{"anchors": "nope"}
	_, err = NewTinyFaceDetector(&bad, TinyOptions{})
	assert.ErrorContains(t, err, "anchors")
}

func TestLetterbox(t *testing.T) {
	im := infer.NewImage(200, 100)
	for i := range im.Pix {
		im.Pix[i] = 255
	}
	meta := infer.Meta{Scale: [3]float32{1, 1, 1}}
	dst := make([]float32, 64*64*3)
	var tmp []float32
	sx, sy, err := letterbox(&meta, dst, 64, 64, im, &tmp)
	require.NoError(t, err)
	assert.InDelta(t, 0.32, sx, 1e-6)
	assert.InDelta(t, 0.32, sy, 1e-6)
	// Rows 0..31 hold the image (white), the rest is black padding.
	assert.Equal(t, float32(255), dst[(31*64+63)*3])
	assert.Equal(t, float32(0), dst[(32*64)*3])
}
