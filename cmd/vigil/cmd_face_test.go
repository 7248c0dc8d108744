package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/face"
	"github.com/vigil-edge/vigil/infer"
)

// faceJohnsDir is ../shared/testdata/johns: 150x150 dlib chips of three people.
func faceJohnsDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, parent, dir, "no go.mod above the working directory")
		dir = parent
	}
	d := filepath.Join(dir, "..", "shared", "testdata", "johns")
	_, err = os.Stat(d)
	require.NoError(t, err, "test photographs %s are missing", d)
	return d
}

func faceJohnsChips(t *testing.T, who string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(faceJohnsDir(t), who, "*.jpg"))
	require.NoError(t, err)
	sort.Strings(files)
	require.NotEmpty(t, files)
	return files
}

func faceVigil(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = dispatch(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// faceFrame pastes chips, each scaled to 225x225, into a grey 640x480 frame at the given x
// positions (y = 120): a face chip as a camera would see it.
func faceFrame(t *testing.T, path string, chips []string, xs []int) {
	t.Helper()
	out := infer.NewImage(640, 480)
	for i := range out.Pix {
		out.Pix[i] = 100
	}
	for k, c := range chips {
		im, err := infer.LoadImage(c)
		require.NoError(t, err)
		scaled, _, err := face.CropBox(im, 0, 0, float32(im.W), float32(im.H), 0, 225)
		require.NoError(t, err)
		for y := range 225 {
			copy(out.Pix[3*((120+y)*640+xs[k]):], scaled.Pix[3*y*225:3*(y+1)*225])
		}
	}
	b, err := face.EncodeChip(out)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o644))
}

