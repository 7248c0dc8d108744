package detect

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/infer"
)

// The accuracy anchor: face-api.js's own SSD MobileNetV1 face
// detector (@vladmandic/face-api@1.7.15, tfjs 4.22.0 CPU backend, Node 20),
// run by hand over the photographs of ../shared/testdata/faces with
// minConfidence 0.05; testdata/faceapi-ssd/README.md says how. The test reads
// its boxes, scores them with Evaluate as our own detectors are scored, and
// asserts that the default detector (MTCNN, int8) is at least as good.

// anchorFile is testdata/faceapi-ssd/detections.json.
type anchorFile struct {
	Generator struct {
		Detector string `json:"detector"`
		Options  struct {
			MinConfidence float64 `json:"minConfidence"`
			MaxResults    int     `json:"maxResults"`
		} `json:"options"`
		FaceAPI string `json:"faceapi"`
		TFJS    string `json:"tfjs"`
		Backend string `json:"backend"`
		Node    string `json:"node"`
	} `json:"generator"`
	Images []struct {
		File       string `json:"file"` // relative to ../shared/testdata/faces
		Width      int    `json:"width"`
		Height     int    `json:"height"`
		RGBSHA256  string `json:"rgb_sha256"` // of the raw RGB face-api was given
		Detections []struct {
			X, Y, W, H float32 // original-image pixels
			Score      float32
		} `json:"detections"`
	} `json:"images"`
}

func loadAnchor(t testing.TB) *anchorFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "faceapi-ssd", "detections.json"))
	require.NoError(t, err)
	var a anchorFile
	require.NoError(t, json.Unmarshal(data, &a))
	return &a
}

// anchorDetections returns the anchor's detections with score >= minScore
// for each of files (names relative to the faces folder), in that order.
func anchorDetections(t testing.TB, a *anchorFile, files []string, minScore float32) [][]Detection {
	t.Helper()
	out := make([][]Detection, len(files))
	for i, f := range files {
		found := false
		for _, im := range a.Images {
			if im.File != f {
				continue
			}
			found = true
			out[i] = []Detection{}
			for _, d := range im.Detections {
				if d.Score >= minScore {
					out[i] = append(out[i], Detection{Box: Box{X: d.X, Y: d.Y, W: d.W, H: d.H}, Score: d.Score})
				}
			}
		}
		require.True(t, found, "detections.json has no entry for %s: regenerate it (testdata/faceapi-ssd/README.md)", f)
	}
	return out
}

