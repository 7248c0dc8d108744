package detect

import (
	"fmt"

	"github.com/vigil-edge/vigil/infer"
)

// Detector finds faces in an image. Detect returns detections in the pixels
// of im, by descending score. A Detector holds executor sessions: it is not
// safe for concurrent use (make one per goroutine); Close releases them.
type Detector interface {
	Detect(im *infer.Image) ([]Detection, error)
	Close()
}

// Options are the settings every detector shares.
type Options struct {
	// Precision selects the float32 or the int8 executor. Int8 needs the
	// graphs' Ranges (see the Calibrate* functions).
	Precision infer.Precision
	// Threads per session; 0 means one per CPU.
	Threads int
}

// runner runs one graph at several input shapes: a model reshaped per shape
// (sharing packed weights) and one session each, made on first use.
type runner struct {
	g     *infer.Graph
	base  *infer.Model
	cache map[infer.Shape]*infer.Session
	order []infer.Shape // first-use order, for eviction
}

// maxShapes bounds the sessions a runner keeps (every pyramid level of a
// few image sizes); the oldest is closed when a new shape would exceed it.
const maxShapes = 48

func newRunner(g *infer.Graph, o Options) (*runner, error) {
	if g == nil {
		return nil, fmt.Errorf("detect: nil graph")
	}
	m, err := infer.NewModel(g, infer.Options{Precision: o.Precision, Threads: o.Threads})
	if err != nil {
		return nil, fmt.Errorf("detect: model %q (%v): %w", g.Meta.Name, o.Precision, err)
	}
	return &runner{g: g, base: m, cache: map[infer.Shape]*infer.Session{}}, nil
}

// session returns the session for input shape s.
func (r *runner) session(s infer.Shape) (*infer.Session, error) {
	if ss, ok := r.cache[s]; ok {
		return ss, nil
	}
	m := r.base
	if m.InputShape(0) != s {
		var err error
		m, err = r.base.Reshape(s)
		if err != nil {
			return nil, fmt.Errorf("detect: model %q at input %v: %w", r.g.Meta.Name, s, err)
		}
	}
	if len(r.order) >= maxShapes {
		old := r.order[0]
		r.order = r.order[1:]
		r.cache[old].Close()
		delete(r.cache, old)
	}
	ss := m.NewSession()
	r.cache[s] = ss
	r.order = append(r.order, s)
	return ss, nil
}

func (r *runner) close() {
	for _, s := range r.cache {
		s.Close()
	}
	r.cache = map[infer.Shape]*infer.Session{}
	r.order = nil
}

// inputShape is the graph's declared input shape.
func (r *runner) inputShape() infer.Shape { return r.g.Inputs[0].Shape }

// batchSize picks the batch for n remaining crops: the smallest power of two
// holding them, at most maxBatch, so few distinct shapes are compiled.
func batchSize(n, maxBatch int) int {
	b := 1
	for b < n && b < maxBatch {
		b *= 2
	}
	return b
}

// outputIndex finds a graph output by name.
func outputIndex(g *infer.Graph, name string) (int, error) {
	for i, o := range g.Outputs {
		if o == name {
			return i, nil
		}
	}
	return 0, fmt.Errorf("detect: model %q has no output %q (outputs %v)", g.Meta.Name, name, g.Outputs)
}
