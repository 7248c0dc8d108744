package detect

import (
	"image"
	"image/color"
	"image/draw"

	"github.com/vigil-edge/vigil/infer"
)

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
