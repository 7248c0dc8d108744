// Command mkinputs cuts the golden test inputs (raw 8-bit RGB, row-major) from the
// shared test photographs.
package main

import (
	"image"
	_ "image/jpeg"
	"log"
	"os"
	"path/filepath"
)

func load(p string) image.Image {
	f, err := os.Open(p)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	im, _, err := image.Decode(f)
	if err != nil {
		log.Fatal(err)
	}
	return im
}

// cut resizes the region (x0,y0,w,h) to dw x dh by bilinear sampling at pixel centres.
func cut(im image.Image, x0, y0, w, h float64, dw, dh int) []byte {
	b := im.Bounds()
	at := func(x, y int) [3]float64 {
		x = min(max(x, b.Min.X), b.Max.X-1)
		y = min(max(y, b.Min.Y), b.Max.Y-1)
		r, g, bl, _ := im.At(x, y).RGBA()
		return [3]float64{float64(r >> 8), float64(g >> 8), float64(bl >> 8)}
	}
	out := make([]byte, 0, dw*dh*3)
	for oy := range dh {
		fy := y0 + (float64(oy)+0.5)*h/float64(dh) - 0.5
		iy := int(fy)
		if float64(iy) > fy {
			iy--
		}
		ay := fy - float64(iy)
		for ox := range dw {
			fx := x0 + (float64(ox)+0.5)*w/float64(dw) - 0.5
			ix := int(fx)
			if float64(ix) > fx {
				ix--
			}
			ax := fx - float64(ix)
			p00, p01, p10, p11 := at(ix, iy), at(ix+1, iy), at(ix, iy+1), at(ix+1, iy+1)
			for c := range 3 {
				top := p00[c] + (p01[c]-p00[c])*ax
				bot := p10[c] + (p11[c]-p10[c])*ax
				v := top + (bot-top)*ay + 0.5
				out = append(out, byte(min(max(v, 0), 255)))
			}
		}
	}
	return out
}

func main() {
	td, out := os.Args[1], os.Args[2]
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(out, name), b, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	two := load(filepath.Join(td, "faces/2008_001009.jpg"))
	write("tiny_160x160.rgb", cut(two, 40, 40, 300, 300, 160, 160))
	write("rnet_24x24.rgb", cut(two, 145, 79, 76, 76, 24, 24))
	write("onet_48x48.rgb", cut(two, 125, 214, 90, 91, 48, 48))
	group := load(filepath.Join(td, "faces/2007_007763.jpg"))
	write("pnet_40x56.rgb", cut(group, 150, 70, 112, 80, 56, 40))
	entries, err := os.ReadDir(filepath.Join(td, "johns/John_Salley"))
	if err != nil {
		log.Fatal(err)
	}
	chip := load(filepath.Join(td, "johns/John_Salley", entries[0].Name()))
	write("facerec_150x150.rgb", cut(chip, 0, 0, 150, 150, 150, 150))
	log.Printf("chip %s %v", entries[0].Name(), chip.Bounds())
}
