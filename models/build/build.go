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

// calibrationFrames pastes the johns chips onto 640x480 canvases
// (detect.CalibrationScenes: two to four faces per frame at 40..200 pixels,
// on smooth gradients, with a fixed seed).
func (s *sources) calibrationFrames(c *Config) ([]*infer.Image, error) {
	if s.frames != nil {
		return s.frames, nil
	}
	chips, err := images(filepath.Join(c.Testdata, "johns"))
	if err != nil {
		return nil, err
	}
	s.frames = detect.CalibrationScenes(chips, 640, 480, 12, 2026)
	return s.frames, nil
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
