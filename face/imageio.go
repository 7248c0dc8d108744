package face

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"os"

	"github.com/vigil-edge/vigil/infer"
)

// MaxImagePixels is the most pixels LoadImage and DecodeChip accept, checked on the header
// before any pixel is allocated. It equals detect.MaxImagePixels (face does not import
// detect; a test in detect checks the two agree).
const MaxImagePixels = 50_000_000

// ErrImageSize is returned (wrapped) for an image with no pixels or more than MaxImagePixels.
var ErrImageSize = errors.New("image size out of range")

// LoadImage decodes a JPEG or PNG file into an RGB image, refusing other formats and
// sizes beyond MaxImagePixels from the header, before decoding.
func LoadImage(path string) (*infer.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	im, err := decodeImage(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return im, nil
}

// DecodeChip decodes a chip stored in a gallery or a picture sent for enrolment (JPEG or
// PNG), with the checks of LoadImage.
func DecodeChip(data []byte) (*infer.Image, error) {
	im, err := decodeImage(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("chip: %w", err)
	}
	return im, nil
}

func decodeImage(r io.ReadSeeker) (*infer.Image, error) {
	cfg, format, err := image.DecodeConfig(bufio.NewReader(r))
	if err != nil {
		return nil, fmt.Errorf("not a JPEG or PNG image: %w", err)
	}
	w, h := cfg.Width, cfg.Height
	switch {
	case w < 1 || h < 1:
		return nil, fmt.Errorf("%s header: %w: %dx%d has no pixels", format, ErrImageSize, w, h)
	case int64(w)*int64(h) > MaxImagePixels:
		return nil, fmt.Errorf("%s header: %w: %dx%d is %d pixels, at most %d are decoded", format, ErrImageSize, w, h, int64(w)*int64(h), MaxImagePixels)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	var im image.Image
	switch format {
	case "jpeg":
		im, err = jpeg.Decode(bufio.NewReader(r))
	case "png":
		im, err = png.Decode(bufio.NewReader(r))
	default:
		return nil, fmt.Errorf("%s image: only JPEG and PNG are read", format)
	}
	if err != nil {
		return nil, fmt.Errorf("%dx%d %s image: %w", w, h, format, err)
	}
	if b := im.Bounds(); b.Dx() != w || b.Dy() != h {
		return nil, fmt.Errorf("%s image: header says %dx%d, pixels are %dx%d", format, w, h, b.Dx(), b.Dy())
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
