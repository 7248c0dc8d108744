package infer

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
)

// MaxImagePixels is the most pixels LoadImage and DecodeImage accept (50 megapixels: a
// 48 MP phone photo fits, 20000x20000 does not). The limit is checked on the header, before
// any pixel is allocated: decoding 50 MP takes about 150 MB for the RGB result plus the
// decoder's own copy, which a 1 GB board can still afford.
const MaxImagePixels = 50_000_000

// ErrImageSize is returned (wrapped) for an image with no pixels or more than MaxImagePixels.
var ErrImageSize = errors.New("image size out of range")

// LoadImage decodes a JPEG or PNG file into an RGB image. The header is read first: a
// file that is not a JPEG or PNG, or whose size is zero or beyond MaxImagePixels, is
// refused before its pixels are decoded.
func LoadImage(path string) (*Image, error) {
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

// DecodeImage decodes the bytes of a JPEG or PNG into an RGB image, with the checks of
// LoadImage.
func DecodeImage(data []byte) (*Image, error) {
	return decodeImage(bytes.NewReader(data))
}

// decodeImage reads the header, checks format and size, then rewinds and decodes. Only
// JPEG and PNG are accepted even if other decoders are registered in the binary.
func decodeImage(r io.ReadSeeker) (*Image, error) {
	cfg, format, err := image.DecodeConfig(bufio.NewReader(r))
	if err != nil {
		return nil, fmt.Errorf("not a JPEG or PNG image: %w", err)
	}
	if err := CheckImageSize(cfg.Width, cfg.Height); err != nil {
		return nil, fmt.Errorf("%s header: %w", format, err)
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
		return nil, fmt.Errorf("%dx%d %s image: %w", cfg.Width, cfg.Height, format, err)
	}
	if b := im.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return nil, fmt.Errorf("%s image: header says %dx%d, pixels are %dx%d", format, cfg.Width, cfg.Height, b.Dx(), b.Dy())
	}
	return FromImage(im), nil
}

// CheckImageSize reports (wrapping ErrImageSize) a width or height below 1 or a pixel count
// beyond MaxImagePixels.
func CheckImageSize(w, h int) error {
	if w < 1 || h < 1 {
		return fmt.Errorf("%w: %dx%d has no pixels", ErrImageSize, w, h)
	}
	if int64(w)*int64(h) > MaxImagePixels {
		return fmt.Errorf("%w: %dx%d is %d pixels, at most %d are decoded", ErrImageSize, w, h, int64(w)*int64(h), MaxImagePixels)
	}
	return nil
}

// FromImage converts any image.Image to RGB (alpha is dropped).
func FromImage(src image.Image) *Image {
	r := src.Bounds()
	out := NewImage(r.Dx(), r.Dy())
	switch s := src.(type) {
	case *image.YCbCr:
		for y := range r.Dy() {
			row := out.Pix[3*y*out.W : 3*(y+1)*out.W]
			for x := range r.Dx() {
				c := s.YCbCrAt(r.Min.X+x, r.Min.Y+y)
				cr, cg, cb := color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
				row[3*x], row[3*x+1], row[3*x+2] = cr, cg, cb
			}
		}
	case *image.RGBA:
		for y := range r.Dy() {
			row := out.Pix[3*y*out.W : 3*(y+1)*out.W]
			in := s.Pix[s.PixOffset(r.Min.X, r.Min.Y+y):]
			for x := range r.Dx() {
				row[3*x], row[3*x+1], row[3*x+2] = in[4*x], in[4*x+1], in[4*x+2]
			}
		}
	default:
		for y := range r.Dy() {
			row := out.Pix[3*y*out.W : 3*(y+1)*out.W]
			for x := range r.Dx() {
				cr, cg, cb, _ := src.At(r.Min.X+x, r.Min.Y+y).RGBA()
				row[3*x], row[3*x+1], row[3*x+2] = uint8(cr>>8), uint8(cg>>8), uint8(cb>>8)
			}
		}
	}
	return out
}
