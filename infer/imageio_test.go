package infer_test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/face"
	"github.com/vigil-edge/vigil/infer"
)

func smallImage(w, h int) *image.RGBA {
	im := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range im.Pix {
		im.Pix[i] = uint8(i * 7)
	}
	return im
}

func encJPEG(t testing.TB, w, h int) []byte {
	var b bytes.Buffer
	require.NoError(t, jpeg.Encode(&b, smallImage(w, h), nil))
	return b.Bytes()
}

func encPNG(t testing.TB, w, h int) []byte {
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, smallImage(w, h)))
	return b.Bytes()
}

// jpegWithSize rewrites the SOF0 frame header of a baseline JPEG to claim w x h.
func jpegWithSize(t testing.TB, data []byte, w, h int) []byte {
	out := append([]byte(nil), data...)
	i := bytes.Index(out, []byte{0xFF, 0xC0})
	require.Positive(t, i, "no SOF0 marker")
	binary.BigEndian.PutUint16(out[i+5:], uint16(h))
	binary.BigEndian.PutUint16(out[i+7:], uint16(w))
	return out
}

// pngWithSize rewrites the IHDR chunk of a PNG to claim w x h, with a valid CRC.
func pngWithSize(data []byte, w, h uint32) []byte {
	out := append([]byte(nil), data...)
	// signature (8) | length (4) | "IHDR" (4) | width | height | ... | crc
	binary.BigEndian.PutUint32(out[16:], w)
	binary.BigEndian.PutUint32(out[20:], h)
	binary.BigEndian.PutUint32(out[29:], crc32.ChecksumIEEE(out[12:29]))
	return out
}

func encGIF(t testing.TB) []byte {
	var b bytes.Buffer
	pal := image.NewPaletted(image.Rect(0, 0, 8, 8), color.Palette{color.Black, color.White})
	require.NoError(t, gif.Encode(&b, pal, nil))
	return b.Bytes()
}

// TestDecodeImageHostile feeds hostile files to every image decoding path: infer.LoadImage
// and infer.DecodeImage (files for detect, enrol, eval) and face.DecodeChip (the MQTT enrol
// payload and gallery chips). Each refuses with a clear error, never
// panics, and a huge header is refused before the pixels are allocated.
func TestDecodeImageHostile(t *testing.T) {
	okJPEG, okPNG := encJPEG(t, 32, 24), encPNG(t, 32, 24)
	cases := []struct {
		name string
		data []byte
		want string // in the error; "" means it decodes
		size bool   // the error wraps ErrImageSize
	}{
		{"jpeg 32x24", okJPEG, "", false},
		{"png 32x24", okPNG, "", false},
		{"jpeg header 20000x20000", jpegWithSize(t, okJPEG, 20000, 20000), "400000000 pixels", true},
		{"jpeg header 65535x65535", jpegWithSize(t, okJPEG, 65535, 65535), "pixels, at most", true},
		{"jpeg header 65535x1", jpegWithSize(t, okJPEG, 65535, 1), "", false}, // in range: decodes or fails on the data, no panic
		{"jpeg header 0x24", jpegWithSize(t, okJPEG, 0, 24), "0x24 has no pixels", true},
		{"png header 20000x20000", pngWithSize(okPNG, 20000, 20000), "400000000 pixels", true},
		{"png header 2^31-1 square", pngWithSize(okPNG, 1<<31-1, 1<<31-1), "", false},
		{"png header 0x0", pngWithSize(okPNG, 0, 0), "not a JPEG or PNG", false},
		{"empty file", nil, "not a JPEG or PNG", false},
		{"jpeg SOI only", []byte{0xFF, 0xD8}, "not a JPEG or PNG", false},
		{"jpeg truncated in the header", okJPEG[:len(okJPEG)/2], "not a JPEG or PNG", false},
		{"jpeg truncated in the pixels", okJPEG[:len(okJPEG)-8], "32x24 jpeg image", false},
		{"png truncated to half", okPNG[:len(okPNG)/2], "32x24 png image", false},
		{"png signature only", okPNG[:8], "not a JPEG or PNG", false},
		{"text", []byte("name: bob\nthis is not a picture\n"), "not a JPEG or PNG", false},
		{"gif", encGIF(t), "only JPEG and PNG", false},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, "x")
			require.NoError(t, os.WriteFile(path, c.data, 0o600))
			type dec struct {
				name string
				f    func() (*infer.Image, error)
			}
			for _, d := range []dec{
				{"infer.DecodeImage", func() (*infer.Image, error) { return infer.DecodeImage(c.data) }},
				{"infer.LoadImage", func() (*infer.Image, error) { return infer.LoadImage(path) }},
				{"face.DecodeChip", func() (*infer.Image, error) { return face.DecodeChip(c.data) }},
			} {
				var im *infer.Image
				var err error
				require.NotPanics(t, func() { im, err = d.f() }, d.name)
				switch {
				case c.name == "jpeg header 65535x1" || c.name == "png header 2^31-1 square":
					// Either refused or decoded, but never a panic and never a wrong size.
					if err == nil {
						assert.Positive(t, im.W*im.H, d.name)
					} else {
						t.Logf("%s: %v", d.name, err)
					}
				case c.want == "":
					require.NoError(t, err, d.name)
					assert.Equal(t, [2]int{32, 24}, [2]int{im.W, im.H}, d.name)
				default:
					require.Error(t, err, d.name)
					assert.Nil(t, im, d.name)
					assert.ErrorContains(t, err, c.want, d.name)
					if c.size {
						assert.True(t, errorsIsSize(err), "%s: %v should wrap ErrImageSize", d.name, err)
					}
				}
			}
		})
	}
}

