package infer

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
)

// The .vq model file:
//
//	magic    [8]byte  "VIGILVQ\n"
//	version  uint32   little endian, FormatVersion
//	hdrLen   uint32   length of the JSON header (at most MaxHeader)
//	blobLen  uint64   length of the weight blob
//	header   [hdrLen]byte  JSON: metadata, inputs, outputs, ranges, nodes with blob references
//	blob     [blobLen]byte little-endian float32 / int8 arrays, each 8-byte aligned
//	checksum [32]byte SHA-256 of everything before it
//
// The checksum is verified before the header is parsed, and every blob
// reference is checked against the blob before anything is allocated, so a
// truncated or corrupted file is refused and allocation is bounded by the
// file's own size.

// FormatVersion is the .vq version this build writes and reads.
const FormatVersion = 1

// MaxHeader bounds the JSON header of a .vq file.
const MaxHeader = 16 << 20

var vqMagic = [8]byte{'V', 'I', 'G', 'I', 'L', 'V', 'Q', '\n'}

// ErrFormat is wrapped by every error about a malformed .vq file.
var ErrFormat = errors.New("bad model file")

const vqFixed = 8 + 4 + 4 + 8

type blobRef struct {
	Off   uint64 `json:"off"`
	N     uint64 `json:"n"`
	DType string `json:"dtype"` // "f32" or "i8"
}

type vqTensor struct {
	Shape Shape    `json:"shape"`
	Data  blobRef  `json:"data"`
	Scale *blobRef `json:"scale,omitempty"` // int8 weights: per output channel
}

type vqNode struct {
	Name        string     `json:"name"`
	Op          Op         `json:"op"`
	Inputs      []string   `json:"inputs"`
	Kernel      [2]int     `json:"kernel,omitzero"`
	Stride      [2]int     `json:"stride,omitzero"`
	Pad         Padding    `json:"pad,omitzero"`
	Groups      int        `json:"groups,omitempty"`
	Act         Activation `json:"act,omitempty"`
	Alpha       float32    `json:"alpha,omitempty"`
	Perm        [4]int     `json:"perm,omitzero"`
	NewShape    Shape      `json:"new_shape,omitzero"`
	ResizeScale int        `json:"resize_scale,omitempty"`
	W           *vqTensor  `json:"w,omitempty"`
	B           *blobRef   `json:"b,omitempty"`
	Slope       *blobRef   `json:"slope,omitempty"`
	Scale       *blobRef   `json:"scale,omitempty"`
	Shift       *blobRef   `json:"shift,omitempty"`
	BN          *vqBN      `json:"bn,omitempty"`
}

type vqBN struct {
	Gamma, Beta, Mean, Var blobRef
	Eps                    float32
}

type vqHeader struct {
	Meta    Meta             `json:"meta"`
	Inputs  []Input          `json:"inputs"`
	Outputs []string         `json:"outputs"`
	Ranges  map[string]Range `json:"ranges,omitempty"`
	Nodes   []vqNode         `json:"nodes"`
}

type blobWriter struct{ buf bytes.Buffer }

func (b *blobWriter) align() {
	for b.buf.Len()%8 != 0 {
		b.buf.WriteByte(0)
	}
}

func (b *blobWriter) f32(v []float32) *blobRef {
	if v == nil {
		return nil
	}
	b.align()
	r := &blobRef{Off: uint64(b.buf.Len()), N: uint64(len(v)), DType: "f32"}
	var tmp [4]byte
	for _, x := range v {
		binary.LittleEndian.PutUint32(tmp[:], math.Float32bits(x))
		b.buf.Write(tmp[:])
	}
	return r
}

func (b *blobWriter) i8(v []int8) blobRef {
	b.align()
	r := blobRef{Off: uint64(b.buf.Len()), N: uint64(len(v)), DType: "i8"}
	for _, x := range v {
		b.buf.WriteByte(byte(x))
	}
	return r
}

