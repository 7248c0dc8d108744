package detect

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/infer"
)

func TestMTCNNFloat(t *testing.T) {
	p, r, o := mtcnnGraphs(t)
	m, err := NewMTCNN(p, r, o, MTCNNOptions{Options: Options{Precision: infer.Float32}})
	require.NoError(t, err)
	defer m.Close()
	ds := trainingSet(t)
	dets := runOn(t, m, ds)
	for i, d := range dets {
		for _, x := range d {
			t.Logf("%s: %+v %.3f", ds.Images[i].Path, x.Box, x.Score)
		}
	}
	res, err := Evaluate(ds, dets, 0.5)
	require.NoError(t, err)
	res.Detector = "mtcnn float32"
	t.Log(res)
	assert.GreaterOrEqual(t, res.Recall, 0.5)
}
