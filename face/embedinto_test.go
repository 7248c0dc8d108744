package face

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/infer"
)

// EmbedFaceInto gives EmbedFace's results, reuses its buffers (nothing of
// its own allocated per face), and refuses faces below the minimum before
// embedding them.
func TestEmbedFaceInto(t *testing.T) {
	e, err := NewGraphEmbedder("face-api-resnet128", embeddedInt8(t), infer.Options{Precision: infer.Int8, Threads: 1})
	require.NoError(t, err)
	defer e.Close()
	photo := loadJohns(t)[0].img
	// The chip's face as a detector would give it: its landmarks on the template,
	// and a box-only face.
	tpl := Template(photo.W, ChipPadding)
	faces := []Face{
		{X: 20, Y: 20, W: float32(photo.W - 40), H: float32(photo.H - 40), Landmarks: &tpl},
		{X: 20, Y: 20, W: float32(photo.W - 40), H: float32(photo.H - 40)},
	}
	var buf Embedded
	for _, f := range faces {
		want, err := EmbedFace(photo, f, e)
		require.NoError(t, err)
		require.NoError(t, EmbedFaceInto(&buf, photo, f, e, DefaultQualityMin))
		assert.Equal(t, want.Embedding, buf.Embedding)
		assert.Equal(t, want.Chip.Pix, buf.Chip.Pix)
		assert.Equal(t, fmt.Sprint(want.Quality), fmt.Sprint(buf.Quality)) // Yaw is NaN without landmarks
		assert.Equal(t, want.Transform, buf.Transform)
	}
	chip, emb := buf.Chip, &buf.Embedding[0]
	allocs := testing.AllocsPerRun(10, func() {
		require.NoError(t, EmbedFaceInto(&buf, photo, faces[0], e, DefaultQualityMin))
	})
	assert.Zero(t, allocs, "allocations per face")
	assert.Same(t, chip, buf.Chip, "chip reused")
	assert.Same(t, emb, &buf.Embedding[0], "embedding reused")

	// A flat (completely blurred) face is refused before the embedder runs.
	flat := infer.NewImage(photo.W, photo.H)
	for i := range flat.Pix {
		flat.Pix[i] = 128
	}
	clear(buf.Embedding)
	err = EmbedFaceInto(&buf, flat, faces[0], e, DefaultQualityMin)
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrLowQuality), "%v", err)
	assert.Contains(t, err.Error(), "too blurred")
	assert.Zero(t, buf.Quality.Sharpness)
	assert.Equal(t, make([]float32, e.Dim()), buf.Embedding, "not embedded")
	// The zero minimum takes it.
	require.NoError(t, EmbedFaceInto(&buf, flat, faces[0], e, QualityMin{}))
}
