//go:build cgo

package ort

import (
	"fmt"
	"slices"
	"sync"

	ortgo "github.com/yalue/onnxruntime_go"
	"google.golang.org/protobuf/proto"

	"github.com/vigil-edge/vigil/infer/onnx"
	"github.com/vigil-edge/vigil/infer/onnx/onnxpb"
)

var (
	initMu   sync.Mutex
	initPath string
)

// Init loads the ONNX Runtime shared library at path ("" for LibraryPath)
// once per process. Calling it again with the same path is a no-op.
func Init(path string) error {
	initMu.Lock()
	defer initMu.Unlock()
	if path == "" {
		p, err := LibraryPath()
		if err != nil {
			return err
		}
		path = p
	}
	if ortgo.IsInitialized() {
		if path != initPath {
			return fmt.Errorf("ONNX Runtime already loaded from %s, not %s", initPath, path)
		}
		return nil
	}
	ortgo.SetSharedLibraryPath(path)
	if err := ortgo.InitializeEnvironment(ortgo.WithLogLevelError()); err != nil {
		return fmt.Errorf("%w: load %s: %v", ErrUnavailable, path, err)
	}
	initPath = path
	return nil
}

// Version is the loaded ONNX Runtime's version ("" before Init).
func Version() string {
	if !ortgo.IsInitialized() {
		return ""
	}
	return ortgo.GetVersion()
}

// Session is a loaded model with preallocated float32 input and output
// tensors: Run allocates nothing. One Session per goroutine.
type Session struct {
	s       *ortgo.AdvancedSession
	ins     []*ortgo.Tensor[float32]
	outs    []*ortgo.Tensor[float32]
	inInfo  []TensorInfo
	outInfo []TensorInfo
}

// NewSession loads an ONNX model (the file's bytes). Init is called with
// the default library when it has not been.
func NewSession(model []byte, opts Options) (*Session, error) {
	if err := Init(""); err != nil && !ortgo.IsInitialized() {
		return nil, err
	}
	if len(opts.Outputs) > 0 {
		var err error
		if model, err = withOutputs(model, opts.Outputs); err != nil {
			return nil, err
		}
	}
	ins, outs, err := ortgo.GetInputOutputInfoWithONNXData(model)
	if err != nil {
		return nil, fmt.Errorf("onnxruntime: read model: %w", err)
	}
	if len(opts.Outputs) > 0 {
		byName := map[string]ortgo.InputOutputInfo{}
		for _, o := range outs {
			byName[o.Name] = o
		}
		outs = outs[:0]
		for _, name := range opts.Outputs {
			o, ok := byName[name]
			if !ok {
				return nil, fmt.Errorf("onnxruntime: model has no tensor %q to output", name)
			}
			outs = append(outs, o)
		}
	}
	s := &Session{}
	so, err := ortgo.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("onnxruntime: %w", err)
	}
	defer so.Destroy()
	if opts.Threads > 0 {
		if err := so.SetIntraOpNumThreads(opts.Threads); err != nil {
			return nil, fmt.Errorf("onnxruntime: threads: %w", err)
		}
		if err := so.SetInterOpNumThreads(1); err != nil {
			return nil, fmt.Errorf("onnxruntime: threads: %w", err)
		}
	}
	var inNames, outNames []string
	var inVals, outVals []ortgo.Value
	mk := func(info ortgo.InputOutputInfo) (*ortgo.Tensor[float32], TensorInfo, error) {
		if info.OrtValueType != ortgo.ONNXTypeTensor || info.DataType != ortgo.TensorElementDataTypeFloat {
			return nil, TensorInfo{}, fmt.Errorf("onnxruntime: %q is not a float32 tensor", info.Name)
		}
		dims := slices.Clone([]int64(info.Dimensions))
		for k, d := range dims {
			if d <= 0 {
				if k != 0 {
					return nil, TensorInfo{}, fmt.Errorf("onnxruntime: %q has dynamic dimension %d", info.Name, k)
				}
				dims[k] = 1
			}
		}
		t, err := ortgo.NewEmptyTensor[float32](ortgo.NewShape(dims...))
		if err != nil {
			return nil, TensorInfo{}, fmt.Errorf("onnxruntime: tensor %q: %w", info.Name, err)
		}
		return t, TensorInfo{Name: info.Name, Shape: dims}, nil
	}
	for _, in := range ins {
		t, ti, err := mk(in)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.ins, s.inInfo = append(s.ins, t), append(s.inInfo, ti)
		inNames, inVals = append(inNames, in.Name), append(inVals, t)
	}
	for _, o := range outs {
		t, ti, err := mk(o)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.outs, s.outInfo = append(s.outs, t), append(s.outInfo, ti)
		outNames, outVals = append(outNames, o.Name), append(outVals, t)
	}
	s.s, err = ortgo.NewAdvancedSessionWithONNXData(model, inNames, outNames, inVals, outVals, so)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("onnxruntime: session: %w", err)
	}
	return s, nil
}

// withOutputs adds the named tensors to the model's graph outputs (ONNX
// Runtime fetches only graph outputs).
func withOutputs(model []byte, names []string) ([]byte, error) {
	m, err := onnx.Decode(model)
	if err != nil {
		return nil, err
	}
	g := m.GetGraph()
	have := map[string]bool{}
	for _, o := range g.GetOutput() {
		have[o.GetName()] = true
	}
	for _, n := range names {
		if !have[n] {
			g.Output = append(g.Output, &onnxpb.ValueInfoProto{Name: n, Type: &onnxpb.TypeProto{
				Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: int32(onnxpb.TensorProto_FLOAT)}}}})
		}
	}
	return proto.Marshal(m)
}

// Inputs describes the model's inputs.
func (s *Session) Inputs() []TensorInfo { return s.inInfo }

// Outputs describes the fetched outputs.
func (s *Session) Outputs() []TensorInfo { return s.outInfo }

// Input returns input i's buffer to fill.
func (s *Session) Input(i int) []float32 { return s.ins[i].GetData() }

// Output returns output i's values after Run.
func (s *Session) Output(i int) []float32 { return s.outs[i].GetData() }

// Run runs the model on the inputs.
func (s *Session) Run() error { return s.s.Run() }

// Close releases the session and its tensors.
func (s *Session) Close() {
	if s.s != nil {
		s.s.Destroy()
	}
	for _, t := range s.ins {
		t.Destroy()
	}
	for _, t := range s.outs {
		t.Destroy()
	}
	s.s, s.ins, s.outs = nil, nil, nil
}
