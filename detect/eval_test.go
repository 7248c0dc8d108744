package detect

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testdata is the shared photographs folder, ../shared/testdata from the repository root.
func sharedTestdata(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs("../../shared/testdata")
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(dir, "faces", "training.xml"))
	require.NoError(t, err, "shared test photographs missing: expected %s (the repository's sibling folder shared/testdata)", dir)
	return dir
}

func TestReadImglab(t *testing.T) {
	dir := sharedTestdata(t)
	ds, err := ReadImglab(filepath.Join(dir, "faces", "training.xml"))
	require.NoError(t, err)
	assert.Equal(t, "Training faces", ds.Name)
	require.Len(t, ds.Images, 4)
	assert.Equal(t, 18, ds.Faces())
	im := ds.Images[0]
	assert.Equal(t, filepath.Join(dir, "faces", "2007_007763.jpg"), im.Path)
	assert.Equal(t, 500, im.W)
	assert.Equal(t, 375, im.H)
	assert.Equal(t, Box{X: 194, Y: 90, W: 37, H: 37}, im.Boxes[0])
	for _, im := range ds.Images {
		_, err := os.Stat(im.Path)
		assert.NoError(t, err)
	}
}

const sampleXML = `<?xml version='1.0' encoding='ISO-8859-1'?>
<dataset><name>caf` + "\xe9" + `</name><images>
  <image file='sub/a.jpg'>
    <box top='10' left='20' width='30' height='40'>
      <part name='0' x='1' y='2'/>
      <label>face</label>
    </box>
    <box top='100' left='100' width='30' height='30' ignore='1'/>
  </image>
  <image file='/abs/b.png'/>
</images></dataset>`

func TestParseImglab(t *testing.T) {
	ds, err := ParseImglab(strings.NewReader(sampleXML), "/data")
	require.NoError(t, err)
	assert.Equal(t, "café", ds.Name)
	require.Len(t, ds.Images, 2)
	assert.Equal(t, filepath.FromSlash("/data/sub/a.jpg"), ds.Images[0].Path)
	assert.Equal(t, []Box{{X: 20, Y: 10, W: 30, H: 40}}, ds.Images[0].Boxes)
	assert.Equal(t, []Box{{X: 100, Y: 100, W: 30, H: 30}}, ds.Images[0].Ignore)
	assert.Equal(t, "/abs/b.png", ds.Images[1].Path)
	assert.Equal(t, 1, ds.Faces())

	_, err = ParseImglab(strings.NewReader(`<dataset><images><image/></images></dataset>`), ".")
	assert.ErrorContains(t, err, "no file")
	_, err = ParseImglab(strings.NewReader(`<dataset><images><image file='x'><box width='0' height='3'/></image></images></dataset>`), ".")
	assert.ErrorContains(t, err, "box 0")
	_, err = ReadImglab("/nonexistent/x.xml")
	assert.Error(t, err)
}

func TestEvaluate(t *testing.T) {
	ds := &Dataset{Images: []LabeledImage{
		{Boxes: []Box{{0, 0, 10, 10}, {100, 100, 10, 10}}, Ignore: []Box{{200, 200, 10, 10}}},
		{Boxes: []Box{{0, 0, 20, 20}}},
		{}, // an image without faces
	}}
	dets := [][]Detection{
		{
			{Box: Box{0, 0, 10, 10}, Score: 0.9},      // TP
			{Box: Box{1, 0, 10, 10}, Score: 0.8},      // duplicate: FP
			{Box: Box{200, 200, 10, 10}, Score: 0.95}, // ignored
		},
		{{Box: Box{0, 0, 20, 19}, Score: 0.7}}, // TP
		{{Box: Box{5, 5, 5, 5}, Score: 0.6}},   // FP on a negative image
	}
	r, err := Evaluate(ds, dets, 0.5)
	require.NoError(t, err)
	assert.Equal(t, 3, r.Images)
	assert.Equal(t, 3, r.Faces)
	assert.Equal(t, 2, r.TP)
	assert.Equal(t, 2, r.FP)
	assert.Equal(t, 1, r.FN)
	assert.Equal(t, 1, r.NegativeFP)
	assert.InDelta(t, 0.5, r.Precision, 1e-12)
	assert.InDelta(t, 2.0/3, r.Recall, 1e-12)
	// Ranked: TP(0.9) FP(0.8) TP(0.7) FP(0.6): precision 1, .5, .667, .5 at
	// recall 1/3, 1/3, 2/3, 2/3. Interpolated: 1 for the first third,
	// 2/3 for the second.
	assert.InDelta(t, 1.0/3+2.0/9, r.AP, 1e-12)
	assert.Contains(t, r.String(), "precision 0.5000")

	perfect := [][]Detection{
		{{Box: Box{0, 0, 10, 10}, Score: 1}, {Box: Box{100, 100, 10, 10}, Score: 1}},
		{{Box: Box{0, 0, 20, 20}, Score: 1}},
		nil,
	}
	r, err = Evaluate(ds, perfect, 0.5)
	require.NoError(t, err)
	assert.Equal(t, 1.0, r.AP)
	assert.Equal(t, 1.0, r.Precision)
	assert.Equal(t, 1.0, r.Recall)

	r, err = Evaluate(ds, make([][]Detection, 3), 0.5)
	require.NoError(t, err)
	assert.Zero(t, r.AP)
	assert.Zero(t, r.Precision)
	assert.Equal(t, 3, r.FN)

	_, err = Evaluate(ds, nil, 0.5)
	assert.Error(t, err)
}
