package face

import (
	"bufio"
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	_ "image/png" // LoadImage reads PNG too
	"os"

	"github.com/vigil-edge/vigil/infer"
)

// LoadImage decodes a JPEG or PNG file into an RGB image.
func LoadImage(path string) (*infer.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	im, _, err := image.Decode(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("%s: not a JPEG or PNG image: %w", path, err)
	}
	return fromImage(im), nil
}

// DecodeChip decodes a chip stored in a gallery (JPEG).
func DecodeChip(data []byte) (*infer.Image, error) {
	im, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("chip: %w", err)
	}
	return fromImage(im), nil
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

func fromImage(src image.Image) *infer.Image {
	r := src.Bounds()
	out := infer.NewImage(r.Dx(), r.Dy())
	for y := range r.Dy() {
		row := out.Pix[3*y*out.W : 3*(y+1)*out.W]
		for x := range r.Dx() {
			var cr, cg, cb uint8
			if s, ok := src.(*image.YCbCr); ok {
				c := s.YCbCrAt(r.Min.X+x, r.Min.Y+y)
				cr, cg, cb = color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
			} else {
				r16, g16, b16, _ := src.At(r.Min.X+x, r.Min.Y+y).RGBA()
				cr, cg, cb = uint8(r16>>8), uint8(g16>>8), uint8(b16>>8)
			}
			row[3*x], row[3*x+1], row[3*x+2] = cr, cg, cb
		}
	}
	return out
}
