package infer

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func randVec(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = r.Float32()*2 - 1
	}
	return v
}

// formatTestGraph uses every kind of blob the format stores.
func formatTestGraph() *Graph {
	r := rand.New(rand.NewPCG(1, 2))
	g := &Graph{
		Meta:    Meta{Name: "fmt", Source: "test", License: "MIT", Mean: [3]float32{127.5, 127.5, 127.5}, Scale: [3]float32{1 / 128.0, 1 / 128.0, 1 / 128.0}, ChannelOrder: "RGB", Extra: map[string]string{"anchors": "1,2"}},
		Inputs:  []Input{{Name: "in", Shape: Shape{1, 8, 8, 3}}},
		Outputs: []string{"prob"},
		Ranges:  map[string]Range{"in": {-1, 1}},
	}
	g.Nodes = []*Node{
		{Name: "c1", Op: OpConv, Inputs: []string{"in"}, Stride: [2]int{2, 2}, Pad: Padding{Mode: PadSame}, W: &Tensor{Shape: Shape{4, 3, 3, 3}, Data: randVec(r, 108)}, B: randVec(r, 4)},
		{Name: "bn", Op: OpBatchNorm, Inputs: []string{"c1"}, BN: &BatchNorm{Gamma: randVec(r, 4), Beta: randVec(r, 4), Mean: randVec(r, 4), Var: []float32{1, 2, 3, 4}, Eps: 1e-5}},
		{Name: "pr", Op: OpPReLU, Inputs: []string{"bn"}, Slope: randVec(r, 4)},
		{Name: "dw", Op: OpConv, Inputs: []string{"pr"}, Groups: 4, Pad: Padding{Mode: PadExplicit, Top: 1, Left: 1, Bottom: 1, Right: 1}, Act: ActReLU6,
			QW: &QTensor{Shape: Shape{4, 3, 3, 1}, Data: []int8{-127, 127, 0, 1, 2, 3, 4, 5, 6, -1, -2, -3, -4, -5, -6, -7, -8, -9, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8}, Scale: []float32{0.1, 0.2, 0.3, 0.4}}},
		{Name: "af", Op: OpAffine, Inputs: []string{"dw"}, Scale: randVec(r, 4), Shift: randVec(r, 4)},
		{Name: "fl", Op: OpFlatten, Inputs: []string{"af"}},
		{Name: "fc", Op: OpDense, Inputs: []string{"fl"}, W: &Tensor{Shape: Shape{2, 1, 1, 64}, Data: randVec(r, 128)}},
		{Name: "prob", Op: OpSoftmax, Inputs: []string{"fc"}},
	}
	return g
}

func encoded(t testing.TB, g *Graph) []byte {
	var buf bytes.Buffer
	require.NoError(t, Encode(&buf, g))
	return buf.Bytes()
}

func TestFormatRoundTrip(t *testing.T) {
	g := formatTestGraph()
	data := encoded(t, g)
	back, err := Decode(data)
	require.NoError(t, err)
	assert.Equal(t, g.Meta, back.Meta)
	assert.Equal(t, g.Inputs, back.Inputs)
	assert.Equal(t, g.Outputs, back.Outputs)
	assert.Equal(t, g.Ranges, back.Ranges)
	require.Len(t, back.Nodes, len(g.Nodes))
	for i := range g.Nodes {
		assert.Equal(t, g.Nodes[i], back.Nodes[i], "node %d", i)
	}
	// Encoding is a pure function of the graph: byte-for-byte reproducible.
	assert.Equal(t, data, encoded(t, back))

	path := filepath.Join(t.TempDir(), "m.vq")
	require.NoError(t, SaveFile(path, g))
	fromFile, err := LoadFile(path)
	require.NoError(t, err)
	assert.Equal(t, len(g.Nodes), len(fromFile.Nodes))
	s := Summarize(fromFile, len(data))
	assert.True(t, s.Int8)
	assert.Equal(t, Shape{1, 8, 8, 3}, s.Input)
}

func TestFormatRefusesTruncation(t *testing.T) {
	data := encoded(t, formatTestGraph())
	for n := 0; n < len(data); n += 1 + n/50 {
		_, err := Decode(data[:n])
		require.Error(t, err, "truncated to %d bytes", n)
		assert.ErrorIs(t, err, ErrFormat)
	}
	_, err := Decode(append(bytes.Clone(data), 0))
	assert.ErrorContains(t, err, "truncated or padded")
}

func TestFormatRefusesCorruption(t *testing.T) {
	data := encoded(t, formatTestGraph())
	for i := vqFixed; i < len(data); i += 7 {
		bad := bytes.Clone(data)
		bad[i] ^= 0x10
		_, err := Decode(bad)
		require.Error(t, err, "flipped byte %d", i)
		assert.ErrorContains(t, err, "checksum mismatch")
	}
}

// reseal recomputes the checksum so the test reaches the checks behind it.
func reseal(data []byte) []byte {
	data = bytes.Clone(data)
	end := len(data) - 32
	sum := sha256Sum(data[:end])
	copy(data[end:], sum[:])
	return data
}

func TestFormatRefusesInconsistentFiles(t *testing.T) {
	data := encoded(t, formatTestGraph())

	bad := bytes.Clone(data)
	binary.LittleEndian.PutUint32(bad[8:], 99)
	_, err := Decode(reseal(bad))
	assert.ErrorContains(t, err, "format version 99")

	bad = bytes.Clone(data)
	copy(bad, "NOTAVQ!!")
	_, err = Decode(bad)
	assert.ErrorContains(t, err, "not a vigil model")

	// A 4 GB blob length must be refused without allocating it.
	bad = bytes.Clone(data)
	binary.LittleEndian.PutUint64(bad[16:], 4<<30)
	_, err = Decode(reseal(bad))
	assert.ErrorContains(t, err, "truncated or padded")

	// Valid bytes, inconsistent graph: a conv whose weights do not fit its input.
	g := formatTestGraph()
	g.Nodes[0].W = &Tensor{Shape: Shape{4, 3, 3, 5}, Data: make([]float32, 180)}
	var buf bytes.Buffer
	err = Encode(&buf, g)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrInvalidGraph)
	assert.ErrorContains(t, err, `node "c1"`)

	g = formatTestGraph()
	g.Nodes[6].W.Data[3] = float32(math.NaN())
	err = Encode(&buf, g)
	assert.ErrorContains(t, err, "NaN")
}

func TestLoadFileNamesThePath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "broken.vq")
	require.NoError(t, os.WriteFile(path, []byte("VIGILVQ\nshort"), 0o644))
	_, err := LoadFile(path)
	require.Error(t, err)
	assert.ErrorContains(t, err, "broken.vq")
	assert.True(t, errors.Is(err, ErrFormat))
}

func FuzzDecode(f *testing.F) {
	data := encoded(f, formatTestGraph())
	f.Add(data)
	f.Add(data[:len(data)/2])
	f.Add(reseal(data))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := Decode(b)
		if err == nil {
			// Whatever decodes must be a valid graph.
			_, err := g.Check()
			require.NoError(t, err)
		}
		// Also exercise the checks behind the checksum.
		if len(b) > vqFixed+32 {
			g, err := Decode(reseal(b))
			if err == nil {
				_, err := g.Check()
				require.NoError(t, err)
			}
		}
	})
}
