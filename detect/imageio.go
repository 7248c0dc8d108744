package detect

import (
	"bufio"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	_ "image/jpeg" // decoders for LoadImage
	_ "image/png"
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
	return FromImage(im), nil
}

// FromImage converts any image.Image to RGB (alpha is dropped).
func FromImage(src image.Image) *infer.Image {
	r := src.Bounds()
	out := infer.NewImage(r.Dx(), r.Dy())
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

// ToRGBA converts an RGB image to image.RGBA (for encoding).
func ToRGBA(im *infer.Image) *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, im.W, im.H))
	for i := range im.W * im.H {
		out.Pix[4*i], out.Pix[4*i+1], out.Pix[4*i+2], out.Pix[4*i+3] = im.Pix[3*i], im.Pix[3*i+1], im.Pix[3*i+2], 255
	}
	return out
}

// Annotate draws the detections on dst: a box outline of thickness t and a
// small square on each landmark.
func Annotate(dst draw.Image, dets []Detection, c color.Color, t int) {
	t = max(t, 1)
	fill := func(x0, y0, x1, y1 int) {
		draw.Draw(dst, image.Rect(x0, y0, x1, y1).Intersect(dst.Bounds()), image.NewUniform(c), image.Point{}, draw.Src)
	}
	for _, d := range dets {
		x0, y0 := int(d.Box.X), int(d.Box.Y)
		x1, y1 := int(d.Box.X2()), int(d.Box.Y2())
		fill(x0, y0, x1, y0+t)
		fill(x0, y1-t, x1, y1)
		fill(x0, y0, x0+t, y1)
		fill(x1-t, y0, x1, y1)
		for _, p := range d.Landmarks {
			fill(int(p[0])-t, int(p[1])-t, int(p[0])+t+1, int(p[1])+t+1)
		}
	}
}
