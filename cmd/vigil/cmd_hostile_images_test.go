package main

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHostileImageFiles gives `vigil enroll` and `vigil detect` a JPEG whose header claims
// 20000x20000, a zero-width one, a truncated one and a text file: each is refused with a
// message naming the file and the reason (exit 1), no panic, and the enrol writes nothing.
func TestHostileImageFiles(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 32, 24)), nil))
	ok := buf.Bytes()
	withSize := func(w, h int) []byte {
		out := append([]byte(nil), ok...)
		i := bytes.Index(out, []byte{0xFF, 0xC0})
		require.Positive(t, i)
		binary.BigEndian.PutUint16(out[i+5:], uint16(h))
		binary.BigEndian.PutUint16(out[i+7:], uint16(w))
		return out
	}
	dir := t.TempDir()
	files := []struct{ name, want string }{
		{"huge.jpg", "400000000 pixels"},
		{"zero.jpg", "has no pixels"},
		{"truncated.jpg", "not a JPEG or PNG"},
		{"notes.jpg", "not a JPEG or PNG"},
	}
	data := map[string][]byte{"huge.jpg": withSize(20000, 20000), "zero.jpg": withSize(0, 24), "truncated.jpg": ok[:len(ok)/3], "notes.jpg": []byte("not a picture\n")}
	gallery := filepath.Join(dir, "gallery")
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		require.NoError(t, os.WriteFile(p, data[f.name], 0o644))
		var code int
		var stderr string
		require.NotPanics(t, func() { code, _, stderr = faceVigil(t, "enroll", "--gallery", gallery, "Someone", p) })
		assert.Equal(t, exitFail, code, "enroll %s: %s", f.name, stderr)
		assert.Contains(t, stderr, p)
		assert.Contains(t, stderr, f.want)
		t.Logf("vigil enroll %s: %s", f.name, bytes.TrimSpace([]byte(stderr)))

		require.NotPanics(t, func() { code, _, stderr = faceVigil(t, "detect", "--float", "--json", p) })
		assert.Equal(t, exitFail, code, "detect %s: %s", f.name, stderr)
		assert.Contains(t, stderr, f.want)
	}
	code, stdout, _ := faceVigil(t, "gallery", "list", "--gallery", gallery)
	if code == exitOK {
		assert.NotContains(t, stdout, "Someone", "nothing was enrolled")
	}
}
