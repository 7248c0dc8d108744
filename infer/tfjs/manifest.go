// Package tfjs reads TensorFlow.js weights manifests and builds vigil graphs
// for the face-api family of networks from them.
//
// The architectures (tiny face detector, MTCNN P/R/O-Net, the 128-d face
// recognition ResNet) are written here in Go after the packages' JavaScript;
// only the weights come from the manifests. Every builder returns an
// *infer.Graph in NHWC with its preprocessing in Graph.Meta, and its float
// outputs match the JavaScript forward pass (see testdata/README.md).
//
// Invariants of the loader: every allocation is bounded by the bytes the
// shard files actually hold, and every error names the manifest, the tensor
// (or shard) and the problem.
package tfjs

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"slices"
)

// ErrBadManifest is wrapped by every error about a manifest's content (as
// opposed to a file that cannot be read, which wraps the fs error).
var ErrBadManifest = errors.New("bad tfjs weights manifest")

// maxManifestBytes bounds the JSON read: real manifests are tens of KB.
const maxManifestBytes = 16 << 20

// Tensor is one decoded weight tensor: float32 values in row-major order of
// Shape, in the layout tfjs uses (conv filters [KH, KW, IC, OC], depthwise
// filters [KH, KW, C, M], dense weights [IC, OC]).
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// Weights are the decoded tensors of one manifest, by name.
type Weights struct {
	// Manifest is the manifest's path as given to the loader, used in errors.
	Manifest string
	tensors  map[string]*Tensor
	names    []string
}

// Names lists the tensors in manifest order.
func (w Weights) Names() []string { return slices.Clone(w.names) }

// Len is the number of tensors.
func (w Weights) Len() int { return len(w.names) }

// Tensor returns the tensor called name. When shape is given, the tensor must
// have exactly that shape; the error names the manifest, tensor and both shapes.
func (w Weights) Tensor(name string, shape ...int) (*Tensor, error) {
	t, ok := w.tensors[name]
	if !ok {
		return nil, fmt.Errorf("%w: manifest %q: tensor %q is missing (the manifest has %d tensors)", ErrBadManifest, w.Manifest, name, len(w.names))
	}
	if shape != nil && !slices.Equal(t.Shape, shape) {
		return nil, fmt.Errorf("%w: manifest %q: tensor %q has shape %v, want %v", ErrBadManifest, w.Manifest, name, t.Shape, shape)
	}
	return t, nil
}

// manifestGroup is one entry of the manifest's top-level array: shard files
// whose concatenation holds the group's tensors back to back.
type manifestGroup struct {
	Paths   []string         `json:"paths"`
	Weights []manifestWeight `json:"weights"`
}

type manifestWeight struct {
	Name         string        `json:"name"`
	Shape        []int         `json:"shape"`
	Dtype        string        `json:"dtype"`
	Quantization *quantization `json:"quantization"`
}

type quantization struct {
	Dtype         string   `json:"dtype"`
	Min           *float64 `json:"min"`
	Scale         *float64 `json:"scale"`
	OriginalDtype string   `json:"original_dtype"`
}

// LoadManifest reads dir/manifestName (a tfjs "*-weights_manifest.json") and
// its shard files, named in the manifest relative to the manifest's folder.
func LoadManifest(dir, manifestName string) (Weights, error) {
	return LoadManifestFS(os.DirFS(dir), manifestName)
}

