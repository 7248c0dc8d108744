// Package build makes the embedded .vq models from the pinned model files
// (scripts/fetch-models.sh) and the public-domain photographs in
// ../shared/testdata: it builds each float graph, calibrates its activation
// ranges, quantizes its weights to int8 and encodes it.
//
// The output is a pure function of its inputs: file lists are sorted,
// augmentation uses fixed seeds, and the .vq encoding is deterministic, so
// `make models` reproduces the committed files byte for byte on the same
// architecture. (The float executor's rounding can differ in the last bit
// between amd64 and arm64, which can move a calibrated range; the committed
// files are built on amd64.)
//
// Calibration never sees the photographs the models are evaluated on:
//   - detectors (MTCNN, tiny face) are calibrated on frames made by pasting
//     the face chips of ../shared/testdata/johns, at several sizes and
//     places, onto a 640x480 canvas; they are evaluated on testdata/faces;
//   - the recognition network is calibrated on face crops cut from the
//     photographs of testdata/faces (other people); it is evaluated on johns.
package build

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vigil-edge/vigil/detect"
	"github.com/vigil-edge/vigil/face"
	"github.com/vigil-edge/vigil/infer"
	"github.com/vigil-edge/vigil/infer/tfjs"
	"github.com/vigil-edge/vigil/models"
)

// Method is the calibration observer of the embedded models.
const Method = "percentile"

// Config says where the inputs are and where the models go.
type Config struct {
	Cache    string    // fetched model files (models.CacheDir())
	Testdata string    // ../shared/testdata
	Out      string    // models/embed
	Only     []string  // build only these models (default: all)
	Log      io.Writer // progress lines; nil for none
}

// Target is one embedded model and how to make it.
type Target struct {
	Name  string
	build func(c *Config, s *sources) (*infer.Graph, error)
}

// Targets lists the embedded models in build order.
func Targets() []Target {
	return []Target{
		{models.TinyFace, buildTinyFace},
		{models.MTCNNPNet, func(c *Config, s *sources) (*infer.Graph, error) { return s.mtcnnStage(c, 0) }},
		{models.MTCNNRNet, func(c *Config, s *sources) (*infer.Graph, error) { return s.mtcnnStage(c, 1) }},
		{models.MTCNNONet, func(c *Config, s *sources) (*infer.Graph, error) { return s.mtcnnStage(c, 2) }},
		{models.FaceRecognition, buildFaceRecognition},
	}
}

// sources caches what several targets share.
type sources struct {
	frames []*infer.Image
	mtcnn  []*infer.Graph // the three calibrated stages, made once
}

func (c *Config) logf(format string, args ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, format+"\n", args...)
	}
}

// Run builds the selected models and writes them to c.Out as NAME.vq.
func Run(c *Config) error {
	if err := os.MkdirAll(c.Out, 0o755); err != nil {
		return err
	}
	s := &sources{}
	for _, t := range Targets() {
		if len(c.Only) > 0 && !contains(c.Only, t.Name) {
			continue
		}
		c.logf("building %s", t.Name)
		g, err := t.build(c, s)
		if err != nil {
			return fmt.Errorf("%s: %w", t.Name, err)
		}
		b, err := Encode(g)
		if err != nil {
			return fmt.Errorf("%s: %w", t.Name, err)
		}
		path := filepath.Join(c.Out, t.Name+".vq")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return err
		}
		c.logf("wrote %s (%d bytes)", path, len(b))
	}
	return nil
}

