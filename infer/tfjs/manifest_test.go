package tfjs

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func le32(vs ...float32) []byte {
	b := make([]byte, 0, 4*len(vs))
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

func manifestJSON(t testing.TB, groups ...map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(groups)
	require.NoError(t, err)
	return b
}

func group(paths []string, weights ...map[string]any) map[string]any {
	return map[string]any{"paths": paths, "weights": weights}
}

func weight(name string, shape []int, dtype string, q map[string]any) map[string]any {
	w := map[string]any{"name": name, "shape": shape, "dtype": dtype}
	if q != nil {
		w["quantization"] = q
	}
	return w
}

func TestLoadManifestEncodings(t *testing.T) {
	var shard []byte
	shard = append(shard, le32(1.5, -2, 0.25, 3e-8)...)                 // f: float32 [2 2]
	shard = binary.LittleEndian.AppendUint32(shard, uint32(0xfffffff9)) // i: int32 [1] = -7
	shard = append(shard, 0, 1, 255)                                    // u8: uint8 [3]
	for _, v := range []uint16{0, 1000, 65535} {                        // u16: uint16 [3]
		shard = binary.LittleEndian.AppendUint16(shard, v)
	}
	for _, v := range []uint16{0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x3555, 0x7c00} { // h: float16 [7]
		shard = binary.LittleEndian.AppendUint16(shard, v)
	}
	shard = append(shard, le32(42)...) // s: float32 scalar, split across two shards below
	fsys := fstest.MapFS{
		"m/x-weights_manifest.json": {Data: manifestJSON(t,
			group([]string{"x.bin1", "x.bin2"},
				weight("f", []int{2, 2}, "float32", nil),
				weight("i", []int{1}, "int32", nil),
				weight("u8", []int{3}, "float32", map[string]any{"dtype": "uint8", "min": -1.0, "scale": 0.5}),
				weight("u16", []int{3}, "float32", map[string]any{"dtype": "uint16", "min": 2.0, "scale": 0.001}),
				weight("h", []int{7}, "float32", map[string]any{"dtype": "float16"}),
				weight("s", []int{}, "float32", nil),
			),
			group([]string{"y.bin"}, weight("z", []int{0, 3}, "float32", nil), weight("g", []int{1, 1}, "float32", nil)),
		)},
		"m/x.bin1": {Data: shard[:len(shard)-2]},
		"m/x.bin2": {Data: shard[len(shard)-2:]},
		"m/y.bin":  {Data: le32(-9)},
	}
	w, err := LoadManifestFS(fsys, "m/x-weights_manifest.json")
	require.NoError(t, err)
	assert.Equal(t, []string{"f", "i", "u8", "u16", "h", "s", "z", "g"}, w.Names())

	get := func(name string, shape ...int) []float32 {
		tn, err := w.Tensor(name, shape...)
		require.NoError(t, err)
		return tn.Data
	}
	assert.Equal(t, []float32{1.5, -2, 0.25, 3e-8}, get("f", 2, 2))
	assert.Equal(t, []float32{-7}, get("i", 1))
	assert.Equal(t, []float32{-1, -0.5, 126.5}, get("u8", 3))
	assert.InDeltaSlice(t, []float32{2, 3, 67.535}, get("u16", 3), 1e-4)
	h := get("h", 7)
	assert.Equal(t, []float32{1, -2, 65504, float32(math.Ldexp(1, -24)), 0}, h[:5])
	assert.True(t, math.Signbit(float64(h[4])), "float16 -0 keeps its sign")
	assert.InDelta(t, 0.33325195, h[5], 1e-8)
	assert.True(t, math.IsInf(float64(h[6]), 1))
	assert.Equal(t, []float32{42}, get("s"))
	assert.Empty(t, get("z", 0, 3))
	assert.Equal(t, []float32{-9}, get("g", 1, 1))

	_, err = w.Tensor("f", 4)
	require.ErrorIs(t, err, ErrBadManifest)
	assert.ErrorContains(t, err, `tensor "f" has shape [2 2], want [4]`)
	_, err = w.Tensor("nope")
	assert.ErrorContains(t, err, `tensor "nope" is missing`)
}

func TestLoadManifestErrors(t *testing.T) {
	const name = "dir/bad-weights_manifest.json"
	f32 := func(n string, shape ...int) map[string]any { return weight(n, shape, "float32", nil) }
	cases := []struct {
		what   string
		groups []map[string]any
		raw    string // manifest text instead of groups
		shards map[string][]byte
		want   []string
		notExi bool
	}{
		{what: "missing shard", groups: []map[string]any{group([]string{"gone.bin"}, f32("a", 2), f32("b", 1))},
			want: []string{name, `shard "gone.bin"`, "tensors a .. b", "fetch-models"}, notExi: true},
		{what: "short shard", groups: []map[string]any{group([]string{"s.bin"}, f32("a", 2), f32("b", 3))},
			shards: map[string][]byte{"s.bin": le32(1, 2, 3)},
			want:   []string{name, `tensor "b"`, "shape [3]", "short or missing shard"}},
		{what: "huge shape", groups: []map[string]any{group([]string{"s.bin"}, f32("a", 1<<30, 1<<30, 1<<30))},
			shards: map[string][]byte{"s.bin": le32(1)},
			want:   []string{name, `tensor "a"`, "shape [1073741824 1073741824 1073741824]"}},
		{what: "negative dimension", groups: []map[string]any{group([]string{"s.bin"}, f32("a", 2, -1))},
			shards: map[string][]byte{"s.bin": le32(1, 2)},
			want:   []string{name, `tensor "a"`, "bad shape [2 -1]"}},
		{what: "unknown dtype", groups: []map[string]any{group([]string{"s.bin"}, weight("a", []int{1}, "complex64", nil))},
			shards: map[string][]byte{"s.bin": le32(1, 2)},
			want:   []string{name, `tensor "a"`, `unknown dtype "complex64"`}},
		{what: "unknown quantization", groups: []map[string]any{group([]string{"s.bin"}, weight("a", []int{1}, "float32", map[string]any{"dtype": "int4"}))},
			shards: map[string][]byte{"s.bin": le32(1)},
			want:   []string{name, `tensor "a"`, `unknown quantization dtype "int4"`}},
		{what: "quantization without scale", groups: []map[string]any{group([]string{"s.bin"}, weight("a", []int{1}, "float32", map[string]any{"dtype": "uint8", "min": 0}))},
			shards: map[string][]byte{"s.bin": {1}},
			want:   []string{name, `tensor "a"`, "needs min and scale"}},
		{what: "duplicate", groups: []map[string]any{group([]string{"s.bin"}, f32("a", 1), f32("a", 1))},
			shards: map[string][]byte{"s.bin": le32(1, 2)},
			want:   []string{name, `tensor "a" is listed twice`}},
		{what: "escaping shard path", groups: []map[string]any{group([]string{"../s.bin"}, f32("a", 1))},
			want: []string{name, `shard path "../s.bin"`}},
		{what: "shard listed twice", groups: []map[string]any{group([]string{"s.bin"}, f32("a", 1)), group([]string{"s.bin"}, f32("b", 1))},
			shards: map[string][]byte{"s.bin": le32(1)},
			want:   []string{name, `shard "s.bin" is listed twice`}},
		{what: "no shards", groups: []map[string]any{group(nil, f32("a", 1))},
			want: []string{name, "no shard files"}},
		{what: "empty", raw: "[]", want: []string{name, "holds no tensors"}},
		{what: "not json", raw: "{", want: []string{name, "unexpected end of JSON"}},
		{what: "not an array", raw: `{"paths": []}`, want: []string{name, "cannot unmarshal"}},
	}
	for _, c := range cases {
		t.Run(c.what, func(t *testing.T) {
			raw := []byte(c.raw)
			if c.raw == "" {
				raw = manifestJSON(t, c.groups...)
			}
			fsys := fstest.MapFS{name: {Data: raw}}
			for k, v := range c.shards {
				fsys["dir/"+k] = &fstest.MapFile{Data: v}
			}
			_, err := LoadManifestFS(fsys, name)
			require.Error(t, err)
			for _, s := range c.want {
				assert.ErrorContains(t, err, s)
			}
			if c.notExi {
				assert.ErrorIs(t, err, fs.ErrNotExist)
			} else {
				assert.ErrorIs(t, err, ErrBadManifest)
			}
		})
	}

	_, err := LoadManifest(t.TempDir(), "none-weights_manifest.json")
	require.ErrorIs(t, err, fs.ErrNotExist)
	assert.ErrorContains(t, err, "fetch-models")
}

// TestLoadManifestReal checks the uint8 dequantization against the shard's
// bytes for the tiny face detector (all its tensors are uint8-quantized).
func TestLoadManifestReal(t *testing.T) {
	dir := modelDir(t, "face-api")
	w, err := LoadManifest(dir, TinyFaceDetectorManifest)
	require.NoError(t, err)
	require.Equal(t, 19, w.Len())
	raw, err := os.ReadFile(filepath.Join(dir, "tiny_face_detector_model.bin"))
	require.NoError(t, err)
	f, err := w.Tensor("conv0/filters", 3, 3, 3, 16)
	require.NoError(t, err)
	const lo, sc = -1.2069439495311063, 0.009007044399485869
	for i, v := range f.Data {
		assert.InDelta(t, lo+sc*float64(raw[i]), float64(v), 1e-6)
	}
	// The last tensor ends exactly at the end of the shard.
	n := 0
	for _, name := range w.Names() {
		tn, _ := w.Tensor(name)
		n += len(tn.Data)
	}
	assert.Equal(t, len(raw), n)

	for _, m := range []struct{ sub, name string }{{"face-api", FaceRecognitionManifest}, {"mtcnn", MTCNNManifest}} {
		w, err := LoadManifest(modelDir(t, m.sub), m.name)
		require.NoError(t, err, m.name)
		assert.Positive(t, w.Len())
	}
}

// TestBuilderNamesMissingTensor: an architecture whose manifest lacks a
// tensor fails with the tensor's name, not a panic.
func TestBuilderNamesMissingTensor(t *testing.T) {
	w, err := LoadManifest(modelDir(t, "face-api"), TinyFaceDetectorManifest)
	require.NoError(t, err)
	delete(w.tensors, "conv3/pointwise_filter")
	_, err = tinyFaceDetector(w)
	require.ErrorIs(t, err, ErrBadManifest)
	assert.ErrorContains(t, err, `tensor "conv3/pointwise_filter" is missing`)

	w, err = LoadManifest(modelDir(t, "mtcnn"), MTCNNManifest)
	require.NoError(t, err)
	w.tensors["rnet/fc1/weights"].Shape = []int{128, 576}
	_, _, _, err = mtcnn(w)
	require.Error(t, err)
	assert.ErrorContains(t, err, "rnet/fc1")
}

func FuzzManifest(f *testing.F) {
	good := manifestJSON(f,
		group([]string{"a.bin", "b.bin"},
			weight("w", []int{2, 3}, "float32", map[string]any{"dtype": "uint8", "min": -1, "scale": 0.1}),
			weight("h", []int{2}, "float32", map[string]any{"dtype": "float16"}),
			weight("b", []int{1}, "float32", nil),
			weight("i", []int{1}, "int32", nil)),
	)
	f.Add(good, []byte("0123456789abcdef"), []byte("xyz"))
	f.Add(good, []byte("01"), []byte{})
	if raw, err := os.ReadFile(filepath.Join("..", "..", "models", "cache", "mtcnn", MTCNNManifest)); err == nil {
		f.Add(raw, []byte("short"), []byte{})
	}
	f.Add([]byte(`[{"paths":["a.bin"],"weights":[{"name":"x","shape":[4294967296,4294967296],"dtype":"float32"}]}]`), []byte("abcd"), []byte{})
	f.Add([]byte(`[{"paths":["a.bin"],"weights":[{"name":"x","shape":[],"dtype":"int32"}]}]`), []byte{}, []byte{})
	f.Fuzz(func(t *testing.T, manifest, a, b []byte) {
		fsys := fstest.MapFS{
			"m.json": {Data: manifest},
			"a.bin":  {Data: a},
			"b.bin":  {Data: b},
		}
		w, err := LoadManifestFS(fsys, "m.json")
		if err != nil {
			if !errors.Is(err, ErrBadManifest) && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrInvalid) {
				t.Fatalf("error wraps neither ErrBadManifest nor an fs error: %v", err)
			}
			return
		}
		// Every element takes at least one shard byte: nothing is allocated
		// beyond what the shards hold.
		total := 0
		for _, name := range w.Names() {
			tn, err := w.Tensor(name)
			if err != nil {
				t.Fatal(err)
			}
			n := 1
			for _, d := range tn.Shape {
				n *= d
			}
			if n != len(tn.Data) {
				t.Fatalf("tensor %q: shape %v but %d values", name, tn.Shape, len(tn.Data))
			}
			total += n
		}
		if total > len(a)+len(b) {
			t.Fatalf("%d values decoded from %d shard bytes", total, len(a)+len(b))
		}
	})
}
