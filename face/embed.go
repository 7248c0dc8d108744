package face

import (
	"errors"
	"fmt"
	"sync"

	"github.com/vigil-edge/vigil/infer"
)

// Embedder turns an aligned face chip into an L2-normalised embedding.
type Embedder interface {
	// Embed writes the embedding of chip into dst (len(dst) >= Dim()). A
	// chip of another size is resized (bilinear) to InputSize first.
	Embed(chip *infer.Image, dst []float32) error
	// Dim is the embedding's length.
	Dim() int
	// InputSize is the side in pixels of the square chip the network takes.
	InputSize() int
	// Name identifies the embedding space (network and weights, not the
	// precision: int8 and float embeddings of one network are comparable).
	// Galleries record it and refuse embeddings from another space.
	Name() string
}

// GraphEmbedder runs an embedding network on the infer engine. It is safe
// for concurrent use; calls are serialised on one session (make one
// embedder per worker goroutine to embed in parallel).
type GraphEmbedder struct {
	name  string
	model *infer.Model
	meta  infer.Meta
	size  int
	dim   int

	mu   sync.Mutex
	sess *infer.Session
}

var _ Embedder = (*GraphEmbedder)(nil)

// NewGraphEmbedder compiles g (one [1, S, S, 3] input, one output of Dim
// values; preprocessing from g.Meta) with opt. name labels the embedding
// space (e.g. "face-api-resnet128").
func NewGraphEmbedder(name string, g *infer.Graph, opt infer.Options) (*GraphEmbedder, error) {
	if len(g.Inputs) != 1 {
		return nil, fmt.Errorf("embedder %q: graph has %d inputs, want 1", name, len(g.Inputs))
	}
	in := g.Inputs[0].Shape
	if in[0] != 1 || in[1] != in[2] || in[3] != 3 {
		return nil, fmt.Errorf("embedder %q: input shape %v, want [1 S S 3]", name, in)
	}
	m, err := infer.NewModel(g, opt)
	if err != nil {
		return nil, fmt.Errorf("embedder %q: %w", name, err)
	}
	if m.NumOutputs() < 1 {
		return nil, fmt.Errorf("embedder %q: graph has no output", name)
	}
	return &GraphEmbedder{name: name, model: m, meta: g.Meta, size: in[1], dim: m.OutputShape(0).Elems(), sess: m.NewSession()}, nil
}

// Name implements Embedder.
func (e *GraphEmbedder) Name() string { return e.name }

// Dim implements Embedder.
func (e *GraphEmbedder) Dim() int { return e.dim }

// InputSize implements Embedder.
func (e *GraphEmbedder) InputSize() int { return e.size }

// Precision is the executor's precision.
func (e *GraphEmbedder) Precision() infer.Precision { return e.model.Precision() }

// Embed implements Embedder.
func (e *GraphEmbedder) Embed(chip *infer.Image, dst []float32) error {
	if len(dst) < e.dim {
		return fmt.Errorf("embed: destination holds %d values, need %d", len(dst), e.dim)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sess == nil {
		return errors.New("embed: embedder is closed")
	}
	if err := e.meta.Preprocess(e.sess.Input(0), e.size, e.size, chip, 0, 0, float32(chip.W), float32(chip.H)); err != nil {
		return fmt.Errorf("embed: %w", err)
	}
	if err := e.sess.Run(); err != nil {
		return fmt.Errorf("embed: %w", err)
	}
	copy(dst[:e.dim], e.sess.Output(0))
	if !Normalize(dst[:e.dim]) {
		return fmt.Errorf("embed: network %q produced a zero or non-finite embedding", e.name)
	}
	return nil
}

// Close releases the session. The embedder must not be used afterwards.
func (e *GraphEmbedder) Close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sess != nil {
		e.sess.Close()
		e.sess = nil
	}
}

// CalibrationInputs preprocesses chips into network inputs for
// infer.Calibrate, for int8 embedders calibrated on real faces.
func CalibrationInputs(g *infer.Graph, chips []*infer.Image) ([][]float32, error) {
	if len(g.Inputs) != 1 {
		return nil, fmt.Errorf("calibration: graph has %d inputs, want 1", len(g.Inputs))
	}
	s := g.Inputs[0].Shape
	out := make([][]float32, 0, len(chips))
	for _, c := range chips {
		x := make([]float32, s.Elems())
		if err := g.Meta.Preprocess(x, s[2], s[1], c, 0, 0, float32(c.W), float32(c.H)); err != nil {
			return nil, fmt.Errorf("calibration: %w", err)
		}
		out = append(out, x)
	}
	return out, nil
}
