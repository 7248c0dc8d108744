package tfjs

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/infer"
)

// preprocessRaw turns golden raw RGB pixels into the graph's input.
func preprocessRaw(t *testing.T, meta infer.Meta, file string) []float32 {
	t.Helper()
	pix, err := os.ReadFile(filepath.Join("testdata", file))
	require.NoError(t, err)
	x := make([]float32, len(pix))
	for i := 0; i < len(pix); i += 3 {
		px := [3]float32{float32(pix[i]), float32(pix[i+1]), float32(pix[i+2])}
		if meta.ChannelOrder == "BGR" {
			px[0], px[2] = px[2], px[0]
		}
		for c := range 3 {
			x[i+c] = (px[c] - meta.Mean[c]) * meta.Scale[c]
		}
	}
	return x
}

func runOnce(t *testing.T, g *infer.Graph, p infer.Precision, x []float32) [][]float32 {
	t.Helper()
	m, err := infer.NewModel(g, infer.Options{Precision: p})
	require.NoError(t, err)
	s := m.NewSession()
	defer s.Close()
	copy(s.Input(0), x)
	require.NoError(t, s.Run())
	var out [][]float32
	for i := range g.Outputs {
		out = append(out, append([]float32(nil), s.Output(i)...))
	}
	return out
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

// TestInt8 checks that every graph quantizes and runs on the int8 executor
// (calibrated on its golden input alone) and stays close to float.
func TestInt8(t *testing.T) {
	if testing.Short() {
		t.Skip("int8 calibration of the recognition net takes a few seconds; run without -short")
	}
	p, r, o, err := MTCNN(modelDir(t, "mtcnn"))
	require.NoError(t, err)
	tiny, err := TinyFaceDetector(modelDir(t, "face-api"))
	require.NoError(t, err)
	rec, err := FaceRecognition(modelDir(t, "face-api"))
	require.NoError(t, err)
	for _, c := range []struct {
		g     *infer.Graph
		input string
		shape infer.Shape
		min   float64 // cosine similarity of every output, int8 vs float
	}{
		{tiny, "tiny_160x160.rgb", infer.Shape{1, 160, 160, 3}, 0.98},
		{rec, "facerec_150x150.rgb", infer.Shape{1, 150, 150, 3}, 0.99},
		{p, "pnet_40x56.rgb", infer.Shape{1, 40, 56, 3}, 0.98},
		{r, "rnet_24x24.rgb", infer.Shape{1, 24, 24, 3}, 0.98},
		{o, "onet_48x48.rgb", infer.Shape{1, 48, 48, 3}, 0.98},
	} {
		t.Run(c.g.Meta.Name, func(t *testing.T) {
			g := *c.g
			g.Inputs = []infer.Input{{Name: g.Inputs[0].Name, Shape: c.shape}}
			x := preprocessRaw(t, g.Meta, c.input)
			ranges, err := infer.Calibrate(&g, [][]float32{x}, "minmax")
			require.NoError(t, err)
			g.Ranges = ranges
			f := runOnce(t, &g, infer.Float32, x)
			q := runOnce(t, &g, infer.Int8, x)
			for i, name := range g.Outputs {
				cs := cosine(f[i], q[i])
				t.Logf("%s: int8 vs float cosine %.5f", name, cs)
				assert.GreaterOrEqual(t, cs, c.min, name)
			}
		})
	}
}
