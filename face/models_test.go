package face

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/infer"
	"github.com/vigil-edge/vigil/infer/tfjs"
	"github.com/vigil-edge/vigil/models"
)

// repoRoot walks up from the working directory to the folder holding go.mod.
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

// modelDir finds a model folder as DEVELOPERS.md says: $VIGIL_MODELS, or
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

func testdata(t testing.TB, sub string) string {
	t.Helper()
	d := filepath.Join(repoRoot(t), "..", "shared", "testdata", sub)
	_, err := os.Stat(d)
	require.NoError(t, err, "test photographs %s are missing", d)
	return d
}

type labelled struct {
	img         *infer.Image
	label, file string
}

// loadJohns reads ../shared/testdata/johns: one folder per identity of
// 150x150 dlib chips, sorted by identity then file name.
func loadJohns(t testing.TB) []labelled {
	t.Helper()
	root := testdata(t, "johns")
	ids, err := os.ReadDir(root)
	require.NoError(t, err)
	var out []labelled
	for _, id := range ids {
		if !id.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(root, id.Name()))
		require.NoError(t, err)
		for _, f := range files {
			im, err := infer.LoadImage(filepath.Join(root, id.Name(), f.Name()))
			require.NoError(t, err)
			out = append(out, labelled{im, id.Name(), f.Name()})
		}
	}
	require.NotEmpty(t, out)
	return out
}

var boxRE = regexp.MustCompile(`<image file='([^']+)'|<box top='(\d+)' left='(\d+)' width='(\d+)' height='(\d+)'`)

// vocFaceCrops box-crops the faces labelled in ../shared/testdata/faces
// (PASCAL VOC photographs, other people than johns): calibration data that
// shares nothing with the evaluation set.
func vocFaceCrops(t testing.TB) []*infer.Image {
	t.Helper()
	dir := testdata(t, "faces")
	xml, err := os.ReadFile(filepath.Join(dir, "training.xml"))
	require.NoError(t, err)
	var crops []*infer.Image
	var cur *infer.Image
	for _, m := range boxRE.FindAllStringSubmatch(string(xml), -1) {
		if m[1] != "" {
			cur, err = infer.LoadImage(filepath.Join(dir, m[1]))
			require.NoError(t, err)
			continue
		}
		v := func(s string) float32 { f, _ := strconv.Atoi(s); return float32(f) }
		c, _, err := CropBox(cur, v(m[3]), v(m[2]), v(m[4]), v(m[5]), BoxMargin, ChipSize)
		require.NoError(t, err)
		crops = append(crops, c, Flip(c))
	}
	require.NotEmpty(t, crops)
	return crops
}

var (
	faceRecOnce  sync.Once
	faceRecGraph *infer.Graph
	faceRecErr   error
	int8Once     sync.Once
	int8Graph    *infer.Graph
	int8Err      error
)

func faceRecognition(t testing.TB) *infer.Graph {
	t.Helper()
	dir := modelDir(t, "face-api")
	faceRecOnce.Do(func() { faceRecGraph, faceRecErr = tfjs.FaceRecognition(dir) })
	require.NoError(t, faceRecErr)
	return faceRecGraph
}

// faceRecognitionInt8 is the face-api ResNet with ranges calibrated
// (percentile) on VOC face crops.
func faceRecognitionInt8(t testing.TB) *infer.Graph {
	t.Helper()
	g := faceRecognition(t)
	crops := vocFaceCrops(t)
	int8Once.Do(func() {
		xs, err := CalibrationInputs(g, crops)
		if err != nil {
			int8Err = err
			return
		}
		r, err := infer.Calibrate(g, xs, "percentile")
		if err != nil {
			int8Err = err
			return
		}
		c := *g
		c.Ranges = r
		int8Graph = &c
	})
	require.NoError(t, int8Err)
	return int8Graph
}

func embedAll(t testing.TB, e Embedder, set []labelled) (emb [][]float32, labels, keys []string) {
	t.Helper()
	for _, s := range set {
		v := make([]float32, e.Dim())
		require.NoError(t, e.Embed(s.img, v))
		emb = append(emb, v)
		labels = append(labels, s.label)
		keys = append(keys, s.file)
	}
	return emb, labels, keys
}

func meanCosine(a, b [][]float32) (mean, minimum float64) {
	minimum = 1
	for i := range a {
		c := 1 - float64(Distance(a[i], b[i]))
		mean += c
		minimum = min(minimum, c)
	}
	return mean / float64(len(a)), minimum
}

