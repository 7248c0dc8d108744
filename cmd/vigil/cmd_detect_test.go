package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sharedFaces is ../shared/testdata/faces from the repository root.
func sharedFaces(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../../../shared/testdata/faces")
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(dir, "training.xml"))
	require.NoError(t, err, "shared test photographs missing: expected %s", dir)
	return dir
}

func vigil(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = dispatch(context.Background(), args, &o, &e)
	return code, o.String(), e.String()
}

func TestDetectJSONAndBadFiles(t *testing.T) {
	faces := sharedFaces(t)
	out := t.TempDir()
	bad := filepath.Join(t.TempDir(), "notes.jpg")
	require.NoError(t, os.WriteFile(bad, []byte("not an image"), 0o644))
	img := filepath.Join(faces, "2008_001009.jpg")
	dogs := filepath.Join(faces, "dogs.jpg")
	missing := filepath.Join(faces, "missing.jpg")

	code, stdout, stderr := vigil(t, "detect", "--float", "--json", "--out", out, img, bad, dogs, missing)
	assert.Equal(t, exitFail, code, "a bad file makes the exit code 1")
	assert.Contains(t, stderr, bad)
	assert.Contains(t, stderr, missing)

	var recs []map[string]json.RawMessage
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		var rec map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(sc.Bytes(), &rec), "line %q", sc.Text())
		recs = append(recs, rec)
	}
	require.Len(t, recs, 2, "one line per readable image")

	var first struct {
		Image         string
		Width, Height int
		Faces         []struct {
			X, Y, W, H, Score float64
			Landmarks         [][2]float64
		}
	}
	line := strings.SplitN(stdout, "\n", 2)[0]
	require.NoError(t, json.Unmarshal([]byte(line), &first))
	for _, k := range []string{"image", "width", "height", "faces"} {
		assert.Contains(t, recs[0], k)
	}
	assert.Equal(t, img, first.Image)
	assert.Equal(t, 360, first.Width)
	assert.Equal(t, 480, first.Height)
	require.Len(t, first.Faces, 2, "2008_001009.jpg has two faces")
	for _, f := range first.Faces {
		assert.Greater(t, f.Score, 0.9)
		assert.Len(t, f.Landmarks, 5)
		assert.True(t, f.X >= 0 && f.Y >= 0 && f.X+f.W <= 360 && f.Y+f.H <= 480)
	}
	assert.JSONEq(t, `[]`, string(recs[1]["faces"]), "no face on dogs.jpg")

	for _, name := range []string{"2008_001009.jpg", "dogs.jpg"} {
		st, err := os.Stat(filepath.Join(out, name))
		require.NoError(t, err, "annotated %s", name)
		assert.Greater(t, st.Size(), int64(1000))
	}
}

func TestDetectUsage(t *testing.T) {
	code, _, stderr := vigil(t, "detect")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "no image given")
	code, _, stderr = vigil(t, "detect", "--nope", "x.jpg")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "usage: vigil detect")
	code, stdout, _ := vigil(t, "detect", "-h")
	assert.Equal(t, exitOK, code)
	assert.Contains(t, stdout, "--json")
	code, _, stderr = vigil(t, "detect", "--float", "--detector", "nosuch", filepath.Join(sharedFaces(t), "dogs.jpg"))
	assert.Equal(t, exitFail, code)
	assert.Contains(t, stderr, `unknown detector "nosuch"`)
}

func TestEvalDetect(t *testing.T) {
	xml := filepath.Join(sharedFaces(t), "training.xml")
	code, stdout, stderr := vigil(t, "eval", "detect", "--xml", xml, "--float", "--json")
	require.Equal(t, exitOK, code, stderr)
	var res map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	for _, k := range []string{"images", "faces", "tp", "fp", "fn", "precision", "recall", "ap", "detector", "iou"} {
		assert.Contains(t, res, k)
	}
	assert.EqualValues(t, 4, res["images"])
	assert.EqualValues(t, 18, res["faces"])
	assert.Equal(t, "mtcnn float32", res["detector"])
	assert.EqualValues(t, 0.5, res["iou"])
	t.Logf("vigil eval detect --float: %s", stdout)
	assert.GreaterOrEqual(t, res["recall"], 0.9)
	assert.GreaterOrEqual(t, res["precision"], 0.9)

	code, stdout, _ = vigil(t, "eval", "detect", "--xml", xml, "--float", "--detector", "ultraface", "--iou", "0.4")
	require.Equal(t, exitOK, code)
	assert.Contains(t, stdout, "precision")
	assert.Contains(t, stdout, "ultraface float32")

	code, _, stderr = vigil(t, "eval", "detect")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "--xml is required")
	code, _, _ = vigil(t, "eval", "nosuch")
	assert.Equal(t, exitUsage, code)
	code, stdout, _ = vigil(t, "eval", "-h")
	assert.Equal(t, exitOK, code)
	assert.Contains(t, stdout, "detect")
}

func TestDetectInt8Calibration(t *testing.T) {
	faces := sharedFaces(t)
	img := filepath.Join(faces, "2008_001322.jpg")
	johns := filepath.Join(filepath.Dir(faces), "johns")

	code, stdout, stderr := vigil(t, "detect", "--detector", "ultraface", "--calib", johns, "--json", img)
	require.Equal(t, exitOK, code, stderr)
	var rec struct{ Faces []map[string]any }
	require.NoError(t, json.Unmarshal([]byte(stdout), &rec))
	assert.Len(t, rec.Faces, 3, "three faces in 2008_001322.jpg")
	assert.NotContains(t, stderr, "calibrating on the")

	// Without --calib (and no embedded UltraFace), it calibrates on the images given and says so.
	code, stdout, stderr = vigil(t, "detect", "--detector", "ultraface", img)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stderr, "calibrating on the 1 images given")
	assert.Contains(t, stdout, "3 faces")
}