// Encode writes g as a .vq file. Nodes carrying int8 weights (QW) are written
// as int8 with their per-channel scales; the others as float32. The output is
// a pure function of g: the same graph gives the same bytes.
func Encode(w io.Writer, g *Graph) error {
	if _, err := g.Check(); err != nil {
		return fmt.Errorf("encode %q: %w", g.Meta.Name, err)
	}
	var blob blobWriter
	h := vqHeader{Meta: g.Meta, Inputs: g.Inputs, Outputs: g.Outputs, Ranges: g.Ranges}
	for _, n := range g.Nodes {
		vn := vqNode{
			Name: n.Name, Op: n.Op, Inputs: n.Inputs, Kernel: n.Kernel, Stride: n.Stride, Pad: n.Pad,
			Groups: n.Groups, Act: n.Act, Alpha: n.Alpha, Perm: n.Perm, NewShape: n.NewShape, ResizeScale: n.ResizeScale,
			B: blob.f32(n.B), Slope: blob.f32(n.Slope), Scale: blob.f32(n.Scale), Shift: blob.f32(n.Shift),
		}
		switch {
		case n.QW != nil:
			vn.W = &vqTensor{Shape: n.QW.Shape, Data: blob.i8(n.QW.Data), Scale: blob.f32(n.QW.Scale)}
		case n.W != nil:
			vn.W = &vqTensor{Shape: n.W.Shape, Data: *blob.f32(n.W.Data)}
		}
		if n.BN != nil {
			vn.BN = &vqBN{Gamma: *blob.f32(n.BN.Gamma), Beta: *blob.f32(n.BN.Beta), Mean: *blob.f32(n.BN.Mean), Var: *blob.f32(n.BN.Var), Eps: n.BN.Eps}
		}
		h.Nodes = append(h.Nodes, vn)
	}
	hdr, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("encode %q: header: %w", g.Meta.Name, err)
	}
	if len(hdr) > MaxHeader {
		return fmt.Errorf("encode %q: header of %d bytes exceeds %d", g.Meta.Name, len(hdr), MaxHeader)
	}
	var out bytes.Buffer
	out.Write(vqMagic[:])
	binary.Write(&out, binary.LittleEndian, uint32(FormatVersion))
	binary.Write(&out, binary.LittleEndian, uint32(len(hdr)))
	binary.Write(&out, binary.LittleEndian, uint64(blob.buf.Len()))
	out.Write(hdr)
	out.Write(blob.buf.Bytes())
	sum := sha256.Sum256(out.Bytes())
	out.Write(sum[:])
	_, err = w.Write(out.Bytes())
	return err
}

// SaveFile writes g to path atomically (temporary file, fsync, rename).
func SaveFile(path string, g *Graph) error {
	var buf bytes.Buffer
	if err := Encode(&buf, g); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// LoadFile reads and validates a .vq file.
func LoadFile(path string) (*Graph, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("model %q: %w", path, err)
	}
	g, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("model %q: %w", path, err)
	}
	return g, nil
}

func formatErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))
}

type blobReader struct{ blob []byte }

func (b blobReader) check(r *blobRef, what string, dtype string, want int) error {
	if r.DType != dtype {
		return formatErr("%s: dtype %q, want %q", what, r.DType, dtype)
	}
	size := uint64(4)
	if dtype == "i8" {
		size = 1
	}
	if want >= 0 && r.N != uint64(want) {
		return formatErr("%s: holds %d values, want %d", what, r.N, want)
	}
	if r.N > uint64(len(b.blob)) || r.Off > uint64(len(b.blob)) || r.N*size > uint64(len(b.blob))-r.Off {
		return formatErr("%s: %d values at offset %d run past the %d-byte weight blob", what, r.N, r.Off, len(b.blob))
	}
	return nil
}

func (b blobReader) f32(r *blobRef, what string, want int) ([]float32, error) {
	if r == nil {
		return nil, nil
	}
	if err := b.check(r, what, "f32", want); err != nil {
		return nil, err
	}
	out := make([]float32, r.N)
	p := b.blob[r.Off:]
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(p[4*i:]))
		if math.IsNaN(float64(out[i])) || math.IsInf(float64(out[i]), 0) {
			return nil, formatErr("%s: value %d is %v", what, i, out[i])
		}
	}
	return out, nil
}

