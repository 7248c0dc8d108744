package infer_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/detect"
	"github.com/vigil-edge/vigil/infer"
	"github.com/vigil-edge/vigil/models"
)

// realModel compiles a real network at int8, one thread, on one photo from
// the shared test data (UltraFace is calibrated on that photo, as vigil
// bench does).
func realModel(b testing.TB, name string, threads int) *infer.Session {
	b.Helper()
	var g *infer.Graph
	var err error
	if name == "ultraface-rfb320" {
		path, perr := models.CachePath("faceplugin", "fr_detect.onnx")
		require.NoError(b, perr)
		g, err = detect.ImportUltraFace(path)
		require.NoError(b, err, "UltraFace fixture: run scripts/fetch-models.sh")
	} else {
		g, err = models.Load(name)
		require.NoError(b, err)
	}
	shape := g.Inputs[0].Shape
	shape[0] = 1
	g.Inputs[0].Shape = shape
	im, err := infer.LoadImage("../../shared/testdata/faces/2008_001322.jpg")
	require.NoError(b, err)
	x := make([]float32, shape.Elems())
	require.NoError(b, g.Meta.Preprocess(x, shape[2], shape[1], im, 0, 0, float32(im.W), float32(im.H)))
	if len(g.Ranges) == 0 {
		g.Ranges, err = infer.Calibrate(g, [][]float32{x}, "minmax")
		require.NoError(b, err)
	}
	m, err := infer.NewModel(g, infer.Options{Precision: infer.Int8, Threads: threads})
	require.NoError(b, err)
	s := m.NewSession()
	copy(s.Input(0), x)
	return s
}

// BenchmarkRealModels runs the embedded models and UltraFace RFB-320 at
// int8 on one and two threads (go test -bench RealModels -cpuprofile for
// where the time goes).
func BenchmarkRealModels(b *testing.B) {
	for _, name := range []string{"ultraface-rfb320", models.FaceRecognition, models.TinyFace, models.MTCNNONet} {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/threads=%d", name, threads), func(b *testing.B) {
				s := realModel(b, name, threads)
				defer s.Close()
				require.NoError(b, s.Run())
				b.ReportAllocs()
				for b.Loop() {
					_ = s.Run()
				}
			})
		}
	}
}

// TestUltraFaceFastPathsBitIdentical runs UltraFace RFB-320 (whose dilated
// RFB branches are zero-stuffed 5x5, 7x7 and 11x11 kernels in the ONNX
// file, and whose backbone is depthwise 3x3 + pointwise pairs) with the
// dilations found at load time and the depthwise inputs pre-padded, and
// without either: the int8 outputs must be the same bytes, with 1 and 2
// threads.
func TestUltraFaceFastPathsBitIdentical(t *testing.T) {
	outputs := func(threads int) [][]int8 {
		s := realModel(t, "ultraface-rfb320", threads)
		defer s.Close()
		require.NoError(t, s.Run())
		var outs [][]int8
		for i := range s.Model().NumOutputs() {
			o, _, _ := s.OutputInt8(i)
			outs = append(outs, append([]int8(nil), o...))
		}
		return outs
	}
	want := func() [][]int8 {
		defer func(d, p bool) { *infer.DetectDilation, *infer.PrepadDepthwise = d, p }(*infer.DetectDilation, *infer.PrepadDepthwise)
		*infer.DetectDilation, *infer.PrepadDepthwise = false, false
		return outputs(1)
	}()
	for _, threads := range []int{1, 2} {
		assert.Equal(t, want, outputs(threads), "threads %d", threads)
	}
}