// LoadManifestFS is LoadManifest over any file system (an embed.FS, a test's
// fstest.MapFS). Shard paths must stay inside fsys.
//
// Supported encodings: float32 and int32 tensors stored as such, and tensors
// quantized to uint8 or uint16 (value = min + scale*q) or to float16. Every
// tensor is returned as float32.
func LoadManifestFS(fsys fs.FS, manifestName string) (Weights, error) {
	w := Weights{Manifest: manifestName, tensors: map[string]*Tensor{}}
	f, err := fsys.Open(manifestName)
	if err != nil {
		return w, fmt.Errorf("tfjs manifest %q: %w (run scripts/fetch-models.sh to fetch the weights)", manifestName, err)
	}
	raw, err := io.ReadAll(io.LimitReader(f, maxManifestBytes+1))
	f.Close()
	if err != nil {
		return w, fmt.Errorf("tfjs manifest %q: %w", manifestName, err)
	}
	if len(raw) > maxManifestBytes {
		return w, fmt.Errorf("%w: manifest %q is larger than %d bytes", ErrBadManifest, manifestName, maxManifestBytes)
	}
	var groups []manifestGroup
	if err := json.Unmarshal(raw, &groups); err != nil {
		return w, fmt.Errorf("%w: manifest %q: %v", ErrBadManifest, manifestName, err)
	}
	base := path.Dir(manifestName)
	used := map[string]bool{} // each shard file once: memory stays bounded by the files
	for gi, g := range groups {
		if err := w.loadGroup(fsys, base, gi, g, used); err != nil {
			return Weights{Manifest: manifestName}, err
		}
	}
	if len(w.names) == 0 {
		return w, fmt.Errorf("%w: manifest %q holds no tensors", ErrBadManifest, manifestName)
	}
	return w, nil
}

func (w *Weights) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: manifest %q: %s", ErrBadManifest, w.Manifest, fmt.Sprintf(format, args...))
}

// encoding is how one tensor's elements are stored.
type encoding struct {
	bytes  int // per element
	decode func(dst []float32, src []byte)
}

func (w *Weights) encodingOf(mw manifestWeight) (encoding, error) {
	switch mw.Dtype {
	case "float32", "int32":
	default:
		return encoding{}, w.errorf("tensor %q: unknown dtype %q (want float32 or int32)", mw.Name, mw.Dtype)
	}
	q := mw.Quantization
	if q == nil {
		if mw.Dtype == "int32" {
			return encoding{4, decodeInt32}, nil
		}
		return encoding{4, decodeFloat32}, nil
	}
	switch q.Dtype {
	case "float16":
		return encoding{2, decodeFloat16}, nil
	case "uint8", "uint16":
		if q.Min == nil || q.Scale == nil {
			return encoding{}, w.errorf("tensor %q: %s quantization needs min and scale", mw.Name, q.Dtype)
		}
		lo, sc := float32(*q.Min), float32(*q.Scale)
		if !finite(lo) || !finite(sc) {
			return encoding{}, w.errorf("tensor %q: quantization min %v or scale %v is not a finite float32", mw.Name, *q.Min, *q.Scale)
		}
		if q.Dtype == "uint8" {
			return encoding{1, func(dst []float32, src []byte) {
				for i, b := range src[:len(dst)] {
					dst[i] = lo + sc*float32(b)
				}
			}}, nil
		}
		return encoding{2, func(dst []float32, src []byte) {
			for i := range dst {
				dst[i] = lo + sc*float32(binary.LittleEndian.Uint16(src[2*i:]))
			}
		}}, nil
	}
	return encoding{}, w.errorf("tensor %q: unknown quantization dtype %q (want uint8, uint16 or float16)", mw.Name, q.Dtype)
}

func finite(f float32) bool { return !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0) }

func decodeFloat32(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
}

func decodeInt32(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = float32(int32(binary.LittleEndian.Uint32(src[4*i:])))
	}
}

func decodeFloat16(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = float16(binary.LittleEndian.Uint16(src[2*i:]))
	}
}

