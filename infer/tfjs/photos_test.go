package tfjs

import (
	"encoding/json"
	"image"
	_ "image/jpeg"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/infer"
)

func testdataDir(t testing.TB) string {
	t.Helper()
	d := filepath.Join(repoRoot(t), "..", "shared", "testdata")
	_, err := os.Stat(d)
	require.NoError(t, err, "shared test photographs %s are missing", d)
	return d
}

func loadImage(t testing.TB, path string) *infer.Image {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	src, _, err := image.Decode(f)
	require.NoError(t, err, path)
	b := src.Bounds()
	im := infer.NewImage(b.Dx(), b.Dy())
	for y := range im.H {
		for x := range im.W {
			r, g, bl, _ := src.At(b.Min.X+x, b.Min.Y+y).RGBA()
			o := 3 * (y*im.W + x)
			im.Pix[o], im.Pix[o+1], im.Pix[o+2] = uint8(r>>8), uint8(g>>8), uint8(bl>>8)
		}
	}
	return im
}

// TestFaceRecognitionPhotos: on the johns chips every descriptor's nearest
// neighbour is a photograph of the same person.
func TestFaceRecognitionPhotos(t *testing.T) {
	g, err := FaceRecognition(modelDir(t, "face-api"))
	require.NoError(t, err)
	m, err := infer.NewModel(g, infer.Options{Precision: infer.Float32})
	require.NoError(t, err)
	s := m.NewSession()
	defer s.Close()

	root := filepath.Join(testdataDir(t), "johns")
	people, err := os.ReadDir(root)
	require.NoError(t, err)
	type emb struct {
		who string
		d   []float32
	}
	var embs []emb
	for _, p := range people {
		files, err := filepath.Glob(filepath.Join(root, p.Name(), "*.jpg"))
		require.NoError(t, err)
		sort.Strings(files)
		require.GreaterOrEqual(t, len(files), 3, p.Name())
		for _, f := range files[:3] {
			im := loadImage(t, f)
			require.NoError(t, g.Meta.Preprocess(s.Input(0), FaceRecognitionInput, FaceRecognitionInput, im, 0, 0, float32(im.W), float32(im.H)))
			require.NoError(t, s.Run())
			embs = append(embs, emb{p.Name(), append([]float32(nil), s.Output(0)...)})
		}
	}
	dist := func(a, b []float32) float64 {
		var s float64
		for i := range a {
			d := float64(a[i] - b[i])
			s += d * d
		}
		return math.Sqrt(s)
	}
	var same, diff []float64
	for i, a := range embs {
		best, bestJ := math.Inf(1), -1
		for j, b := range embs {
			if i == j {
				continue
			}
			d := dist(a.d, b.d)
			if d < best {
				best, bestJ = d, j
			}
			if j > i {
				if a.who == b.who {
					same = append(same, d)
				} else {
					diff = append(diff, d)
				}
			}
		}
		assert.Equal(t, a.who, embs[bestJ].who, "nearest neighbour of %s #%d", a.who, i)
	}
	sort.Float64s(same)
	sort.Float64s(diff)
	t.Logf("same person: %d pairs, distance %.3f..%.3f; different: %d pairs, %.3f..%.3f",
		len(same), same[0], same[len(same)-1], len(diff), diff[0], diff[len(diff)-1])
}

// TestTinyFaceDetectorPhoto decodes the best anchor of the 416 grid as
// Meta.Extra describes and finds a labelled face of 2008_001009.jpg.
func TestTinyFaceDetectorPhoto(t *testing.T) {
	g, err := TinyFaceDetector(modelDir(t, "face-api"))
	require.NoError(t, err)
	var anchors [][2]float64
	require.NoError(t, json.Unmarshal([]byte(g.Meta.Extra["anchors"]), &anchors))
	require.Len(t, anchors, 5)
	iou, err := strconv.ParseFloat(g.Meta.Extra["iou_threshold"], 64)
	require.NoError(t, err)
	require.Equal(t, 0.4, iou)

	m, err := infer.NewModel(g, infer.Options{Precision: infer.Float32})
	require.NoError(t, err)
	s := m.NewSession()
	defer s.Close()
	im := loadImage(t, filepath.Join(testdataDir(t), "faces", "2008_001009.jpg")) // 360x480
	side := float32(max(im.W, im.H))
	// Letterbox to the bottom/right (the clamped edge stands in for face-api's black).
	require.NoError(t, g.Meta.Preprocess(s.Input(0), TinyFaceDetectorInput, TinyFaceDetectorInput, im, 0, 0, side, side))
	require.NoError(t, s.Run())
	out := s.Output(0)
	const S = TinyFaceDetectorInput / 32
	sig := func(x float32) float64 { return 1 / (1 + math.Exp(-float64(x))) }
	best, bi := -1.0, 0
	for i := 4; i < len(out); i += 5 {
		if p := sig(out[i]); p > best {
			best, bi = p, i-4
		}
	}
	cell, a := bi/25, (bi%25)/5
	row, col := cell/S, cell%S
	v := out[bi : bi+5]
	cx := (float64(col) + sig(v[0])) / S * float64(side)
	cy := (float64(row) + sig(v[1])) / S * float64(side)
	w := math.Exp(float64(v[2])) * anchors[a][0] / S * float64(side)
	h := math.Exp(float64(v[3])) * anchors[a][1] / S * float64(side)
	t.Logf("best score %.3f at cell (%d,%d) anchor %d: box centre (%.0f,%.0f) size %.0fx%.0f", best, row, col, a, cx, cy, w, h)
	assert.Greater(t, best, 0.5)
	// training.xml boxes of this photo: (145,79,76x76) and (125,214,90x91).
	faces := [][4]float64{{145, 79, 76, 76}, {125, 214, 90, 91}}
	hit := false
	for _, f := range faces {
		if math.Abs(cx-(f[0]+f[2]/2)) < f[2]/3 && math.Abs(cy-(f[1]+f[3]/2)) < f[3]/3 && w > f[2]/2 && w < 2*f[2] {
			hit = true
		}
	}
	assert.True(t, hit, "best box is not on a labelled face")
}
