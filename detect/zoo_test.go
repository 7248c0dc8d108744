package detect

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/infer"
)

func TestOpen(t *testing.T) {
	models := cacheDir(t, ".")
	_, err := Open("nosuch", Config{Models: models})
	assert.ErrorContains(t, err, `unknown detector "nosuch"`)
	_, err = Open(NameUltraFace, Config{Models: models, Options: Options{Precision: infer.Int8}})
	assert.ErrorIs(t, err, ErrNeedCalibration)
	_, err = Open(NameMTCNN, Config{Models: t.TempDir()})
	assert.Error(t, err, "no MTCNN weights in an empty folder")

	// A .vq file: the decoder follows the model's name.
	dir := t.TempDir()
	tiny := filepath.Join(dir, "tiny.vq")
	require.NoError(t, infer.SaveFile(tiny, tinyGraph(t)))
	d, err := Open(tiny, Config{Models: models})
	require.NoError(t, err)
	assert.IsType(t, &TinyFaceDetector{}, d)
	d.Close()

	// Any other classifier runs as a sliding window.
	pnet, _, _ := mtcnnGraphs(t)
	cls := *pnet
	cls.Meta.Name = "my_classifier"
	cls.Outputs = []string{"prob"}
	path := filepath.Join(dir, "cls.vq")
	require.NoError(t, infer.SaveFile(path, &cls))
	d, err = Open(path, Config{Models: models, MinFace: 40})
	require.NoError(t, err)
	assert.IsType(t, &SlidingWindow{}, d)
	dets, err := d.Detect(loadShared(t, "faces/2008_001009.jpg"))
	require.NoError(t, err)
	assert.NotEmpty(t, dets)
	d.Close()
}
