package detect

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/infer"
	"github.com/vigil-edge/vigil/infer/tfjs"
)

func tinyGraph(t testing.TB) *infer.Graph {
	t.Helper()
	g, err := tfjs.TinyFaceDetector(cacheDir(t, "face-api"))
	require.NoError(t, err)
	return g
}

func TestTinyFloat(t *testing.T) {
	g := tinyGraph(t)
	ds := trainingSet(t)
	for _, size := range []int{416, 608} {
		d, err := NewTinyFaceDetector(g, TinyOptions{Options: Options{Precision: infer.Float32}, InputSize: size})
		require.NoError(t, err)
		dets := runOn(t, d, ds)
		res, err := Evaluate(ds, dets, 0.5)
		require.NoError(t, err)
		res.Detector = "tiny float32"
		t.Log(size, res)
		for i, dd := range dets {
			for _, x := range dd {
				t.Logf("%d %+v %.2f", i, x.Box, x.Score)
			}
		}
		d.Close()
	}
}
