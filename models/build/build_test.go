package build

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/detect"
	"github.com/vigil-edge/vigil/face"
	"github.com/vigil-edge/vigil/infer"
	"github.com/vigil-edge/vigil/infer/tfjs"
	"github.com/vigil-edge/vigil/models"
	"github.com/vigil-edge/vigil/quant"
)

func config(t *testing.T) *Config {
	cache, err := models.CacheDir()
	require.NoError(t, err)
	td := filepath.Join(filepath.Dir(filepath.Dir(cache)), "..", "shared", "testdata")
	require.DirExists(t, td)
	return &Config{Cache: cache, Testdata: td, Out: t.TempDir()}
}

// The committed embedded models are exactly what `make models` makes.
func TestEmbeddedModelsAreReproducible(t *testing.T) {
	c := config(t)
	require.NoError(t, Run(c))
	for _, tg := range Targets() {
		got, err := os.ReadFile(filepath.Join(c.Out, tg.Name+".vq"))
		require.NoError(t, err)
		want, err := models.Bytes(tg.Name)
		require.NoError(t, err, "models/embed/%s.vq is not committed: run make models", tg.Name)
		assert.True(t, string(got) == string(want), "%s: rebuilt file differs from models/embed (run make models and commit)", tg.Name)
	}
}

// Issue 2's target: the int8 recognition network agrees with float (mean
// cosine >= 0.99) on the johns photographs, which calibration never saw.
func TestEmbeddedRecognitionInt8AgreesWithFloat(t *testing.T) {
	c := config(t)
	fg, err := tfjs.FaceRecognition(filepath.Join(c.Cache, "face-api"))
	require.NoError(t, err)
	qg, err := models.Load(models.FaceRecognition)
	require.NoError(t, err)
	chips, err := images(filepath.Join(c.Testdata, "johns"))
	require.NoError(t, err)
	xs, err := face.CalibrationInputs(fg, chips)
	require.NoError(t, err)
	mf, err := infer.NewModel(fg, infer.Options{Precision: infer.Float32})
	require.NoError(t, err)
	mq, err := infer.NewModel(qg, infer.Options{Precision: infer.Int8})
	require.NoError(t, err)
	sf, sq := mf.NewSession(), mq.NewSession()
	defer sf.Close()
	defer sq.Close()
	var sum, worst float64 = 0, 1
	for _, x := range xs {
		copy(sf.Input(0), x)
		copy(sq.Input(0), x)
		require.NoError(t, sf.Run())
		require.NoError(t, sq.Run())
		cos := quant.Cosine(sf.Output(0), sq.Output(0))
		sum += cos
		worst = min(worst, cos)
	}
	mean := sum / float64(len(xs))
	t.Logf("face-recognition int8 vs float on %d johns chips: mean cosine %.5f, worst %.5f", len(xs), mean, worst)
	assert.GreaterOrEqual(t, mean, 0.99)
}

// Issue 2's target: the embedded int8 detector finds the same faces as the
// float one on testdata/faces: every face of either matches one of the other
// with IoU >= 0.8.
func TestEmbeddedMTCNNInt8FindsTheFloatFaces(t *testing.T) {
	c := config(t)
	open := func(p infer.Precision) detect.Detector {
		d, err := detect.Open(detect.NameMTCNN, detect.Config{Options: detect.Options{Precision: p, Threads: 1}, Models: c.Cache})
		require.NoError(t, err)
		return d
	}
	fd, qd := open(infer.Float32), open(infer.Int8)
	defer fd.Close()
	defer qd.Close()
	ds, err := detect.ReadImglab(filepath.Join(c.Testdata, "faces", "training.xml"))
	require.NoError(t, err)
	paths := []string{filepath.Join(c.Testdata, "faces", "dogs.jpg")}
	for _, li := range ds.Images {
		paths = append(paths, li.Path)
	}
	matched, total, worst := 0, 0, float32(1)
	for _, p := range paths {
		im, err := infer.LoadImage(p)
		require.NoError(t, err)
		fl, err := fd.Detect(im)
		require.NoError(t, err)
		q, err := qd.Detect(im)
		require.NoError(t, err)
		assert.Equal(t, len(fl), len(q), "%s: float finds %d faces, int8 %d", filepath.Base(p), len(fl), len(q))
		for _, a := range fl {
			best := float32(0)
			for _, b := range q {
				best = max(best, detect.IoU(a.Box, b.Box))
			}
			total++
			if best >= 0.8 {
				matched++
			}
			worst = min(worst, best)
		}
	}
	t.Logf("MTCNN int8 vs float on %d photographs: %d of %d float faces matched at IoU >= 0.8 (worst IoU %.3f)", len(paths), matched, total, worst)
	assert.Equal(t, total, matched)
}
