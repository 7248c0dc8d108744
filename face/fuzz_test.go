package face

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzDecodeSnapshot: the loader never panics, and whatever it accepts is
// valid and survives an encode/decode round trip unchanged.
func FuzzDecodeSnapshot(f *testing.F) {
	s := &Snapshot{NextID: 1}
	data, _ := s.Encode()
	f.Add(data)
	s = &Snapshot{Model: "m", Dim: 2, NextID: 3, Gen: 4, Identities: []Identity{{Name: "a", Samples: []Sample{{ID: 1, Embedding: []float32{1, 0}, Chip: []byte{1}}}}},
		Head: &Head{Kind: HeadLinear, In: 2, Out: 2, W1: []float32{1, 0, 0, 1}, B1: []float32{0, 0}}}
	data, _ = s.Encode()
	f.Add(data)
	f.Add([]byte("VIGILGAL"))
	// A file whose checksum is right but whose payload is not: the fuzzer
	// mutates the payload and the checksum is recomputed, so it explores
	// the JSON and validation paths, not only the checksum.
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, in := range [][]byte{data, fixSum(data)} {
			s, err := DecodeSnapshot(in)
			if err != nil {
				continue
			}
			require.NoError(t, s.validate())
			again, err := s.Encode()
			require.NoError(t, err)
			s2, err := DecodeSnapshot(again)
			require.NoError(t, err)
			require.Equal(t, s, s2)
		}
	})
}

// fixSum rewrites the length field and checksum of data so that only the
// payload decides whether it loads.
func fixSum(data []byte) []byte {
	if len(data) < headerLen {
		return data
	}
	body := append([]byte(nil), data...)
	n := uint64(len(body) - headerLen)
	for i := range 8 {
		body[len(galleryMagic)+4+i] = byte(n >> (8 * i))
	}
	return appendSum(body)
}
