package daemon

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"sync"

	"github.com/vigil-edge/vigil/infer"
)

// Box colours in previews: known faces green, unknown red, not (yet) recognised yellow.
var (
	colourKnown   = color.RGBA{0, 200, 0, 255}
	colourUnknown = color.RGBA{220, 0, 0, 255}
	colourPending = color.RGBA{230, 200, 0, 255}
)

// MaxPreviewSide bounds the preview JPEG; larger frames are subsampled.
const MaxPreviewSide = 1280

// EncodePreview draws the faces' boxes on a copy of im and encodes it as JPEG; it is the
// default Annotator. Names are in the events and on /healthz; the preview shows who is
// known by colour.
func EncodePreview(im *infer.Image, obs []Observation) ([]byte, error) {
	step := 1
	for im.W/step > MaxPreviewSide || im.H/step > MaxPreviewSide {
		step++
	}
	w, h := im.W/step, im.H/step
	dst := canvases.Get().(*image.RGBA)
	defer canvases.Put(dst)
	if n := 4 * w * h; cap(dst.Pix) < n {
		*dst = *image.NewRGBA(image.Rect(0, 0, w, h))
	} else {
		*dst = image.RGBA{Pix: dst.Pix[:n], Stride: 4 * w, Rect: image.Rect(0, 0, w, h)}
	}
	for y := 0; y < h; y++ {
		src := im.Pix[3*(y*step)*im.W:]
		row := dst.Pix[y*dst.Stride:]
		for x := 0; x < w; x++ {
			s := src[3*x*step:]
			row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = s[0], s[1], s[2], 255
		}
	}
	for _, o := range obs {
		c := colourPending
		switch {
		case o.Name == Unknown:
			c = colourUnknown
		case o.Name != "":
			c = colourKnown
		}
		drawRect(dst, float64(o.Box.X)/float64(step), float64(o.Box.Y)/float64(step),
			float64(o.Box.W)/float64(step), float64(o.Box.H)/float64(step), c)
	}
	// The JPEG is handed over (the hub keeps it), so its buffer is new; the canvas, fully
	// overwritten above, is reused.
	b := bytes.NewBuffer(make([]byte, 0, w*h/4))
	if err := jpeg.Encode(b, dst, &jpeg.Options{Quality: 75}); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// canvases holds EncodePreview's RGBA canvases (cameras encode concurrently).
var canvases = sync.Pool{New: func() any { return new(image.RGBA) }}

func drawRect(dst *image.RGBA, x, y, w, h float64, c color.RGBA) {
	if math.IsNaN(x+y+w+h) || math.IsInf(x+y+w+h, 0) {
		return
	}
	r := image.Rect(int(x), int(y), int(x+w), int(y+h)).Intersect(dst.Bounds())
	if r.Empty() {
		return
	}
	for t := 0; t < 2; t++ {
		for px := r.Min.X; px < r.Max.X; px++ {
			dst.SetRGBA(px, r.Min.Y+t, c)
			dst.SetRGBA(px, r.Max.Y-1-t, c)
		}
		for py := r.Min.Y; py < r.Max.Y; py++ {
			dst.SetRGBA(r.Min.X+t, py, c)
			dst.SetRGBA(r.Max.X-1-t, py, c)
		}
	}
}