// Encode quantizes g's weights (ranges must be set) and encodes it.
func Encode(g *infer.Graph) ([]byte, error) {
	if err := infer.QuantizeWeights(g); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := infer.Encode(&buf, g); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// images loads the JPEGs under dir, sorted by path.
func images(dir string) ([]*infer.Image, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.EqualFold(filepath.Ext(p), ".jpg") {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	if len(paths) == 0 {
		return nil, fmt.Errorf("no JPEG under %s", dir)
	}
	out := make([]*infer.Image, 0, len(paths))
	for _, p := range paths {
		im, err := infer.LoadImage(p)
		if err != nil {
			return nil, err
		}
		out = append(out, im)
	}
	return out, nil
}

// calibrationFrames pastes the johns chips onto 640x480 canvases: two to
// four faces per frame at 40..200 pixels, on a background of smooth
// gradients, with a fixed seed.
func (s *sources) calibrationFrames(c *Config) ([]*infer.Image, error) {
	if s.frames != nil {
		return s.frames, nil
	}
	chips, err := images(filepath.Join(c.Testdata, "johns"))
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(2026, 11))
	const w, h = 640, 480
	var frames []*infer.Image
	for f := 0; f < 12; f++ {
		im := infer.NewImage(w, h)
		r0, g0, b0 := rng.IntN(200), rng.IntN(200), rng.IntN(200)
		for y := range h {
			for x := range w {
				o := 3 * (y*w + x)
				im.Pix[o] = uint8(r0 + 55*x/w)
				im.Pix[o+1] = uint8(g0 + 55*y/h)
				im.Pix[o+2] = uint8(b0 + 55*(x+y)/(w+h))
			}
		}
		for k := 2 + rng.IntN(3); k > 0; k-- {
			chip := chips[rng.IntN(len(chips))]
			size := 40 + rng.IntN(161)
			paste(im, chip, rng.IntN(w-size), rng.IntN(h-size), size)
		}
		frames = append(frames, im)
	}
	s.frames = frames
	return frames, nil
}

// paste draws src scaled to size x size at (x0, y0) (nearest neighbour).
func paste(dst, src *infer.Image, x0, y0, size int) {
	for y := range size {
		sy := y * src.H / size
		for x := range size {
			sx := x * src.W / size
			copy(dst.Pix[3*((y0+y)*dst.W+x0+x):][:3], src.Pix[3*(sy*src.W+sx):][:3])
		}
	}
}

func buildTinyFace(c *Config, s *sources) (*infer.Graph, error) {
	g, err := tfjs.TinyFaceDetector(filepath.Join(c.Cache, "face-api"))
	if err != nil {
		return nil, err
	}
	frames, err := s.calibrationFrames(c)
	if err != nil {
		return nil, err
	}
	// Letterboxed to the input as the detector does it.
	if g.Ranges, err = detect.CalibrateTiny(g, frames, Method, detect.TinyOptions{}); err != nil {
		return nil, err
	}
	return g, nil
}

// mtcnnStage returns stage i of the MTCNN cascade, all three calibrated
// together on what each stage sees when the float cascade runs on the
// calibration frames (P-Net on every pyramid level, R-Net and O-Net on the
// crops of the previous stage's candidates).
func (s *sources) mtcnnStage(c *Config, i int) (*infer.Graph, error) {
	if s.mtcnn == nil {
		p, r, o, err := tfjs.MTCNN(filepath.Join(c.Cache, "mtcnn"))
		if err != nil {
			return nil, err
		}
		frames, err := s.calibrationFrames(c)
		if err != nil {
			return nil, err
		}
		pr, rr, or, err := detect.CalibrateMTCNN(p, r, o, frames, Method, detect.MTCNNOptions{})
		if err != nil {
			return nil, err
		}
		p.Ranges, r.Ranges, o.Ranges = pr, rr, or
		s.mtcnn = []*infer.Graph{p, r, o}
	}
	return s.mtcnn[i], nil
}

func buildFaceRecognition(c *Config, s *sources) (*infer.Graph, error) {
	g, err := tfjs.FaceRecognition(filepath.Join(c.Cache, "face-api"))
	if err != nil {
		return nil, err
	}
	ds, err := detect.ReadImglab(filepath.Join(c.Testdata, "faces", "training.xml"))
	if err != nil {
		return nil, err
	}
	size := g.Inputs[0].Shape[1]
	var chips []*infer.Image
	for _, li := range ds.Images {
		im, err := infer.LoadImage(li.Path)
		if err != nil {
			return nil, err
		}
		for _, b := range li.Boxes {
			chip, _, err := face.CropBox(im, b.X, b.Y, b.W, b.H, face.BoxMargin, size)
			if err != nil {
				return nil, err
			}
			chips = append(chips, chip, face.Flip(chip))
		}
	}
	c.logf("  %d face crops from testdata/faces", len(chips))
	xs, err := face.CalibrationInputs(g, chips)
	if err != nil {
		return nil, err
	}
	if g.Ranges, err = infer.Calibrate(g, xs, Method); err != nil {
		return nil, err
	}
	return g, nil
}
