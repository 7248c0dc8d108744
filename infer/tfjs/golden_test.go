package tfjs

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/infer"
)

// golden.json holds the outputs of the packages' own JavaScript on the inputs
// in testdata (see testdata/README.md for how it was made).
type goldenTensor struct {
	Shape []int     `json:"shape"`
	Data  []float32 `json:"data"`
}

type goldenCase struct {
	Input      string                  `json:"input"`
	InputShape infer.Shape             `json:"input_shape"`
	Outputs    map[string]goldenTensor `json:"outputs"`
}

func loadGolden(t *testing.T) map[string]goldenCase {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "golden.json"))
	require.NoError(t, err)
	var g map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &g))
	out := map[string]goldenCase{}
	for k, v := range g {
		if k == "generator" {
			continue
		}
		var c goldenCase
		require.NoError(t, json.Unmarshal(v, &c), k)
		out[k] = c
	}
	return out
}

// runGolden runs g in float32 on the golden case's pixels, preprocessed with
// the graph's own Meta (mean, scale, channel order), and returns the outputs by name.
func runGolden(t *testing.T, g *infer.Graph, c goldenCase) map[string][]float32 {
	t.Helper()
	pix, err := os.ReadFile(filepath.Join("testdata", c.Input))
	require.NoError(t, err)
	require.Equal(t, c.InputShape.Elems(), len(pix), c.Input)
	m, err := infer.NewModel(g, infer.Options{Precision: infer.Float32})
	require.NoError(t, err)
	if m.InputShape(0) != c.InputShape {
		m, err = m.Reshape(c.InputShape)
		require.NoError(t, err)
	}
	s := m.NewSession()
	defer s.Close()
	in := s.Input(0)
	require.Len(t, in, len(pix))
	meta := g.Meta
	if strings.HasPrefix(meta.Name, "mtcnn") {
		// face-api feeds its MTCNN BGR (see MTCNN): so did the golden run.
		meta.ChannelOrder = "BGR"
	}
	for i := 0; i < len(pix); i += 3 {
		px := [3]float32{float32(pix[i]), float32(pix[i+1]), float32(pix[i+2])}
		if meta.ChannelOrder == "BGR" {
			px[0], px[2] = px[2], px[0]
		}
		for ch := range 3 {
			in[i+ch] = (px[ch] - meta.Mean[ch]) * meta.Scale[ch]
		}
	}
	require.NoError(t, s.Run())
	out := map[string][]float32{}
	for i, name := range g.Outputs {
		out[name] = append([]float32(nil), s.Output(i)...)
	}
	return out
}

// assertClose compares got with want element by element and logs the max
// absolute difference.
func assertClose(t *testing.T, what string, want, got []float32, tol float64) {
	t.Helper()
	require.Len(t, got, len(want), what)
	var worst float64
	at := 0
	for i := range want {
		d := math.Abs(float64(want[i]) - float64(got[i]))
		if d > worst || math.IsNaN(d) {
			worst, at = d, i
		}
	}
	t.Logf("%s: %d values, max abs diff vs JS %.3g (at %d: JS %g, Go %g)", what, len(want), worst, at, want[at], got[at])
	assert.LessOrEqual(t, worst, tol, "%s: max abs diff at %d", what, at)
}

// transposeHW swaps the spatial axes of an [1, A, B, C] tensor.
func transposeHW(x []float32, a, b, c int) []float32 {
	out := make([]float32, len(x))
	for i := range a {
		for j := range b {
			copy(out[(j*a+i)*c:(j*a+i+1)*c], x[(i*b+j)*c:(i*b+j+1)*c])
		}
	}
	return out
}

func TestGoldenTinyFaceDetector(t *testing.T) {
	c := loadGolden(t)["tiny_face_detector"]
	g, err := TinyFaceDetector(modelDir(t, "face-api"))
	require.NoError(t, err)
	out := runGolden(t, g, c)
	want := c.Outputs["grid"]
	require.Equal(t, []int{1, 5, 5, 25}, want.Shape)
	assertClose(t, "tiny face detector grid", want.Data, out["grid"], 1e-3)
}

func TestGoldenFaceRecognition(t *testing.T) {
	c := loadGolden(t)["face_recognition"]
	g, err := FaceRecognition(modelDir(t, "face-api"))
	require.NoError(t, err)
	out := runGolden(t, g, c)
	assertClose(t, "face recognition descriptor", c.Outputs["descriptor"].Data, out["descriptor"], 1e-4)
}

func TestGoldenMTCNN(t *testing.T) {
	gold := loadGolden(t)
	p, r, o, err := MTCNN(modelDir(t, "mtcnn"))
	require.NoError(t, err)

	c := gold["mtcnn_pnet"]
	out := runGolden(t, p, c)
	// face-api's P-Net grid is [1, W', H', C]; ours is [1, H', W', C].
	ps := c.Outputs["prob"].Shape
	require.Equal(t, []int{1, 23, 15, 2}, ps)
	assertClose(t, "P-Net prob", transposeHW(c.Outputs["prob"].Data, ps[1], ps[2], 2), out["prob"], 1e-5)
	assertClose(t, "P-Net reg", transposeHW(c.Outputs["reg"].Data, ps[1], ps[2], 4), out["reg"], 1e-4)

	c = gold["mtcnn_rnet"]
	out = runGolden(t, r, c)
	assertClose(t, "R-Net prob[1]", c.Outputs["prob1"].Data, out["prob"][1:], 1e-5)
	assertClose(t, "R-Net reg", c.Outputs["reg"].Data, out["reg"], 1e-4)

	c = gold["mtcnn_onet"]
	out = runGolden(t, o, c)
	assertClose(t, "O-Net prob[1]", c.Outputs["prob1"].Data, out["prob"][1:], 1e-5)
	assertClose(t, "O-Net reg", c.Outputs["reg"].Data, out["reg"], 1e-4)
	assertClose(t, "O-Net landmarks", c.Outputs["landmarks"].Data, out["landmarks"], 1e-4)
}
