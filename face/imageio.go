package face

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"

	"github.com/vigil-edge/vigil/infer"
)

// DecodeChip decodes a chip stored in a gallery or a picture sent for enrolment (JPEG or
// PNG), with the checks of infer.DecodeImage (format and size read from the header first).
func DecodeChip(data []byte) (*infer.Image, error) {
	im, err := infer.DecodeImage(data)
	if err != nil {
		return nil, fmt.Errorf("chip: %w", err)
	}
	return im, nil
}

// EncodeChip encodes a chip as JPEG (quality 90) for the gallery.
func EncodeChip(chip *infer.Image) ([]byte, error) {
	rgba := image.NewRGBA(image.Rect(0, 0, chip.W, chip.H))
	for i := range chip.W * chip.H {
		copy(rgba.Pix[4*i:4*i+3], chip.Pix[3*i:3*i+3])
		rgba.Pix[4*i+3] = 255
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, rgba, &jpeg.Options{Quality: 90}); err != nil {
		return nil, fmt.Errorf("chip: %w", err)
	}
	return buf.Bytes(), nil
}
