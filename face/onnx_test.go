package face

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/infer"
	"github.com/vigil-edge/vigil/infer/onnx"
)

// arcFace112 is the five-point template of ArcFace-style 112x112 chips
// (insightface), the framing MobileFaceNet models are trained on.
var arcFace112 = Landmarks{{38.2946, 51.6963}, {73.5318, 51.5014}, {56.0252, 71.7366}, {41.5493, 92.3655}, {70.7299, 92.2041}}

// reframe warps a dlib-framed 150x150 chip to ArcFace framing at size.
func reframe(t *testing.T, chip *infer.Image, size int) *infer.Image {
	t.Helper()
	dst := arcFace112
	for i := range dst {
		dst[i].X *= float32(size) / 112
		dst[i].Y *= float32(size) / 112
	}
	src := Template(chip.W, ChipPadding)
	tr, err := EstimateSimilarity(src[:], dst[:])
	require.NoError(t, err)
	out := infer.NewImage(size, size)
	require.NoError(t, Warp(out, chip, tr))
	return out
}

// TestMobileFaceNetONNX runs a second, unrelated embedder through the same
// interface: MobileFaceNet (512-d) imported from ONNX, a test fixture only.
func TestMobileFaceNetONNX(t *testing.T) {
	path := filepath.Join(modelDir(t, "faceplugin"), "fr_feature.onnx")
	g, err := onnx.ImportFile(path, onnx.Options{Meta: infer.Meta{
		Name:         "mobilefacenet",
		Source:       "faceplugin-face-recognition-js@0.0.1 model/fr_feature.onnx",
		Mean:         [3]float32{127.5, 127.5, 127.5},
		Scale:        [3]float32{1.0 / 128, 1.0 / 128, 1.0 / 128},
		ChannelOrder: "RGB",
	}})
	require.NoError(t, err)
	e, err := NewGraphEmbedder("mobilefacenet", g, infer.Options{Precision: infer.Float32, Threads: 2})
	require.NoError(t, err)
	defer e.Close()
	var _ Embedder = e
	t.Logf("MobileFaceNet: input %d, %d-d", e.InputSize(), e.Dim())
	set := loadJohns(t)
	for i := range set {
		set[i].img = reframe(t, set[i].img, e.InputSize())
	}
	emb, labels, keys := embedAll(t, e, set)
	r := Evaluate(emb, labels, keys, 0)
	t.Logf("MobileFaceNet float on johns (ArcFace-framed chips): AUC %.4f EER %.4f TAR@FAR1%% %.4f rank1 LOO %.4f one-shot %.4f (EER threshold %.4f)",
		r.AUC, r.EER, r.TAR1e2, r.Rank1LOO, r.Rank1One, r.EERThreshold)
	assert.Equal(t, 512, e.Dim())
	assert.Greater(t, r.AUC, 0.9)
}
