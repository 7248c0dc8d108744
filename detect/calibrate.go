package detect

import (
	"fmt"
	"slices"

	"github.com/vigil-edge/vigil/infer"
)

// calibMaxSamples caps the calibration samples per graph: enough for stable
// ranges, few enough that calibrating stays a matter of seconds.
const calibMaxSamples = 400

// CalibrateMTCNN runs the float cascade (with opt's pyramid and thresholds)
// over images and calibrates each stage on what it sees there: P-Net on
// every pyramid level (calibrated per level size, the ranges merged: ranges
// are per tensor name, so they hold for any input size), R-Net on the crops
// of P-Net's candidates,
// O-Net on the crops of R-Net's. method is infer.Calibrate's. The graphs are
// not modified; set the returned ranges on copies (WithRanges).
//
// The images should be like the deployment's frames but never the
// evaluation set: the tests use ../shared/testdata/johns and evaluate on
// ../shared/testdata/faces.
func CalibrateMTCNN(p, r, o *infer.Graph, images []*infer.Image, method string, opt MTCNNOptions) (pr, rr, or map[string]infer.Range, err error) {
	if len(images) == 0 {
		return nil, nil, nil, fmt.Errorf("detect: calibrate MTCNN: no images")
	}
	opt.Precision = infer.Float32
	m, err := NewMTCNN(p, r, o, opt)
	if err != nil {
		return nil, nil, nil, err
	}
	defer m.Close()
	var samples [3][][]float32
	levels := map[infer.Shape][][]float32{}
	var shapes []infer.Shape
	collect := func(stage int, in []float32, shape infer.Shape) {
		if stage != 1 {
			samples[stage-1] = append(samples[stage-1], slices.Clone(in))
			return
		}
		if _, ok := levels[shape]; !ok {
			shapes = append(shapes, shape)
		}
		levels[shape] = append(levels[shape], slices.Clone(in))
	}
	for _, im := range images {
		if _, err := m.detect(im, collect); err != nil {
			return nil, nil, nil, err
		}
	}
	var out [3]map[string]infer.Range
	// P-Net: one calibration per level size, each on an even share of the
	// samples, merged by taking the widest range.
	for _, s := range shapes {
		xs := thin(levels[s], max(calibMaxSamples/len(shapes), 4))
		r, err := infer.Calibrate(withInput(p, s), xs, method)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("detect: calibrate %s at %v: %w", p.Meta.Name, s, err)
		}
		out[0] = mergeRanges(out[0], r)
	}
	if out[0] == nil {
		return nil, nil, nil, fmt.Errorf("detect: calibrate MTCNN: the %d images are smaller than the minimum face", len(images))
	}
	for i, g := range []*infer.Graph{r, o} {
		xs := thin(samples[i+1], calibMaxSamples)
		if len(xs) == 0 {
			return nil, nil, nil, fmt.Errorf("detect: calibrate MTCNN: the %d images gave no input for %s (no faces found?)", len(images), g.Meta.Name)
		}
		s := g.Inputs[0].Shape
		s[0] = 1
		if out[i+1], err = infer.Calibrate(withInput(g, s), xs, method); err != nil {
			return nil, nil, nil, fmt.Errorf("detect: calibrate %s on %d samples: %w", g.Meta.Name, len(xs), err)
		}
	}
	return out[0], out[1], out[2], nil
}

// withInput is a shallow copy of g with input shape s.
func withInput(g *infer.Graph, s infer.Shape) *infer.Graph {
	c := *g
	c.Inputs = slices.Clone(g.Inputs)
	c.Inputs[0].Shape = s
	return &c
}

// mergeRanges widens a by b (a may be nil).
func mergeRanges(a, b map[string]infer.Range) map[string]infer.Range {
	if a == nil {
		a = make(map[string]infer.Range, len(b))
		for k, v := range b {
			a[k] = v
		}
		return a
	}
	for k, v := range b {
		if w, ok := a[k]; ok {
			v = infer.Range{Min: min(v.Min, w.Min), Max: max(v.Max, w.Max)}
		}
		a[k] = v
	}
	return a
}

// thin keeps at most n of xs, evenly spaced (deterministic).
func thin(xs [][]float32, n int) [][]float32 {
	if len(xs) <= n {
		return xs
	}
	out := make([][]float32, n)
	for i := range n {
		out[i] = xs[i*len(xs)/n]
	}
	return out
}

// WithRanges returns a shallow copy of g carrying ranges (for the int8
// executor); g itself is not modified.
func WithRanges(g *infer.Graph, ranges map[string]infer.Range) *infer.Graph {
	c := *g
	c.Ranges = ranges
	return &c
}

// calibrateSingle calibrates a single-shot detector graph on images at input
// shape in, preprocessed as Detect does (prep writes one image into dst).
func calibrateSingle(g *infer.Graph, in infer.Shape, images []*infer.Image, method string, prep func(dst []float32, im *infer.Image) error) (map[string]infer.Range, error) {
	xs, err := singleSamples(g, in, images, prep)
	if err != nil {
		return nil, err
	}
	r, err := infer.Calibrate(withInput(g, in), xs, method)
	if err != nil {
		return nil, fmt.Errorf("detect: calibrate %s on %d images: %w", g.Meta.Name, len(xs), err)
	}
	return r, nil
}

// singleSamples preprocesses images for a single-shot detector graph at
// input shape in (prep writes one image into dst).
func singleSamples(g *infer.Graph, in infer.Shape, images []*infer.Image, prep func(dst []float32, im *infer.Image) error) ([][]float32, error) {
	if len(images) == 0 {
		return nil, fmt.Errorf("detect: calibrate %s: no images", g.Meta.Name)
	}
	n := in.Elems()
	xs := make([][]float32, 0, len(images))
	for _, im := range images {
		x := make([]float32, n)
		if err := prep(x, im); err != nil {
			return nil, err
		}
		xs = append(xs, x)
	}
	return xs, nil
}