func errorsIsSize(err error) bool {
	for e := err; e != nil; {
		if e == infer.ErrImageSize {
			return true
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		e = u.Unwrap()
	}
	return false
}

// A 20000x20000 header must be refused having allocated almost nothing (the pixels would be
// 1.2 GB of RGB).
func TestDecodeImageHugeHeaderAllocatesLittle(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"jpeg", jpegWithSize(t, encJPEG(t, 32, 24), 20000, 20000)},
		{"png", pngWithSize(encPNG(t, 32, 24), 20000, 20000)},
	} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err1 := infer.DecodeImage(tc.data)
		_, err2 := face.DecodeChip(tc.data)
		runtime.ReadMemStats(&after)
		require.ErrorIs(t, err1, infer.ErrImageSize)
		require.ErrorIs(t, err2, infer.ErrImageSize)
		alloc := after.TotalAlloc - before.TotalAlloc
		t.Logf("%s 20000x20000 header: refused by both paths after allocating %d bytes", tc.name, alloc)
		assert.Less(t, alloc, uint64(1<<20), "refusal must come before the pixel buffers")
	}
}

func TestDecodeImageRealPhoto(t *testing.T) {
	p := filepath.Join("..", "..", "shared", "testdata", "faces", "dogs.jpg")
	im, err := infer.LoadImage(p)
	require.NoError(t, err, "the shared test photos are in ../shared/testdata")
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	im2, err := infer.DecodeImage(data)
	require.NoError(t, err)
	assert.Equal(t, im, im2)
	im3, err := face.DecodeChip(data)
	require.NoError(t, err)
	assert.Equal(t, im.W, im3.W)
	assert.Equal(t, im.H, im3.H)
}

// FuzzDecodeImage: any bytes through both decoding paths give an image of the size the
// header claims within MaxImagePixels, or an error; never a panic, never a pixel buffer
// beyond the limit.
func FuzzDecodeImage(f *testing.F) {
	okJPEG, okPNG := encJPEG(f, 17, 9), encPNG(f, 17, 9)
	f.Add(okJPEG)
	f.Add(okPNG)
	f.Add(jpegWithSize(f, okJPEG, 20000, 20000))
	f.Add(pngWithSize(okPNG, 20000, 20000))
	f.Add(okJPEG[:len(okJPEG)/2])
	f.Add(okPNG[:len(okPNG)/2])
	f.Add([]byte("not an image"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, dec := range []func([]byte) (*infer.Image, error){infer.DecodeImage, face.DecodeChip} {
			im, err := dec(data)
			if err != nil {
				if im != nil {
					t.Fatalf("error %v with an image", err)
				}
				continue
			}
			if im.W < 1 || im.H < 1 || im.W*im.H > infer.MaxImagePixels || len(im.Pix) != 3*im.W*im.H {
				t.Fatalf("decoded %dx%d with %d bytes", im.W, im.H, len(im.Pix))
			}
		}
	})
}
