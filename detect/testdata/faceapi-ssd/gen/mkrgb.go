// Command mkrgb decodes the photographs the face-api SSD anchor is measured on
// (every image of faces/training.xml, then faces/dogs.jpg) to raw 8-bit RGB,
// row-major, no header, so that the Node script needs no image library. It
// decodes as infer.DecodeImage does (stdlib image/jpeg, YCbCr to RGB with
// color.YCbCrToRGB), so Node sees the very pixels vigil's detectors see; the
// SHA-256 of each file goes into inputs.json and on into detections.json,
// where the Go test checks it against infer.LoadImage.
//
// Usage: go run gen/mkrgb.go SHARED_TESTDATA OUTDIR
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"image"
	"image/color"
	_ "image/jpeg"
	"io"
	"log"
	"os"
	"path/filepath"
)

// input is one entry of inputs.json.
type input struct {
	File   string `json:"file"` // relative to SHARED_TESTDATA/faces
	Width  int    `json:"width"`
	Height int    `json:"height"`
	RGB    string `json:"rgb"` // the raw file, relative to OUTDIR
	SHA256 string `json:"rgb_sha256"`
}

// trainingFiles lists the image files of an imglab XML file in order.
func trainingFiles(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	var x struct {
		Images []struct {
			File string `xml:"file,attr"`
		} `xml:"images>image"`
	}
	dec := xml.NewDecoder(f)
	// training.xml declares ISO-8859-1; its file names are ASCII, so bytes
	// pass through unchanged.
	dec.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	if err := dec.Decode(&x); err != nil {
		log.Fatal(err)
	}
	var out []string
	for _, im := range x.Images {
		out = append(out, im.File)
	}
	return out
}

func rgb(path string) (w, h int, pix []byte) {
	f, err := os.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	im, _, err := image.Decode(f)
	if err != nil {
		log.Fatal(path, ": ", err)
	}
	b := im.Bounds()
	pix = make([]byte, 0, 3*b.Dx()*b.Dy())
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if s, ok := im.(*image.YCbCr); ok {
				c := s.YCbCrAt(x, y)
				r, g, bl := color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
				pix = append(pix, r, g, bl)
				continue
			}
			r, g, bl, _ := im.At(x, y).RGBA()
			pix = append(pix, byte(r>>8), byte(g>>8), byte(bl>>8))
		}
	}
	return b.Dx(), b.Dy(), pix
}

func main() {
	if len(os.Args) != 3 {
		log.Fatal("usage: mkrgb SHARED_TESTDATA OUTDIR")
	}
	td, out := os.Args[1], os.Args[2]
	faces := filepath.Join(td, "faces")
	files := append(trainingFiles(filepath.Join(faces, "training.xml")), "dogs.jpg")
	var list []input
	for _, name := range files {
		w, h, pix := rgb(filepath.Join(faces, name))
		raw := name + ".rgb"
		if err := os.WriteFile(filepath.Join(out, raw), pix, 0o644); err != nil {
			log.Fatal(err)
		}
		sum := sha256.Sum256(pix)
		list = append(list, input{File: name, Width: w, Height: h, RGB: raw, SHA256: hex.EncodeToString(sum[:])})
	}
	js, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "inputs.json"), append(js, '\n'), 0o644); err != nil {
		log.Fatal(err)
	}
	log.Printf("wrote %d images to %s", len(list), out)
}
