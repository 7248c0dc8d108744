package main

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/daemon"
	"github.com/vigil-edge/vigil/detect"
	"github.com/vigil-edge/vigil/face"
	"github.com/vigil-edge/vigil/infer"
)

// The daemon's recogniser casts no vote for a face below thresholds.min_sharpness (the
// default config's minimum), names a sharp one, and follows a reloaded minimum.
func TestRunRecognizerQuality(t *testing.T) {
	emb, err := openEmbedder(faceDefaultModel, infer.Int8, 1, "")
	require.NoError(t, err)
	defer emb.Close()
	var q atomic.Pointer[face.QualityMin]
	var m atomic.Pointer[face.Matcher]
	e := &runEngine{}
	cfg := daemon.Default()
	e.setQuality(&cfg)
	q.Store(e.quality.Load())
	r := &runRecognizer{emb: emb, m: &m, q: &q}

	photo, err := infer.LoadImage(johnsPhotos(t, "John_Salley")[0])
	require.NoError(t, err)
	d := detect.Detection{Box: detect.Box{X: 20, Y: 20, W: float32(photo.W - 40), H: float32(photo.H - 40)}, Score: 0.99}
	name, _, err := r.Recognize(photo, d)
	require.NoError(t, err)
	assert.Equal(t, daemon.Unknown, name, "no gallery: unknown")

	flat := infer.NewImage(photo.W, photo.H)
	for i := range flat.Pix {
		flat.Pix[i] = 90
	}
	_, _, err = r.Recognize(flat, d)
	require.Error(t, err)
	assert.True(t, errors.Is(err, face.ErrLowQuality), "%v", err)
	assert.Contains(t, err.Error(), "too blurred")

	cfg.Thresholds.MinSharpness = 0
	e.setQuality(&cfg)
	q.Store(e.quality.Load())
	name, _, err = r.Recognize(flat, d)
	require.NoError(t, err, "min_sharpness 0 accepts any face")
	assert.Equal(t, daemon.Unknown, name)
}