func TestFaceCommandsChips(t *testing.T) {
	g := filepath.Join(t.TempDir(), "gallery")
	salley, savage, schneider := faceJohnsChips(t, "John_Salley"), faceJohnsChips(t, "John_Savage"), faceJohnsChips(t, "John_Schneider")

	code, _, stderr := faceVigil(t, "enroll", "--gallery", g, "--chips", "a/b", salley[0])
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "invalid identity name")

	code, stdout, stderr := faceVigil(t, "enroll", "--gallery", g, "--chips", "Salley", salley[0], salley[1])
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, `enrolled 2 sample(s) of "Salley"`)

	// One identity cannot train a head.
	code, _, stderr = faceVigil(t, "face", "adapt", "--gallery", g, "--augment", "1", "--steps", "5")
	assert.Equal(t, exitFail, code)
	assert.Contains(t, stderr, "at least 2 identities")

	code, _, stderr = faceVigil(t, "enroll", "--gallery", g, "--chips", "Savage", savage[0], savage[1])
	require.Equal(t, exitOK, code, stderr)

	identify := func() []imageJSON {
		code, stdout, stderr := faceVigil(t, "identify", "--gallery", g, "--chips", "--json", salley[2], savage[2], schneider[0])
		require.Equal(t, exitOK, code, stderr)
		var res []imageJSON
		for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
			var r imageJSON
			require.NoError(t, json.Unmarshal([]byte(line), &r), line)
			require.Len(t, r.Faces, 1)
			res = append(res, r)
		}
		require.Len(t, res, 3)
		return res
	}
	res := identify()
	assert.Equal(t, "Salley", res[0].Faces[0].Name)
	assert.Equal(t, "Savage", res[1].Faces[0].Name)
	assert.Equal(t, face.Unknown, res[2].Faces[0].Name, "a person never enrolled")
	assert.NotNil(t, res[2].Faces[0].Distance)

	code, stdout, stderr = faceVigil(t, "gallery", "--gallery", g, "list", "--json")
	require.Equal(t, exitOK, code, stderr)
	var list struct {
		Model      string `json:"model"`
		Identities []struct {
			Name    string `json:"name"`
			Samples []struct {
				ID   uint64 `json:"id"`
				Chip bool   `json:"chip"`
			} `json:"samples"`
		} `json:"identities"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &list))
	require.Len(t, list.Identities, 2)
	assert.Equal(t, faceSpace, list.Model)
	assert.True(t, list.Identities[0].Samples[0].Chip)

	code, stdout, stderr = faceVigil(t, "face", "adapt", "--gallery", g, "--augment", "2", "--steps", "60")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "saved with the gallery")
	res = identify()
	assert.Equal(t, "Salley", res[0].Faces[0].Name)
	assert.Equal(t, "Savage", res[1].Faces[0].Name)
	assert.Equal(t, face.Unknown, res[2].Faces[0].Name)

	code, _, stderr = faceVigil(t, "gallery", "--gallery", g, "rename", "Savage", "John Savage")
	assert.Equal(t, exitUsage, code, "a space cannot be an MQTT-safe name: %s", stderr)
	code, _, stderr = faceVigil(t, "gallery", "--gallery", g, "rename", "Savage", "John_Savage")
	require.Equal(t, exitOK, code, stderr)
	code, _, stderr = faceVigil(t, "gallery", "--gallery", g, "rename", "Salley", "unknown")
	assert.Equal(t, exitUsage, code, stderr)
	code, _, stderr = faceVigil(t, "gallery", "--gallery", g, "remove", "Salley", "1")
	require.Equal(t, exitOK, code, stderr)
	code, _, stderr = faceVigil(t, "gallery", "--gallery", g, "remove", "Salley", "1")
	assert.Equal(t, exitFail, code)
	assert.Contains(t, stderr, "not found")
	code, stdout, stderr = faceVigil(t, "gallery", "--gallery", g, "list")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "John_Savage")
	assert.Contains(t, stdout, "projection head: linear")

	// A corrupt gallery is refused with a message, and left alone.
	p := filepath.Join(g, face.GalleryFile)
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	data[len(data)/2] ^= 0xff
	require.NoError(t, os.WriteFile(p, data, 0o600))
	code, _, stderr = faceVigil(t, "gallery", "--gallery", g, "list")
	assert.Equal(t, exitFail, code)
	assert.Contains(t, stderr, "corrupt")
}

func TestFaceCommandsDetect(t *testing.T) {
	dir := t.TempDir()
	g := filepath.Join(dir, "gallery")
	salley, savage := faceJohnsChips(t, "John_Salley"), faceJohnsChips(t, "John_Savage")
	one, two, none := filepath.Join(dir, "one.jpg"), filepath.Join(dir, "two.jpg"), filepath.Join(dir, "none.jpg")
	faceFrame(t, one, salley[:1], []int{200})
	faceFrame(t, two, []string{salley[0], savage[0]}, []int{20, 390})
	faceFrame(t, none, nil, nil)

	code, _, stderr := faceVigil(t, "enroll", "--gallery", g, "Salley", none)
	assert.Equal(t, exitFail, code)
	assert.Contains(t, stderr, "no face found")
	code, _, stderr = faceVigil(t, "enroll", "--gallery", g, "Salley", two)
	assert.Equal(t, exitFail, code)
	assert.Contains(t, stderr, "2 faces found")
	assert.Contains(t, stderr, "--largest")
	code, _, stderr = faceVigil(t, "enroll", "--gallery", g, "Salley", one)
	require.Equal(t, exitOK, code, stderr)

	code, stdout, stderr := faceVigil(t, "embed", "--json", two)
	require.Equal(t, exitOK, code, stderr)
	var r imageJSON
	require.NoError(t, json.Unmarshal([]byte(stdout), &r))
	require.Len(t, r.Faces, 2)
	for _, f := range r.Faces {
		assert.Len(t, f.Embedding, 128)
		assert.Greater(t, f.Box[2], float32(100))
	}

	code, stdout, stderr = faceVigil(t, "identify", "--gallery", g, "--json", two)
	require.Equal(t, exitOK, code, stderr)
	require.NoError(t, json.Unmarshal([]byte(stdout), &r))
	require.Len(t, r.Faces, 2)
	names := map[string]bool{}
	for _, f := range r.Faces {
		names[f.Name] = true
	}
	assert.Equal(t, map[string]bool{"Salley": true, face.Unknown: true}, names)
}

// TestEvalFaces runs the faces evaluation on the johns chips (--chips) and on the same chips
// pasted into 640x480 frames (detection), int8, against the targets of issue 5.
func TestEvalFaces(t *testing.T) {
	johns := faceJohnsDir(t)
	code, stdout, stderr := faceVigil(t, "eval", "faces", "--dir", johns, "--chips", "--json")
	require.Equal(t, exitOK, code, stderr)
	var chips map[string]float64
	require.NoError(t, json.Unmarshal([]byte(stdout), &chips))
	var keys []string
	for k := range chips {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	assert.Equal(t, []string{"accuracy_at_threshold", "auc", "eer", "identities", "images", "no_face", "rank1_loo", "rank1_oneshot", "tar_far_1e-2", "tar_far_1e-3", "threshold"}, keys)
	t.Logf("chips, int8: %s", stdout)
	assert.Equal(t, 3.0, chips["identities"])
	assert.GreaterOrEqual(t, chips["rank1_oneshot"], 0.95)
	assert.LessOrEqual(t, chips["eer"], 0.05)

	if testing.Short() {
		t.Skip("frames: detection on 33 frames is slow; run without -short")
	}
	frames := t.TempDir()
	ids, err := os.ReadDir(johns)
	require.NoError(t, err)
	for _, id := range ids {
		require.NoError(t, os.MkdirAll(filepath.Join(frames, id.Name()), 0o755))
		for _, c := range faceJohnsChips(t, id.Name()) {
			faceFrame(t, filepath.Join(frames, id.Name(), filepath.Base(c)), []string{c}, []int{200})
		}
	}
	code, stdout, stderr = faceVigil(t, "eval", "faces", "--dir", frames, "--json")
	require.Equal(t, exitOK, code, stderr)
	t.Logf("frames, int8: %s", stdout)
	var fr map[string]float64
	require.NoError(t, json.Unmarshal([]byte(stdout), &fr))
	assert.Equal(t, 0.0, fr["no_face"], "a face is found in every frame")
	assert.Equal(t, chips["images"], fr["images"])
	assert.GreaterOrEqual(t, fr["rank1_oneshot"], 0.95)
	assert.LessOrEqual(t, fr["eer"], 0.05)
}
