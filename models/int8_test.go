package models_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/infer"
	"github.com/vigil-edge/vigil/models"
	"github.com/vigil-edge/vigil/neon"
)

var update = flag.Bool("update", false, "rewrite testdata/int8-outputs.json from this machine")

const goldenFile = "testdata/int8-outputs.json"

// int8Digest runs an embedded model in int8 on a real photograph and hashes
// its raw int8 outputs, then its float32 outputs: those an int8 model writes
// in float32 itself (score softmaxes, heads from int32 accumulators) must be
// the same bits everywhere too.
func int8Digest(t *testing.T, name string, im *infer.Image, threads int) string {
	g, err := models.Load(name)
	require.NoError(t, err)
	m, err := infer.NewModel(g, infer.Options{Precision: infer.Int8, Threads: threads})
	require.NoError(t, err)
	s := m.NewSession()
	defer s.Close()
	in := m.InputShape(0)
	require.NoError(t, g.Meta.Preprocess(s.Input(0), in[2], in[1], im, 0, 0, float32(im.W), float32(im.H)))
	require.NoError(t, s.Run())
	h := sha256.New()
	for i := range m.NumOutputs() {
		q, _, _ := s.OutputInt8(i)
		h.Write(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(q))), len(q)))
	}
	for i := range m.NumOutputs() {
		f := s.Output(i)
		h.Write(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(f))), 4*len(f)))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestInt8OutputsBitIdentical: every embedded model's int8 outputs on a real
// photograph are the same bytes with every kernel implementation this CPU has
// (pure Go, AVX2, AVX-512 VNNI; under qemu, arm64 SMULL and SDOT), with one
// thread or several, and equal to the digests recorded on amd64.
func TestInt8OutputsBitIdentical(t *testing.T) {
	im, err := infer.LoadImage(filepath.Join("..", "..", "shared", "testdata", "faces", "2008_001322.jpg"))
	require.NoError(t, err)
	golden := map[string]string{}
	if b, err := os.ReadFile(goldenFile); err == nil {
		require.NoError(t, json.Unmarshal(b, &golden))
	}
	got := map[string]string{}
	for _, name := range models.Names() {
		for _, impl := range neon.Impls() {
			restore := neon.SetImpl(impl)
			for _, threads := range []int{1, 3} {
				d := int8Digest(t, name, im, threads)
				t.Logf("%s/%s on %s, %d threads: %s", runtime.GOARCH, impl, name, threads, d[:16])
				if prev, ok := got[name]; ok {
					assert.Equal(t, prev, d, "%s: %s with %d threads differs from the first implementation", name, impl, threads)
				}
				got[name] = d
			}
			restore()
		}
	}
	if *update {
		b, _ := json.MarshalIndent(got, "", "  ")
		require.NoError(t, os.WriteFile(goldenFile, append(b, '\n'), 0o644))
		return
	}
	for name, d := range got {
		assert.Equal(t, golden[name], d, "%s: int8 outputs differ from %s (if the embedded models were rebuilt, run go test ./models -run BitIdentical -update on amd64)", name, goldenFile)
	}
}
