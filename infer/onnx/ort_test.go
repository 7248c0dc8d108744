package onnx_test

import (
	"image"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/infer"
	"github.com/vigil-edge/vigil/infer/onnx"
	"github.com/vigil-edge/vigil/infer/onnx/ort"
)

// photo loads a JPEG from ../shared/testdata/faces as an infer.Image.
func photo(t *testing.T, name string) *infer.Image {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		require.NotEqual(t, dir, filepath.Dir(dir), "no go.mod above the working directory")
		dir = filepath.Dir(dir)
	}
	p := filepath.Join(dir, "..", "shared", "testdata", "faces", name)
	f, err := os.Open(p)
	require.NoError(t, err, "test photo")
	defer f.Close()
	src, err := jpeg.Decode(f)
	require.NoError(t, err)
	b := src.Bounds()
	img := infer.NewImage(b.Dx(), b.Dy())
	for y := range b.Dy() {
		for x := range b.Dx() {
			r, g, bl, _ := src.At(b.Min.X+x, b.Min.Y+y).RGBA()
			o := 3 * (y*img.W + x)
			img.Pix[o], img.Pix[o+1], img.Pix[o+2] = uint8(r>>8), uint8(g>>8), uint8(bl>>8)
		}
	}
	return img
}

var _ image.Image // image/jpeg registers through image

// TestAgainstONNXRuntime runs each real model on a real photo through ONNX
// Runtime and through vigil's float executor and compares every output
// value in ONNX's own order.
func TestAgainstONNXRuntime(t *testing.T) {
	lib, err := ort.LibraryPath()
	require.NoError(t, err)
	require.NoError(t, ort.Init(lib))
	img := photo(t, "2008_001322.jpg")
	for _, m := range realModels {
		t.Run(m.name, func(t *testing.T) {
			path := modelFile(t, m.path)
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			g, err := onnx.Import(data, m.opts)
			require.NoError(t, err)

			outs := m.opts.Outputs
			if len(outs) == 0 {
				pb, err := onnx.Decode(data)
				require.NoError(t, err)
				for _, o := range pb.GetGraph().GetOutput() {
					outs = append(outs, o.GetName())
				}
			}
			rt, err := ort.NewSession(data, ort.Options{Threads: 1, Outputs: outs})
			require.NoError(t, err)
			defer rt.Close()

			model, err := infer.NewModel(g, infer.Options{Precision: infer.Float32, Threads: 1})
			require.NoError(t, err)
			s := model.NewSession()
			defer s.Close()

			// Our input is NHWC; ONNX Runtime's is the file's (NCHW, or
			// NHWC for tf2onnx models).
			in := g.Inputs[0].Shape
			nhwc := s.Input(0)
			require.NoError(t, m.pre.Preprocess(nhwc, in[2], in[1], img, 0, 0, float32(img.W), float32(img.H)))
			require.NoError(t, onnx.PeerInput(g, 0, rt.Input(0), nhwc))
			if g.Meta.Extra[onnx.LayoutKey+g.Inputs[0].Name] == "nchw" {
				require.Equal(t, []int64{int64(in[0]), int64(in[3]), int64(in[1]), int64(in[2])}, rt.Inputs()[0].Shape)
			} else {
				require.Equal(t, []int64{int64(in[0]), int64(in[1]), int64(in[2]), int64(in[3])}, rt.Inputs()[0].Shape)
			}

			require.NoError(t, rt.Run())
			require.NoError(t, s.Run())
			require.Len(t, g.Outputs, len(outs))
			for i, name := range outs {
				want, got := rt.Output(i), s.Output(i)
				require.Len(t, got, len(want), "output %s: ours %v, ONNX Runtime %v", name, s.OutputShape(i), rt.Outputs()[i].Shape)
				var maxDiff, maxAbs float64
				for k := range want {
					maxDiff = max(maxDiff, math.Abs(float64(got[k]-want[k])))
					maxAbs = max(maxAbs, math.Abs(float64(want[k])))
				}
				t.Logf("%s output %q %v: max |ours - ORT| = %.3g (max |ORT| = %.3g)", m.name, name, rt.Outputs()[i].Shape, maxDiff, maxAbs)
				assert.LessOrEqual(t, maxDiff, 1e-4*max(1, maxAbs), "output %s", name)
			}
		})
	}
}
