package daemon

import (
	"bytes"
	"image/jpeg"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/detect"
	"github.com/vigil-edge/vigil/infer"
)

func TestEncodePreview(t *testing.T) {
	im := infer.NewImage(2000, 100)
	nan := float32(math.NaN())
	j, err := EncodePreview(im, []Observation{
		{Box: detect.Box{X: 10, Y: 10, W: 40, H: 40}, Name: "alice"},
		{Box: detect.Box{X: 1900, Y: 50, W: 500, H: 500}, Name: Unknown},
		{Box: detect.Box{X: nan, Y: 0, W: 1, H: 1}},
		{Box: detect.Box{X: -50, Y: -50, W: 10, H: 10}},
	})
	require.NoError(t, err)
	img, err := jpeg.Decode(bytes.NewReader(j))
	require.NoError(t, err)
	assert.LessOrEqual(t, img.Bounds().Dx(), MaxPreviewSide)
	r, g, _, _ := img.At(6, 6).RGBA()
	assert.Greater(t, g, r, "known face box is green")
}