// TestAnchorSSD compares vigil's detectors with face-api's SSD on
// faces/training.xml at IoU 0.5.
//
// Measured, SSD (face-api 1.7.15, tfjs 4.22.0 cpu, Node v20.20.2):
//   - all boxes >= 0.05: tp 18, fp 156, fn 0 (P 0.1034, R 1, AP 0.9971);
//   - face-api's default minConfidence 0.5: tp 17, fp 0, fn 1 (P 1,
//     R 0.9444, AP 0.9444): the face at (232, 218) 63x63 in 2008_001322.jpg
//     scores 0.451, below it; one false positive (a 9x15 px box in
//     2008_001009.jpg, 0.480) ranks above that face, hence AP 0.9971 with
//     every box;
//   - dogs.jpg: 5 boxes >= 0.05, one >= 0.5 (0.790, 318x321 px at (485, 536)).
//
// Ours, at their operating thresholds: MTCNN float32, int8 calibrated on
// johns (percentile, as the other detector tests) and the embedded int8
// models (the deployed default) all tp 18, fp 0, fn 0 (P 1, R 1, AP 1) and
// nothing on dogs.jpg: at least as good as the anchor by every figure, so
// these are asserted. The tiny face detector, logged only (its floors, with
// johns calibration, are TestTinyFaceDetector's), from the embedded int8
// model (calibration at 416 and 608 here would double this test's time):
// 416 tp 7, fp 4 (P 0.636, R 0.389, AP 0.339); 608 tp 11, fp 4 (P 0.733,
// R 0.611, AP 0.448); nothing on dogs.jpg.
//
// Fairness: the SSD list goes down to 0.05, so its AP sweeps almost its whole
// score range; MTCNN's stops at its O-Net threshold (0.7), which can only
// lower its AP.
func TestAnchorSSD(t *testing.T) {
	a := loadAnchor(t)
	g := a.Generator
	t.Logf("anchor: %s, face-api %s, tfjs %s (%s backend), Node %s, minConfidence %g, maxResults %d",
		g.Detector, g.FaceAPI, g.TFJS, g.Backend, g.Node, g.Options.MinConfidence, g.Options.MaxResults)
	require.Equal(t, "1.7.15", g.FaceAPI)
	require.Equal(t, "cpu", g.Backend)
	require.InDelta(t, 0.05, g.Options.MinConfidence, 1e-9)

	ds := trainingSet(t)
	files := make([]string, len(ds.Images))
	for i, li := range ds.Images {
		files[i] = filepath.Base(li.Path)
	}
	// face-api must have seen the very pixels our detectors see.
	for _, im := range a.Images {
		pix := loadShared(t, filepath.Join("faces", im.File))
		sum := sha256.Sum256(pix.Pix)
		require.Equal(t, im.RGBSHA256, hex.EncodeToString(sum[:]), "%s: the pixels differ from those face-api was given: regenerate detections.json", im.File)
		require.Equal(t, [2]int{im.Width, im.Height}, [2]int{pix.W, pix.H}, im.File)
	}

	// The anchor, with every box and at face-api's default threshold.
	var anchor [2]Result
	for i, want := range []struct {
		minScore   float32
		tp, fp, fn int
		ap         float64
		dogs       int
	}{
		{minScore: 0.05, tp: 18, fp: 156, fn: 0, ap: 0.9971, dogs: 5},
		{minScore: 0.5, tp: 17, fp: 0, fn: 1, ap: 0.9444, dogs: 1},
	} {
		res, err := Evaluate(ds, anchorDetections(t, a, files, want.minScore), 0.5)
		require.NoError(t, err)
		res.Detector = fmt.Sprintf("face-api SSD MobileNetV1, score >= %g", want.minScore)
		dogs := anchorDetections(t, a, []string{"dogs.jpg"}, want.minScore)[0]
		t.Logf("%s; dogs.jpg: %d detections", res, len(dogs))
		assert.Equal(t, want.tp, res.TP, "%s tp", res.Detector)
		assert.Equal(t, want.fp, res.FP, "%s fp", res.Detector)
		assert.Equal(t, want.fn, res.FN, "%s fn", res.Detector)
		assert.InDelta(t, want.ap, res.AP, 1e-4, "%s AP", res.Detector)
		assert.Len(t, dogs, want.dogs, "%s on dogs.jpg", res.Detector)
		anchor[i] = res
	}

	// Ours.
	dogsImg := loadShared(t, "faces/dogs.jpg")
	run := func(name string, d Detector) Result {
		t.Helper()
		defer d.Close()
		res, err := Evaluate(ds, runOn(t, d, ds), 0.5)
		require.NoError(t, err)
		res.Detector = name
		onDogs, err := d.Detect(dogsImg)
		require.NoError(t, err)
		t.Logf("%s; dogs.jpg: %d detections", res, len(onDogs))
		return res
	}
	// embedded opens a built-in detector from the embedded int8 models
	// (models/embed, calibrated at build time): what the daemon deploys.
	embedded := func(name string, c Config) Detector {
		t.Helper()
		c.Precision = infer.Int8
		d, err := Open(name, c)
		require.NoError(t, err, "embedded int8 %s", name)
		return d
	}
	ours := []Result{
		run("mtcnn int8 (calibrated on johns)", openCfg(t, NameMTCNN, infer.Int8, Config{})),
		run("mtcnn int8 (embedded, the deployed default)", embedded(NameMTCNN, Config{})),
	}
	for _, r := range ours {
		assert.GreaterOrEqual(t, r.AP, anchor[0].AP, "%s AP against the SSD anchor's (every box)", r.Detector)
		assert.GreaterOrEqual(t, r.AP, anchor[1].AP, "%s AP against the SSD anchor's at 0.5", r.Detector)
		assert.GreaterOrEqual(t, r.Recall, anchor[1].Recall, "%s recall against the SSD anchor's at 0.5", r.Detector)
		assert.GreaterOrEqual(t, r.Precision, anchor[1].Precision, "%s precision against the SSD anchor's at 0.5", r.Detector)
		assert.GreaterOrEqual(t, r.Recall, 0.9, "%s recall", r.Detector)
		assert.GreaterOrEqual(t, r.Precision, 0.9, "%s precision", r.Detector)
	}
	// For the record only.
	run("mtcnn float32", openCfg(t, NameMTCNN, infer.Float32, Config{}))
	for _, size := range []int{416, 608} {
		run(fmt.Sprintf("tiny %d int8 (embedded)", size), embedded(NameTiny, Config{InputSize: size}))
	}
}