// float16 converts an IEEE 754 half-precision value to float32.
func float16(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: mant * 2^-24
		v := float32(mant) / (1 << 24)
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// placed is a tensor's position in its group's concatenated shards.
type placed struct {
	mw       manifestWeight
	enc      encoding
	elems    int
	off, end int64
}

func (w *Weights) loadGroup(fsys fs.FS, base string, gi int, g manifestGroup, used map[string]bool) error {
	if len(g.Paths) == 0 && len(g.Weights) > 0 {
		return w.errorf("group %d lists %d tensors but no shard files", gi, len(g.Weights))
	}
	// Size the shards first: every allocation below is bounded by what they hold.
	type shard struct {
		name string
		size int64
	}
	shards := make([]shard, 0, len(g.Paths))
	var total int64
	for _, p := range g.Paths {
		name := path.Join(base, p)
		if p == "" || p == "." || !fs.ValidPath(p) {
			return w.errorf("group %d: shard path %q is not a relative path inside the manifest's folder", gi, p)
		}
		if used[name] {
			return w.errorf("group %d: shard %q is listed twice", gi, p)
		}
		used[name] = true
		st, err := fs.Stat(fsys, name)
		if err != nil {
			return fmt.Errorf("tfjs manifest %q: group %d (%s): shard %q: %w (run scripts/fetch-models.sh to fetch the weights)",
				w.Manifest, gi, tensorRange(g), p, err)
		}
		if !st.Mode().IsRegular() {
			return w.errorf("group %d: shard %q is not a regular file", gi, p)
		}
		shards = append(shards, shard{name, st.Size()})
		total += st.Size()
	}

	// Place every tensor and check it fits before reading anything.
	plan := make([]placed, 0, min(len(g.Weights), 1<<16))
	var off int64
	seen := map[string]bool{}
	for _, mw := range g.Weights {
		if mw.Name == "" {
			return w.errorf("group %d: tensor %d has no name", gi, len(plan))
		}
		if _, dup := w.tensors[mw.Name]; dup || seen[mw.Name] {
			return w.errorf("tensor %q is listed twice", mw.Name)
		}
		seen[mw.Name] = true
		enc, err := w.encodingOf(mw)
		if err != nil {
			return err
		}
		// The element count must fit in the bytes left, which also bounds it.
		left := (total - off) / int64(enc.bytes)
		elems := int64(1)
		for _, d := range mw.Shape {
			if d < 0 {
				return w.errorf("tensor %q: bad shape %v (negative dimension)", mw.Name, mw.Shape)
			}
			if d != 0 && elems > left/int64(d) {
				return w.errorf("tensor %q: shape %v needs more than the %d bytes left in the shards %v (short or missing shard?)",
					mw.Name, mw.Shape, total-off, g.Paths)
			}
			elems *= int64(d)
		}
		if elems > left {
			return w.errorf("tensor %q: shape %v needs %d bytes, the shards %v hold only %d more (short or missing shard?)",
				mw.Name, mw.Shape, elems*int64(enc.bytes), g.Paths, total-off)
		}
		n := elems * int64(enc.bytes)
		plan = append(plan, placed{mw: mw, enc: enc, elems: int(elems), off: off, end: off + n})
		off += n
	}

	// Read the shards back to back; only the bytes the tensors use.
	buf := make([]byte, off)
	var at int64
	for _, s := range shards {
		if at >= off {
			break
		}
		want := min(s.size, off-at)
		if err := readFull(fsys, s.name, buf[at:at+want]); err != nil {
			return fmt.Errorf("tfjs manifest %q: group %d: shard %q: %w", w.Manifest, gi, s.name, err)
		}
		at += want
	}
	for _, p := range plan {
		t := &Tensor{Name: p.mw.Name, Shape: slices.Clone(p.mw.Shape), Data: make([]float32, p.elems)}
		if t.Shape == nil {
			t.Shape = []int{}
		}
		p.enc.decode(t.Data, buf[p.off:p.end])
		w.tensors[t.Name] = t
		w.names = append(w.names, t.Name)
	}
	return nil
}

// readFull fills dst from the start of the file, failing on a short file (it
// may have shrunk since it was sized).
func readFull(fsys fs.FS, name string, dst []byte) error {
	f, err := fsys.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.ReadFull(f, dst); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: file is shorter than %d bytes", ErrBadManifest, len(dst))
		}
		return err
	}
	return nil
}

func tensorRange(g manifestGroup) string {
	switch len(g.Weights) {
	case 0:
		return "no tensors"
	case 1:
		return "tensor " + g.Weights[0].Name
	}
	return fmt.Sprintf("tensors %s .. %s", g.Weights[0].Name, g.Weights[len(g.Weights)-1].Name)
}
