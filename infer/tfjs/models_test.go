package tfjs

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/infer"
)

// modelDir finds the model cache as DEVELOPERS.md says: $VIGIL_MODELS, or
// models/cache next to go.mod.
func modelDir(t testing.TB, sub string) string {
	t.Helper()
	root := os.Getenv("VIGIL_MODELS")
	if root == "" {
		root = filepath.Join(repoRoot(t), "models", "cache")
	}
	d := filepath.Join(root, sub)
	_, err := os.Stat(d)
	require.NoError(t, err, "model folder %s is missing: run scripts/fetch-models.sh", d)
	return d
}

// repoRoot is the folder holding go.mod, above the working directory.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, parent, dir, "no go.mod above the working directory")
		dir = parent
	}
}

func shapesOf(t *testing.T, g *infer.Graph) map[string]infer.Shape {
	t.Helper()
	s, err := g.Check()
	require.NoError(t, err)
	return s
}

func TestShapes(t *testing.T) {
	g, err := TinyFaceDetector(modelDir(t, "face-api"))
	require.NoError(t, err)
	require.Equal(t, infer.Shape{1, 13, 13, 25}, shapesOf(t, g)[g.Outputs[0]])

	g, err = FaceRecognition(modelDir(t, "face-api"))
	require.NoError(t, err)
	require.Equal(t, infer.Shape{1, 1, 1, 128}, shapesOf(t, g)[g.Outputs[0]])

	p, r, o, err := MTCNN(modelDir(t, "mtcnn"))
	require.NoError(t, err)
	sp := shapesOf(t, p)
	require.Equal(t, infer.Shape{1, 1, 1, 2}, sp["prob"])
	require.Equal(t, infer.Shape{1, 1, 1, 4}, sp["reg"])
	sr := shapesOf(t, r)
	require.Equal(t, infer.Shape{1, 1, 1, 2}, sr["prob"])
	so := shapesOf(t, o)
	require.Equal(t, infer.Shape{1, 1, 1, 10}, so["landmarks"])
}

// TestFormatRoundTrip: every graph survives the .vq format with its metadata.
func TestFormatRoundTrip(t *testing.T) {
	p, r, o, err := MTCNN(modelDir(t, "mtcnn"))
	require.NoError(t, err)
	tiny, err := TinyFaceDetector(modelDir(t, "face-api"))
	require.NoError(t, err)
	rec, err := FaceRecognition(modelDir(t, "face-api"))
	require.NoError(t, err)
	for _, g := range []*infer.Graph{p, r, o, tiny, rec} {
		var buf bytes.Buffer
		require.NoError(t, infer.Encode(&buf, g), g.Meta.Name)
		back, err := infer.Decode(buf.Bytes())
		require.NoError(t, err, g.Meta.Name)
		assert.Equal(t, g.Meta, back.Meta)
		assert.Equal(t, g.Outputs, back.Outputs)
		require.Len(t, back.Nodes, len(g.Nodes))
		t.Logf("%s: %d nodes, %d bytes as .vq (float)", g.Meta.Name, len(g.Nodes), buf.Len())
	}
}
