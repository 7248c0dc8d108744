package detect

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/infer"
)

// TestMTCNN: the default detector, against the targets (recall and
// precision >= 0.9, nothing on dogs.jpg, int8 AP within 0.01 of float).
// Measured (percentile calibration on johns): float32 and int8 both tp 18,
// fp 0 (precision 1, recall 1, AP 1) and nothing on dogs.jpg. With entropy
// calibration int8 is the same; with minmax it misses one face (AP 0.944).
func TestMTCNN(t *testing.T) {
	evalBoth(t, "mtcnn", func(t *testing.T, p infer.Precision) Detector {
		return openCfg(t, NameMTCNN, p, Config{})
	}, target{recall: both(1), precision: both(1), ap: both(1), maxAPDrop: 0.01, dogsClean: true})
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

// frame640 is 2007_007763.jpg (seven faces of 37-45 px) resized to 640x480.
func frame640(b testing.TB) *infer.Image {
	src := loadShared(b, "faces/2007_007763.jpg")
	out := infer.NewImage(640, 480)
	sx, sy := float32(src.W)/640, float32(src.H)/480
	for y := range 480 {
		for x := range 640 {
			r, g, bl := src.At(int(float32(x)*sx), int(float32(y)*sy))
			o := 3 * (y*640 + x)
			out.Pix[o], out.Pix[o+1], out.Pix[o+2] = r, g, bl
		}
	}
	return out
}

// BenchmarkMTCNN: the cascade on a 640x480 frame with min face 40 px, as
// `vigil bench` reports it.
func BenchmarkMTCNN(b *testing.B) {
	frame := frame640(b)
	for _, p := range []infer.Precision{infer.Float32, infer.Int8} {
		b.Run(p.String(), func(b *testing.B) {
			d := openMTCNNBench(b, p)
			defer d.Close()
			dets, err := d.Detect(frame)
			require.NoError(b, err)
			b.ReportMetric(float64(len(dets)), "faces")
			for b.Loop() {
				if _, err := d.Detect(frame); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func openMTCNNBench(b *testing.B, p infer.Precision) Detector {
	c := Config{Options: Options{Precision: p}, MinFace: 40, Models: cacheDir(b, ".")}
	if p == infer.Int8 {
		c.Calibration = johnsImages(b)
	}
	d, err := Open(NameMTCNN, c)
	require.NoError(b, err)
	return d
}
