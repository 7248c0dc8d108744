package detect

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/infer"
)

// TestMTCNN: the default detector. Measured (percentile calibration on
// johns): float32 and int8 both tp 18, fp 0 (precision 1, recall 1, AP 1)
// and nothing on dogs.jpg.
func TestMTCNN(t *testing.T) {
	evalBoth(t, "mtcnn", func(t *testing.T, p infer.Precision) Detector {
		return openCfg(t, NameMTCNN, p, Config{})
	}, target{minRecall: 1, minPrecision: 1, minAP: 1, maxAPDrop: 0.01, dogsClean: true})
}

func TestMTCNNLandmarks(t *testing.T) {
	p, r, o := mtcnnGraphs(t)
	m, err := NewMTCNN(p, r, o, MTCNNOptions{Options: Options{Precision: infer.Float32}})
	require.NoError(t, err)
	defer m.Close()
	im := loadShared(t, "faces/2008_001322.jpg")
	dets, err := m.Detect(im)
	require.NoError(t, err)
	require.Len(t, dets, 3)
	for i, d := range dets {
		if i > 0 {
			assert.GreaterOrEqual(t, dets[i-1].Score, d.Score, "sorted by score")
		}
		require.Len(t, d.Landmarks, 5)
		b := d.Box
		for _, l := range d.Landmarks {
			assert.True(t, l[0] >= b.X && l[0] <= b.X2() && l[1] >= b.Y && l[1] <= b.Y2(), "landmark %v outside %+v", l, b)
		}
		le, re, nose, lm, rm := d.Landmarks[0], d.Landmarks[1], d.Landmarks[2], d.Landmarks[3], d.Landmarks[4]
		assert.Less(t, le[0], re[0], "left eye left of right eye")
		assert.Less(t, lm[0], rm[0], "left mouth corner left of right")
		assert.Less(t, max(le[1], re[1]), nose[1], "eyes above the nose")
		assert.Less(t, nose[1], min(lm[1], rm[1]), "nose above the mouth")
	}
}

func TestMTCNNOptions(t *testing.T) {
	p, r, o := mtcnnGraphs(t)
	_, err := NewMTCNN(p, nil, o, MTCNNOptions{})
	assert.Error(t, err)
	m, err := NewMTCNN(p, r, o, MTCNNOptions{Options: Options{Precision: infer.Float32}, MinFace: 100})
	require.NoError(t, err)
	defer m.Close()
	// Faces of 37-45 px are below a 100 px minimum.
	dets, err := m.Detect(loadShared(t, "faces/2007_007763.jpg"))
	require.NoError(t, err)
	assert.Empty(t, dets)
	// An image smaller than the minimum face: nothing, no error.
	dets, err = m.Detect(infer.NewImage(50, 50))
	require.NoError(t, err)
	assert.Empty(t, dets)
	_, err = NewMTCNN(p, r, o, MTCNNOptions{Options: Options{Precision: infer.Int8}})
	assert.ErrorIs(t, err, infer.ErrMissingRange, "int8 without calibration")
}
