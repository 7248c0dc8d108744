package infer

import "fmt"

// Image is an 8-bit RGB image: interleaved, row-major, stride 3*W.
type Image struct {
	W, H int
	Pix  []uint8
}

// NewImage allocates a black w x h image.
func NewImage(w, h int) *Image { return &Image{W: w, H: h, Pix: make([]uint8, 3*w*h)} }

// At returns the RGB value at (x, y), clamping coordinates to the image.
func (im *Image) At(x, y int) (r, g, b uint8) {
	x = min(max(x, 0), im.W-1)
	y = min(max(y, 0), im.H-1)
	o := 3 * (y*im.W + x)
	return im.Pix[o], im.Pix[o+1], im.Pix[o+2]
}

// Preprocess resizes the region (x0, y0, w, h) of src (bilinear; pixels outside
// the image are clamped to its edge) to dw x dh and writes it into dst as NHWC
// floats (one image: dh*dw*3 values) using the model's mean, scale and channel order.
func (m *Meta) Preprocess(dst []float32, dw, dh int, src *Image, x0, y0, w, h float32) error {
	if len(dst) < dw*dh*3 {
		return fmt.Errorf("preprocess: destination holds %d values, need %d", len(dst), dw*dh*3)
	}
	if src.W <= 0 || src.H <= 0 || len(src.Pix) < 3*src.W*src.H {
		return fmt.Errorf("preprocess: empty or short image %dx%d", src.W, src.H)
	}
	scale := m.Scale
	if scale == [3]float32{} {
		scale = [3]float32{1, 1, 1}
	}
	bgr := m.ChannelOrder == "BGR"
	sx, sy := w/float32(dw), h/float32(dh)
	for oy := range dh {
		// Explicit float32 conversions round every product, so no
		// architecture fuses them into an FMA: preprocessing, and so the
		// int8 model's quantized input, is bit-identical on amd64 and arm64.
		fy := y0 + float32((float32(oy)+0.5)*sy) - 0.5
		iy := floor(fy)
		ay := fy - float32(iy)
		row := dst[oy*dw*3 : (oy+1)*dw*3]
		for ox := range dw {
			fx := x0 + float32((float32(ox)+0.5)*sx) - 0.5
			ix := floor(fx)
			ax := fx - float32(ix)
			r00, g00, b00 := src.At(ix, iy)
			r01, g01, b01 := src.At(ix+1, iy)
			r10, g10, b10 := src.At(ix, iy+1)
			r11, g11, b11 := src.At(ix+1, iy+1)
			px := [3]float32{
				lerp2(r00, r01, r10, r11, ax, ay),
				lerp2(g00, g01, g10, g11, ax, ay),
				lerp2(b00, b01, b10, b11, ax, ay),
			}
			if bgr {
				px[0], px[2] = px[2], px[0]
			}
			o := row[ox*3 : ox*3+3]
			for c := range 3 {
				o[c] = (px[c] - m.Mean[c]) * scale[c]
			}
		}
	}
	return nil
}

func floor(f float32) int {
	i := int(f)
	if float32(i) > f {
		i--
	}
	return i
}

func lerp2(a, b, c, d uint8, ax, ay float32) float32 {
	top := float32(a) + float32((float32(b)-float32(a))*ax)
	bot := float32(c) + float32((float32(d)-float32(c))*ax)
	return top + float32((bot-top)*ay)
}
