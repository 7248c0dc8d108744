package detect

import (
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/infer"
	"github.com/vigil-edge/vigil/models"
)

// cacheDir is the fetched-model folder; tests that need it fail (never skip)
// with the fix when it is missing.
func cacheDir(t testing.TB, sub string) string {
	t.Helper()
	d, err := models.CachePath(sub)
	require.NoError(t, err, "model files for %s are missing: run scripts/fetch-models.sh", sub)
	return d
}

var (
	mtcnnOnce           sync.Once
	mtcnnP, mtcnnR, mtO *infer.Graph
	mtcnnErr            error
)

// mtcnnGraphs loads the MTCNN graphs once per test binary. Callers must not
// modify them (calibration works on clones).
func mtcnnGraphs(t testing.TB) (p, r, o *infer.Graph) {
	t.Helper()
	dir := cacheDir(t, ".")
	mtcnnOnce.Do(func() { mtcnnP, mtcnnR, mtO, mtcnnErr = LoadMTCNN(dir) })
	require.NoError(t, mtcnnErr)
	return mtcnnP, mtcnnR, mtO
}

// trainingSet is ../shared/testdata/faces/training.xml, read.
func trainingSet(t testing.TB) *Dataset {
	t.Helper()
	ds, err := ReadImglab(filepath.Join(sharedTestdata(t), "faces", "training.xml"))
	require.NoError(t, err)
	return ds
}

// runOn runs d over every image of ds.
func runOn(t testing.TB, d Detector, ds *Dataset) [][]Detection {
	t.Helper()
	out := make([][]Detection, len(ds.Images))
	for i, li := range ds.Images {
		im, err := infer.LoadImage(li.Path)
		require.NoError(t, err)
		out[i], err = d.Detect(im)
		require.NoError(t, err, li.Path)
	}
	return out
}

func loadShared(t testing.TB, rel string) *infer.Image {
	t.Helper()
	im, err := infer.LoadImage(filepath.Join(sharedTestdata(t), rel))
	require.NoError(t, err)
	return im
}

// johnsImages are the calibration photographs (never the evaluation set).
func johnsImages(t testing.TB) []*infer.Image {
	t.Helper()
	var out []*infer.Image
	paths, err := filepath.Glob(filepath.Join(sharedTestdata(t), "johns", "*", "*.jpg"))
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	for _, p := range paths {
		im, err := infer.LoadImage(p)
		require.NoError(t, err)
		out = append(out, im)
	}
	return out
}