// Decode parses and validates a .vq file held in memory. It refuses a
// truncated, corrupted, wrong-version or inconsistent file with an error
// wrapping ErrFormat (or ErrInvalidGraph) that says what is wrong.
func Decode(data []byte) (*Graph, error) {
	if len(data) < vqFixed+sha256.Size {
		return nil, formatErr("%d bytes is too short for a .vq file (truncated?)", len(data))
	}
	if !bytes.Equal(data[:8], vqMagic[:]) {
		return nil, formatErr("not a vigil model (magic %q)", data[:8])
	}
	version := binary.LittleEndian.Uint32(data[8:])
	if version != FormatVersion {
		return nil, formatErr("format version %d, this build reads version %d: re-create the file with this vigil", version, FormatVersion)
	}
	hdrLen := uint64(binary.LittleEndian.Uint32(data[12:]))
	blobLen := binary.LittleEndian.Uint64(data[16:])
	if hdrLen > MaxHeader {
		return nil, formatErr("header length %d exceeds %d", hdrLen, MaxHeader)
	}
	body := uint64(len(data) - vqFixed - sha256.Size)
	if blobLen > body || hdrLen+blobLen != body {
		return nil, formatErr("file is %d bytes but its header says %d (truncated or padded)", len(data), vqFixed+hdrLen+blobLen+sha256.Size)
	}
	end := len(data) - sha256.Size
	sum := sha256.Sum256(data[:end])
	if !bytes.Equal(sum[:], data[end:]) {
		return nil, formatErr("checksum mismatch: the file is corrupted")
	}
	hdr := data[vqFixed : vqFixed+hdrLen]
	blob := blobReader{blob: data[vqFixed+hdrLen : end]}
	var h vqHeader
	dec := json.NewDecoder(bytes.NewReader(hdr))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return nil, formatErr("header: %v", err)
	}
	g := &Graph{Meta: h.Meta, Inputs: h.Inputs, Outputs: h.Outputs, Ranges: h.Ranges}
	for i := range h.Nodes {
		vn := &h.Nodes[i]
		n := &Node{
			Name: vn.Name, Op: vn.Op, Inputs: vn.Inputs, Kernel: vn.Kernel, Stride: vn.Stride, Pad: vn.Pad,
			Groups: vn.Groups, Act: vn.Act, Alpha: vn.Alpha, Perm: vn.Perm, NewShape: vn.NewShape, ResizeScale: vn.ResizeScale,
		}
		what := func(s string) string { return fmt.Sprintf("node %q (%s) %s", vn.Name, vn.Op, s) }
		var err error
		if vn.W != nil {
			s := vn.W.Shape
			for d, v := range s {
				if v <= 0 || v > 1<<20 {
					return nil, formatErr("%s: dimension %d is %d", what("weights"), d, v)
				}
			}
			count := uint64(s[0]) * uint64(s[1]) * uint64(s[2]) * uint64(s[3])
			if count > uint64(len(blob.blob)) {
				return nil, formatErr("%s: shape %v needs more values than the file holds", what("weights"), s)
			}
			switch vn.W.Data.DType {
			case "i8":
				if vn.W.Scale == nil {
					return nil, formatErr("%s: int8 weights without scales", what("weights"))
				}
				if err := blob.check(&vn.W.Data, what("weights"), "i8", int(count)); err != nil {
					return nil, err
				}
				q := &QTensor{Shape: s, Data: make([]int8, count)}
				for j := range q.Data {
					q.Data[j] = int8(blob.blob[vn.W.Data.Off+uint64(j)])
					if q.Data[j] == -128 {
						return nil, formatErr("%s: int8 weight %d is -128, outside [-127, 127]", what("weights"), j)
					}
				}
				if q.Scale, err = blob.f32(vn.W.Scale, what("weight scales"), s[0]); err != nil {
					return nil, err
				}
				n.QW = q
			default:
				d, err := blob.f32(&vn.W.Data, what("weights"), int(count))
				if err != nil {
					return nil, err
				}
				n.W = &Tensor{Shape: s, Data: d}
			}
		}
		if n.B, err = blob.f32(vn.B, what("bias"), -1); err != nil {
			return nil, err
		}
		if n.Slope, err = blob.f32(vn.Slope, what("slope"), -1); err != nil {
			return nil, err
		}
		if n.Scale, err = blob.f32(vn.Scale, what("scale"), -1); err != nil {
			return nil, err
		}
		if n.Shift, err = blob.f32(vn.Shift, what("shift"), -1); err != nil {
			return nil, err
		}
		if vn.BN != nil {
			bn := &BatchNorm{Eps: vn.BN.Eps}
			for _, p := range []struct {
				dst *[]float32
				ref *blobRef
				nm  string
			}{{&bn.Gamma, &vn.BN.Gamma, "gamma"}, {&bn.Beta, &vn.BN.Beta, "beta"}, {&bn.Mean, &vn.BN.Mean, "mean"}, {&bn.Var, &vn.BN.Var, "variance"}} {
				if *p.dst, err = blob.f32(p.ref, what(p.nm), -1); err != nil {
					return nil, err
				}
			}
			n.BN = bn
		}
		g.Nodes = append(g.Nodes, n)
	}
	if _, err := g.Check(); err != nil {
		return nil, err
	}
	if err := checkRanges(g); err != nil {
		return nil, err
	}
	return g, nil
}

func checkRanges(g *Graph) error {
	if g.Ranges == nil {
		return nil
	}
	names := make([]string, 0, len(g.Ranges))
	for k := range g.Ranges {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		r := g.Ranges[k]
		if !finiteAll([]float32{r.Min, r.Max}) || r.Min > r.Max {
			return formatErr("range of %q is [%v, %v]", k, r.Min, r.Max)
		}
	}
	return nil
}

// Summary describes a model for `vigil models`.
type Summary struct {
	Name     string
	Input    Shape
	Int8     bool // weights stored as int8
	Params   int
	Bytes    int
	License  string
	Source   string
	Nodes    int
	HasRange bool
}

// Summarize describes g; size is the encoded file size when known.
func Summarize(g *Graph, size int) Summary {
	s := Summary{Name: g.Meta.Name, License: g.Meta.License, Source: g.Meta.Source, Bytes: size, Nodes: len(g.Nodes), HasRange: len(g.Ranges) > 0}
	if len(g.Inputs) > 0 {
		s.Input = g.Inputs[0].Shape
	}
	for _, n := range g.Nodes {
		switch {
		case n.QW != nil:
			s.Int8 = true
			s.Params += len(n.QW.Data)
		case n.W != nil:
			s.Params += len(n.W.Data)
		}
		s.Params += len(n.B) + len(n.Slope) + len(n.Scale) + len(n.Shift)
	}
	return s
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }
