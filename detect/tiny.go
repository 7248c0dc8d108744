package detect

import (
	"encoding/json"
	"fmt"

	"github.com/vigil-edge/vigil/infer"
)

// TinyOptions configure the tiny face detector.
type TinyOptions struct {
	Options
	// InputSize is the square input side, a multiple of 32 (default 416;
	// larger finds smaller faces, slower).
	InputSize int
	// Threshold is the minimum score (default 0.5, face-api's).
	Threshold float32
	// IoU is the NMS threshold (default: the model's "iou_threshold", else 0.4).
	IoU float32
}

// TinyFaceDetector decodes face-api's tiny face detector (tiny-YOLOv2, one
// class, 5 anchors) from infer/tfjs.TinyFaceDetector: the image is
// letterboxed to a square (black at the bottom/right), the net gives a grid
// of S x S cells of 5 anchors x (tx, ty, tw, th, score), and a box is
// cx = (col + sigmoid(tx)) * 32, w = exp(tw) * anchor_w * 32 input pixels,
// score = sigmoid(score).
type TinyFaceDetector struct {
	opt     TinyOptions
	r       *runner
	anchors [][2]float32
	tmp     []float32
}

var _ Detector = (*TinyFaceDetector)(nil)

// NewTinyFaceDetector compiles g for opt.InputSize.
func NewTinyFaceDetector(g *infer.Graph, opt TinyOptions) (*TinyFaceDetector, error) {
	if g == nil {
		return nil, fmt.Errorf("detect: nil tiny face detector graph")
	}
	if opt.InputSize <= 0 {
		opt.InputSize = 416
	}
	if opt.InputSize%32 != 0 {
		return nil, fmt.Errorf("detect: tiny face detector input size %d is not a multiple of 32", opt.InputSize)
	}
	if opt.Threshold <= 0 {
		opt.Threshold = 0.5
	}
	if opt.IoU <= 0 {
		opt.IoU = 0.4
		if v, ok := g.Meta.Extra["iou_threshold"]; ok {
			var f float32
			if _, err := fmt.Sscan(v, &f); err == nil && f > 0 {
				opt.IoU = f
			}
		}
	}
	var anchors [][2]float32
	if err := json.Unmarshal([]byte(g.Meta.Extra["anchors"]), &anchors); err != nil || len(anchors) == 0 {
		return nil, fmt.Errorf("detect: model %q: Meta.Extra[\"anchors\"] = %q is not a JSON list of [w, h] pairs", g.Meta.Name, g.Meta.Extra["anchors"])
	}
	r, err := newRunner(g, opt.Options)
	if err != nil {
		return nil, err
	}
	return &TinyFaceDetector{opt: opt, r: r, anchors: anchors}, nil
}

// Close releases the session.
func (d *TinyFaceDetector) Close() { d.r.close() }

// Detect finds faces in im.
func (d *TinyFaceDetector) Detect(im *infer.Image) ([]Detection, error) {
	sess, err := d.input(im)
	if err != nil {
		return nil, err
	}
	if err := sess.s.Run(); err != nil {
		return nil, fmt.Errorf("tiny face detector: %w", err)
	}
	return d.decode(sess.s, sess.sx, sess.sy, im)
}

type prepared struct {
	s      *infer.Session
	sx, sy float32
}

// input letterboxes im into the session's input.
func (d *TinyFaceDetector) input(im *infer.Image) (prepared, error) {
	n := d.opt.InputSize
	s, err := d.r.session(infer.Shape{1, n, n, 3})
	if err != nil {
		return prepared{}, err
	}
	sx, sy, err := letterbox(&d.r.g.Meta, s.Input(0), n, n, im, &d.tmp)
	if err != nil {
		return prepared{}, fmt.Errorf("tiny face detector: %w", err)
	}
	return prepared{s, sx, sy}, nil
}

func (d *TinyFaceDetector) decode(s *infer.Session, sx, sy float32, im *infer.Image) ([]Detection, error) {
	shape := s.OutputShape(0)
	gh, gw, c := shape[1], shape[2], shape[3]
	na := len(d.anchors)
	if c != 5*na {
		return nil, fmt.Errorf("tiny face detector: output %v has %d channels, want %d (5 per anchor)", shape, c, 5*na)
	}
	cell := float32(d.opt.InputSize) / float32(gw)
	out := s.Output(0)
	var dets []Detection
	for row := range gh {
		for col := range gw {
			v := out[(row*gw+col)*c : (row*gw+col+1)*c]
			for a, an := range d.anchors {
				p := v[5*a : 5*a+5]
				score := Sigmoid(p[4])
				if score < d.opt.Threshold {
					continue
				}
				b := DecodeYOLO(col, row, p[0], p[1], p[2], p[3], an[0], an[1])
				b = Box{X: b.X * cell / sx, Y: b.Y * cell / sy, W: b.W * cell / sx, H: b.H * cell / sy}
				dets = append(dets, Detection{Box: b.Clip(float32(im.W), float32(im.H)), Score: score})
			}
		}
	}
	return NMSDetections(dropEmpty(dets), NMSOptions{Threshold: d.opt.IoU}), nil
}

// CalibrateTiny calibrates the tiny face detector on images letterboxed to
// opt.InputSize as Detect does. g is not modified (see WithRanges).
func CalibrateTiny(g *infer.Graph, images []*infer.Image, method string, opt TinyOptions) (map[string]infer.Range, error) {
	n := opt.InputSize
	if n <= 0 {
		n = 416
	}
	var tmp []float32
	return calibrateSingle(g, infer.Shape{1, n, n, 3}, images, method, func(dst []float32, im *infer.Image) error {
		_, _, err := letterbox(&g.Meta, dst, n, n, im, &tmp)
		return err
	})
}