// TestJohnsChips measures the face-api ResNet on the johns chips (the
// `vigil eval faces --chips` figures), float and int8, against the
// targets of issue 5.
func TestJohnsChips(t *testing.T) {
	set := loadJohns(t)
	fe, err := NewGraphEmbedder("face-api-resnet128", faceRecognition(t), infer.Options{Precision: infer.Float32, Threads: 2})
	require.NoError(t, err)
	defer fe.Close()
	ie, err := NewGraphEmbedder("face-api-resnet128", faceRecognitionInt8(t), infer.Options{Precision: infer.Int8, Threads: 2})
	require.NoError(t, err)
	defer ie.Close()
	fEmb, labels, keys := embedAll(t, fe, set)
	iEmb, _, _ := embedAll(t, ie, set)
	fr := Evaluate(fEmb, labels, keys, DefaultThreshold)
	ir := Evaluate(iEmb, labels, keys, DefaultThreshold)
	mc, minc := meanCosine(fEmb, iEmb)
	t.Logf("float: %+v", fr)
	t.Logf("int8:  %+v", ir)
	t.Logf("int8 vs float cosine: mean %.4f min %.4f", mc, minc)
	require.Equal(t, 3, fr.Identities)
	require.GreaterOrEqual(t, fr.Rank1One, 0.95)
	require.LessOrEqual(t, fr.EER, 0.05)
	require.GreaterOrEqual(t, ir.Rank1One, 0.95)
	require.LessOrEqual(t, ir.EER, 0.05)
	require.GreaterOrEqual(t, mc, 0.99)
	for _, d := range []struct {
		name string
		f, i float64
	}{{"auc", fr.AUC, ir.AUC}, {"eer", fr.EER, ir.EER}, {"rank1_oneshot", fr.Rank1One, ir.Rank1One}, {"rank1_loo", fr.Rank1LOO, ir.Rank1LOO}} {
		require.InDelta(t, d.f, d.i, 0.01, d.name)
	}
}

// embeddedInt8 is the int8 face-recognition model compiled into vigil.
func embeddedInt8(t testing.TB) *infer.Graph {
	t.Helper()
	g, err := models.Load(models.FaceRecognition)
	require.NoError(t, err, "embedded model: run make models")
	require.NotEmpty(t, g.Ranges)
	return g
}

// TestJohnsChipsEmbeddedInt8 measures the shipped int8 model against the
// float graph from the cache: the figures of `vigil eval faces --chips`.
func TestJohnsChipsEmbeddedInt8(t *testing.T) {
	set := loadJohns(t)
	fe, err := NewGraphEmbedder("face-api-resnet128", faceRecognition(t), infer.Options{Precision: infer.Float32, Threads: 2})
	require.NoError(t, err)
	defer fe.Close()
	ie, err := NewGraphEmbedder("face-api-resnet128", embeddedInt8(t), infer.Options{Precision: infer.Int8, Threads: 2})
	require.NoError(t, err)
	defer ie.Close()
	fEmb, labels, keys := embedAll(t, fe, set)
	iEmb, _, _ := embedAll(t, ie, set)
	fr := Evaluate(fEmb, labels, keys, DefaultThreshold)
	ir := Evaluate(iEmb, labels, keys, DefaultThreshold)
	mc, minc := meanCosine(fEmb, iEmb)
	t.Logf("float:         AUC %.4f EER %.4f TAR@1e-2 %.4f TAR@1e-3 %.4f LOO %.4f one-shot %.4f acc@%.2f %.4f EER-threshold %.4f", fr.AUC, fr.EER, fr.TAR1e2, fr.TAR1e3, fr.Rank1LOO, fr.Rank1One, fr.Threshold, fr.Accuracy, fr.EERThreshold)
	t.Logf("embedded int8: AUC %.4f EER %.4f TAR@1e-2 %.4f TAR@1e-3 %.4f LOO %.4f one-shot %.4f acc@%.2f %.4f EER-threshold %.4f", ir.AUC, ir.EER, ir.TAR1e2, ir.TAR1e3, ir.Rank1LOO, ir.Rank1One, ir.Threshold, ir.Accuracy, ir.EERThreshold)
	t.Logf("embedded int8 vs float cosine: mean %.4f min %.4f", mc, minc)
	require.GreaterOrEqual(t, mc, 0.99)
	for _, d := range []struct {
		name string
		f, i float64
	}{{"auc", fr.AUC, ir.AUC}, {"eer", fr.EER, ir.EER}, {"tar_far_1e-2", fr.TAR1e2, ir.TAR1e2}, {"rank1_oneshot", fr.Rank1One, ir.Rank1One}, {"rank1_loo", fr.Rank1LOO, ir.Rank1LOO}, {"accuracy", fr.Accuracy, ir.Accuracy}} {
		require.InDelta(t, d.f, d.i, 0.01, d.name)
	}
}

// BenchmarkEmbed times embedding one aligned chip, one thread.
func BenchmarkEmbed(b *testing.B) {
	chip := loadJohns(b)[0].img
	for _, c := range []struct {
		name string
		g    *infer.Graph
		p    infer.Precision
	}{{"float32", faceRecognition(b), infer.Float32}, {"int8", embeddedInt8(b), infer.Int8}} {
		b.Run(c.name, func(b *testing.B) {
			e, err := NewGraphEmbedder("x", c.g, infer.Options{Precision: c.p, Threads: 1})
			require.NoError(b, err)
			defer e.Close()
			dst := make([]float32, e.Dim())
			for b.Loop() {
				if err := e.Embed(chip, dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
