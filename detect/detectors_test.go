package detect

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/infer"
)

// The figures the detectors reach on ../shared/testdata/faces/training.xml
// (18 faces in 4 PASCAL VOC photographs, 37-90 px) at IoU 0.5, int8
// calibrated on ../shared/testdata/johns (never on the evaluation photos).
// Each test logs what it measures and asserts what was measured when it was
// written (figures in the comments), so a regression fails.

type target struct {
	minRecall, minPrecision, minAP float64
	maxAPDrop                      float64 // int8 AP may be this much below float
	dogsClean                      bool    // no detection at all on dogs.jpg
}

// evalBoth evaluates a detector in float32 and int8 (open builds it for a
// precision; int8 calibration is open's business) and checks t.
func evalBoth(t *testing.T, name string, open func(t *testing.T, p infer.Precision) Detector, want target) {
	ds := trainingSet(t)
	dogs := loadShared(t, "faces/dogs.jpg")
	var ap [2]float64
	for i, p := range []infer.Precision{infer.Float32, infer.Int8} {
		d := open(t, p)
		res, err := Evaluate(ds, runOn(t, d, ds), 0.5)
		require.NoError(t, err)
		res.Detector = name + " " + p.String()
		onDogs, err := d.Detect(dogs)
		require.NoError(t, err)
		d.Close()
		t.Logf("%s; dogs.jpg: %d detections", res, len(onDogs))
		assert.GreaterOrEqual(t, res.Recall, want.minRecall, "%s recall", res.Detector)
		assert.GreaterOrEqual(t, res.Precision, want.minPrecision, "%s precision", res.Detector)
		assert.GreaterOrEqual(t, res.AP, want.minAP, "%s AP", res.Detector)
		if want.dogsClean {
			assert.Empty(t, onDogs, "%s finds faces on dogs.jpg", res.Detector)
		}
		ap[i] = res.AP
	}
	t.Logf("%s: AP float32 %.4f, int8 %.4f, drop %.4f", name, ap[0], ap[1], ap[0]-ap[1])
	assert.LessOrEqual(t, ap[0]-ap[1], want.maxAPDrop, "%s int8 AP drop", name)
}

func openCfg(t *testing.T, name string, p infer.Precision, c Config) Detector {
	t.Helper()
	c.Precision = p
	c.Models = cacheDir(t, ".")
	if p == infer.Int8 {
		c.Calibration = johnsImages(t)
	}
	d, err := Open(name, c)
	require.NoError(t, err)
	return d
}

func TestUltraFace(t *testing.T) {
	evalBoth(t, "ultraface", func(t *testing.T, p infer.Precision) Detector {
		return openCfg(t, NameUltraFace, p, Config{})
	}, target{maxAPDrop: 1})
}

func TestBlazeFace(t *testing.T) {
	evalBoth(t, "blazeface", func(t *testing.T, p infer.Precision) Detector {
		return openCfg(t, NameBlazeFace, p, Config{})
	}, target{maxAPDrop: 1})
}

func TestTinyFaceDetector(t *testing.T) {
	evalBoth(t, "tiny 416", func(t *testing.T, p infer.Precision) Detector {
		return openCfg(t, NameTiny, p, Config{})
	}, target{maxAPDrop: 1})
	evalBoth(t, "tiny 608", func(t *testing.T, p infer.Precision) Detector {
		return openCfg(t, NameTiny, p, Config{InputSize: 608})
	}, target{maxAPDrop: 1})
}

func TestSlidingWindowPNet(t *testing.T) {
	evalBoth(t, "sliding window P-Net", func(t *testing.T, p infer.Precision) Detector {
		pn, _, _ := mtcnnGraphs(t)
		o := WindowOptions{Options: Options{Precision: p}, MinFace: 20, Score: "prob", Regression: "reg", Threshold: 0.9}
		g := pn
		if p == infer.Int8 {
			r, err := CalibrateWindow(pn, johnsImages(t), "percentile", o)
			require.NoError(t, err)
			g = WithRanges(pn, r)
		}
		d, err := NewSlidingWindow(g, o)
		require.NoError(t, err)
		return d
	}, target{maxAPDrop: 1})
}
