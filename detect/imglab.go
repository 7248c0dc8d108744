package detect

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Dataset is a set of labelled images, read from dlib imglab XML.
type Dataset struct {
	Name   string
	Images []LabeledImage
}

// LabeledImage is one image of a dataset and its boxes.
type LabeledImage struct {
	// Path is the image file, resolved against the XML file's folder.
	Path string
	// W, H are the size the XML states (0 when absent).
	W, H int
	// Boxes are the faces to find.
	Boxes []Box
	// Ignore are boxes a detection may match without counting as a true or a
	// false positive (imglab ignore='1').
	Ignore []Box
}

// Faces is the number of non-ignored boxes over all images.
func (d *Dataset) Faces() int {
	n := 0
	for _, im := range d.Images {
		n += len(im.Boxes)
	}
	return n
}

type xmlDataset struct {
	Name   string     `xml:"name"`
	Images []xmlImage `xml:"images>image"`
}

type xmlImage struct {
	File   string   `xml:"file,attr"`
	Width  int      `xml:"width,attr"`
	Height int      `xml:"height,attr"`
	Boxes  []xmlBox `xml:"box"`
}

type xmlBox struct {
	Top    float32 `xml:"top,attr"`
	Left   float32 `xml:"left,attr"`
	Width  float32 `xml:"width,attr"`
	Height float32 `xml:"height,attr"`
	Ignore string  `xml:"ignore,attr"`
}

// ReadImglab reads a dlib imglab XML file. Image paths are resolved against
// the folder of the XML file (absolute paths are kept).
func ReadImglab(path string) (*Dataset, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("imglab: %w", err)
	}
	ds, err := ParseImglab(bytes.NewReader(data), filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("imglab %q: %w", path, err)
	}
	return ds, nil
}

// ParseImglab parses imglab XML from r, resolving relative image paths against dir.
func ParseImglab(r io.Reader, dir string) (*Dataset, error) {
	dec := xml.NewDecoder(r)
	dec.CharsetReader = charsetReader
	var x xmlDataset
	if err := dec.Decode(&x); err != nil {
		return nil, err
	}
	ds := &Dataset{Name: x.Name}
	for i, im := range x.Images {
		if im.File == "" {
			return nil, fmt.Errorf("image %d has no file attribute", i)
		}
		p := im.File
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, filepath.FromSlash(p))
		}
		li := LabeledImage{Path: p, W: im.Width, H: im.Height}
		for j, b := range im.Boxes {
			if !(b.Width > 0 && b.Height > 0) {
				return nil, fmt.Errorf("image %q: box %d has size %vx%v", im.File, j, b.Width, b.Height)
			}
			box := Box{X: b.Left, Y: b.Top, W: b.Width, H: b.Height}
			if b.Ignore == "1" || strings.EqualFold(b.Ignore, "true") {
				li.Ignore = append(li.Ignore, box)
			} else {
				li.Boxes = append(li.Boxes, box)
			}
		}
		ds.Images = append(ds.Images, li)
	}
	return ds, nil
}

// charsetReader accepts the encodings imglab writes: UTF-8 and ISO-8859-1
// (Latin-1, whose bytes are the first 256 code points).
func charsetReader(label string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(label) {
	case "utf-8", "utf8", "us-ascii", "ascii":
		return in, nil
	case "iso-8859-1", "latin1", "latin-1", "iso8859-1":
		b, err := io.ReadAll(in)
		if err != nil {
			return nil, err
		}
		out := make([]byte, 0, len(b))
		for _, c := range b {
			out = utf8.AppendRune(out, rune(c))
		}
		return bytes.NewReader(out), nil
	}
	return nil, errors.New("unsupported XML encoding " + label + " (want UTF-8 or ISO-8859-1)")
}
