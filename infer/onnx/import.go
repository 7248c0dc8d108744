// Package onnx imports ONNX models (opsets 9 to 13) into vigil's engine
// graph, infer.Graph.
//
// ONNX CNNs are NCHW; vigil's tensors are NHWC. The importer tracks a layout
// for every activation: "nchw" (a rank-4 ONNX tensor [N,C,H,W] stored as
// infer [N,H,W,C], which is what convolutions want) or "plain" (the ONNX
// tensor's own row-major order, stored with its shape padded to 4-D:
// [a,b,c] -> [a,1,b,c], [a,b] -> [a,1,1,b]). Reshape, Flatten, Transpose,
// Softmax and Concat on other axes than channels keep ONNX semantics by
// converting between the two with infer Transpose and Reshape nodes, so every
// graph output holds exactly ONNX Runtime's flat values, in ONNX's order.
//
// Weights are converted once: conv OIHW -> [OC,KH,KW,IC/G], Gemm/MatMul ->
// Dense [OC,1,1,K]. BatchNormalization becomes infer.OpBatchNorm and is
// folded by Graph.Fold; a per-channel constant Add/Mul/Sub/Div becomes an
// Affine (folded into the conv before it where possible); Relu and Clip(0,6)
// fuse into the Conv, Dense, Add or Affine before them. Shape arithmetic
// (Shape, Gather, Unsqueeze, Concat, ConstantOfShape ...) that only computes
// reshape targets is evaluated at import time.
//
// Operators: Conv (any group, stride, padding and auto_pad; dilation by
// zero-inserted kernels), MaxPool, AveragePool (ceil_mode, padding left out
// of the mean), GlobalAveragePool, GlobalMaxPool, ReduceMean over H and W,
// BatchNormalization, Relu, Clip (0..6 or 0..inf), LeakyRelu, PRelu,
// Sigmoid, Softmax, Add, Sum, Mul (same shape, [N,C,1,1] scale, or a
// per-channel constant), Sub and Div by a per-channel constant, Concat,
// Gemm, MatMul, Flatten, Reshape, Squeeze, Unsqueeze, Transpose, Resize and
// Upsample (nearest, integer factor), Pad (zero, spatial, before a Conv),
// Identity, Dropout, and on constants Constant, ConstantOfShape, Shape,
// Gather, Cast, Slice and arithmetic. Concat of one tensor with zero
// constants on channels (tf2onnx's channel padding) becomes a Concat with a
// zero-weight grouped convolution, exact in float32.
//
// The layout of every graph input is recorded in Meta.Extra under LayoutKey
// so a peer runtime can be fed the same data.
//
// An operator or attribute the engine cannot express is refused with an
// error wrapping ErrUnsupported that names the op type and node; nothing is
// skipped silently. Options.Outputs cuts a graph at chosen tensors, e.g.
// before a detector's box-decoding tail that belongs in Go code.
//
// Every allocation is bounded by the size of the file: a fuzzed dimension
// cannot make the importer allocate more than a small multiple of its input.
package onnx

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/vigil-edge/vigil/infer"
	"github.com/vigil-edge/vigil/infer/onnx/onnxpb"
)

// ErrUnsupported is wrapped by the error for an operator, attribute or data
// type the importer cannot translate. The message names the op and node.
var ErrUnsupported = errors.New("unsupported")

// ErrInvalid is wrapped by the error for a malformed or inconsistent file.
var ErrInvalid = errors.New("invalid ONNX model")

// LayoutKey prefixes the Meta.Extra entry that records, for each graph
// input, how the ONNX input maps onto the NHWC infer input: "nchw" (the ONNX
// input is [N,C,H,W]; transpose to feed ONNX Runtime the same data) or
// "plain" (same flat data, as for NHWC models converted by tf2onnx).
const LayoutKey = "onnx.layout."

// MaxFileSize bounds the size of a model file ImportFile and ImportReader accept.
const MaxFileSize = 1 << 30

// Options control an import.
type Options struct {
	// Meta is copied into the graph. Name and Source are filled from the
	// file (ImportFile) or the ONNX graph when empty.
	Meta infer.Meta
	// Outputs, when set, names the ONNX tensors to use as the graph's
	// outputs instead of the file's; only the nodes they need are imported.
	Outputs []string
	// InputShapes overrides or completes the shapes of graph inputs, in
	// ONNX order (e.g. [1 3 240 320]). Without it a symbolic batch
	// dimension is taken as 1 and other symbolic dimensions are refused.
	InputShapes map[string][]int
	// KeepBatchNorm leaves BatchNorm nodes unfolded and activations
	// unfused (the graph then maps one to one onto the ONNX nodes).
	KeepBatchNorm bool
}

// ImportFile reads and imports an .onnx file. Meta.Name defaults to the
// file name without extension and Meta.Source to the path.
func ImportFile(path string, opts Options) (*infer.Graph, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if opts.Meta.Name == "" {
		opts.Meta.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	if opts.Meta.Source == "" {
		opts.Meta.Source = path
	}
	g, err := ImportReader(f, opts)
	if err != nil {
		return nil, fmt.Errorf("onnx %q: %w", path, err)
	}
	return g, nil
}

// ImportReader reads at most MaxFileSize bytes from r and imports them.
func ImportReader(r io.Reader, opts Options) (*infer.Graph, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalid, MaxFileSize)
	}
	return Import(data, opts)
}

// Decode parses an ONNX file into its protobuf form (for tools and tests).
func Decode(data []byte) (*onnxpb.ModelProto, error) {
	var m onnxpb.ModelProto
	if err := (proto.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return &m, nil
}

// Import translates a serialized ONNX model into an infer.Graph whose
// outputs hold ONNX's values in ONNX's order. The returned graph has passed
// Graph.Check.
func Import(data []byte, opts Options) (*infer.Graph, error) {
	m, err := Decode(data)
	if err != nil {
		return nil, err
	}
	im := &importer{
		opts:   opts,
		vals:   map[string]*value{},
		used:   map[string]bool{},
		suffix: map[string]int{},
		byName: map[string]*infer.Node{},
		budget: 2*len(data) + 1<<22,
	}
	g, err := im.run(m)
	if err != nil {
		return nil, err
	}
	return g, nil
}

// readerAt is a node reading a tensor as its input number input.
type readerAt struct {
	node  *onnxpb.NodeProto
	input int
}

// layout says how an activation's ONNX values sit in its infer tensor.
type layout uint8

const (
	plain layout = iota // ONNX row-major order, shape padded to 4-D by to4
	nchw                // rank-4 ONNX [N,C,H,W] stored as infer [N,H,W,C]
)

// value is what an ONNX tensor name stands for during the import: a
// constant, or an activation held in an infer tensor.
type value struct {
	c    *constT             // constant, or nil
	init *onnxpb.TensorProto // initializer not decoded yet

	name  string // infer tensor name
	shape []int  // ONNX shape
	lay   layout

	plainName, nchwName string // cached conversions

	// pendingPad is the [top, left, bottom, right] zero padding of a Pad
	// node not yet applied: name holds the unpadded tensor and the Conv
	// consumers add the padding to theirs.
	pendingPad []int
}

type importer struct {
	opts    Options
	opset   int
	g       *infer.Graph
	vals    map[string]*value
	used    map[string]bool // infer tensor names taken
	suffix  map[string]int  // last suffix uniq gave each base name
	byName  map[string]*infer.Node
	users   map[string]int        // ONNX consumers (needed nodes and outputs) per tensor
	readers map[string][]readerAt // the needed nodes reading each tensor
	budget  int                   // elements the importer may still allocate
	node    *onnxpb.NodeProto
}

// spend reserves n elements of the allocation budget.
func (im *importer) spend(n int) error {
	if n < 0 || n > im.budget {
		return fmt.Errorf("%w: needs %d more elements than the file's size allows", ErrInvalid, n)
	}
	im.budget -= n
	return nil
}

// unsupported builds an ErrUnsupported error naming the current node.
func (im *importer) unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrUnsupported, im.nodeDesc(), fmt.Sprintf(format, args...))
}

// invalid builds an ErrInvalid error naming the current node.
func (im *importer) invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalid, im.nodeDesc(), fmt.Sprintf(format, args...))
}

// nodeDesc names the current node by its name, or by its output when it
// has none (tf2onnx leaves some nodes unnamed).
func (im *importer) nodeDesc() string {
	n := im.node
	if n.GetName() == "" && len(n.GetOutput()) > 0 {
		return fmt.Sprintf("node with output %q (%s)", n.GetOutput()[0], n.GetOpType())
	}
	return fmt.Sprintf("node %q (%s)", n.GetName(), n.GetOpType())
}

// uniq returns an unused infer tensor name based on base.
func (im *importer) uniq(base string) string {
	if base == "" {
		base = "t"
	}
	name := base
	for im.used[name] {
		// A counter per base keeps this linear when a (fuzzed) file
		// reuses one output name many times.
		im.suffix[base]++
		name = fmt.Sprintf("%s_%d", base, im.suffix[base])
	}
	im.used[name] = true
	return name
}

// emit appends an infer node named after base (made unique) and returns its name.
func (im *importer) emit(base string, n *infer.Node) string {
	n.Name = im.uniq(base)
	im.g.Nodes = append(im.g.Nodes, n)
	im.byName[n.Name] = n
	return n.Name
}

// to4 maps an ONNX shape to the infer shape of its plain layout.
func to4(s []int) (infer.Shape, error) {
	switch len(s) {
	case 0:
		return infer.Shape{1, 1, 1, 1}, nil
	case 1:
		return infer.Shape{1, 1, 1, s[0]}, nil
	case 2:
		return infer.Shape{s[0], 1, 1, s[1]}, nil
	case 3:
		return infer.Shape{s[0], 1, s[1], s[2]}, nil
	case 4:
		return infer.Shape{s[0], s[1], s[2], s[3]}, nil
	}
	return infer.Shape{}, fmt.Errorf("rank %d (shape %v) exceeds 4", len(s), s)
}

// storage is the infer shape of v's tensor.
func storage(v *value) infer.Shape {
	if v.lay == nchw {
		return infer.Shape{v.shape[0], v.shape[2], v.shape[3], v.shape[1]}
	}
	s, _ := to4(v.shape)
	return s
}

// trivialCHW reports whether an NCHW tensor's NHWC storage has the same flat
// order as ONNX's (one channel, or 1x1 spatial).
func trivialCHW(s []int) bool { return len(s) == 4 && (s[1] == 1 || s[2]*s[3] == 1) }

// plainOf returns an infer tensor holding v in plain layout.
func (im *importer) plainOf(v *value) string {
	if v.lay == plain {
		return v.name
	}
	if v.plainName != "" {
		return v.plainName
	}
	s, _ := to4(v.shape)
	if trivialCHW(v.shape) {
		v.plainName = im.emit(v.name+"/plain", &infer.Node{Op: infer.OpReshape, Inputs: []string{v.name}, NewShape: s})
	} else {
		v.plainName = im.emit(v.name+"/nchw", &infer.Node{Op: infer.OpTranspose, Inputs: []string{v.name}, Perm: [4]int{0, 3, 1, 2}})
	}
	return v.plainName
}

// nchwOf returns an infer tensor holding rank-4 v in nchw layout.
func (im *importer) nchwOf(v *value) (string, error) {
	if len(v.shape) != 4 {
		return "", im.unsupported("needs a 4-D NCHW tensor, %q has shape %v", v.name, v.shape)
	}
	if v.lay == nchw {
		return v.name, nil
	}
	if v.nchwName != "" {
		return v.nchwName, nil
	}
	s := v.shape
	if trivialCHW(s) {
		v.nchwName = im.emit(v.name+"/nhwc", &infer.Node{Op: infer.OpReshape, Inputs: []string{v.name}, NewShape: infer.Shape{s[0], s[2], s[3], s[1]}})
	} else {
		v.nchwName = im.emit(v.name+"/nhwc", &infer.Node{Op: infer.OpTranspose, Inputs: []string{v.name}, Perm: [4]int{0, 2, 3, 1}})
	}
	return v.nchwName, nil
}

// reshapeTo returns a tensor with src's flat data and infer shape s, adding a
// Reshape only when the shape changes.
func (im *importer) reshapeTo(base, src string, srcShape, s infer.Shape) string {
	if srcShape == s {
		return src
	}
	return im.emit(base, &infer.Node{Op: infer.OpReshape, Inputs: []string{src}, NewShape: s})
}

func (im *importer) run(m *onnxpb.ModelProto) (*infer.Graph, error) {
	gp := m.GetGraph()
	if gp == nil {
		return nil, fmt.Errorf("%w: no graph", ErrInvalid)
	}
	im.opset = -1
	for _, o := range m.GetOpsetImport() {
		if o.GetDomain() == "" || o.GetDomain() == "ai.onnx" {
			im.opset = int(o.GetVersion())
		}
	}
	if im.opset == -1 {
		im.opset = 9 // IR files without opset_import predate opset 9's changes we depend on
	}
	if im.opset < 7 || im.opset > 13 {
		return nil, fmt.Errorf("%w: opset %d (supported: 9 to 13)", ErrUnsupported, im.opset)
	}
	meta := im.opts.Meta
	if meta.Name == "" {
		meta.Name = gp.GetName()
	}
	if meta.Description == "" {
		meta.Description = strings.TrimSpace(fmt.Sprintf("ONNX opset %d from %s %s", im.opset, m.GetProducerName(), m.GetProducerVersion()))
	}
	im.g = &infer.Graph{Meta: meta}

	// Initializers are decoded when a needed node first reads them, so an
	// unused one of an unsupported type does not stop the import.
	for _, t := range gp.GetInitializer() {
		im.vals[t.GetName()] = &value{init: t}
	}

	outputs := im.opts.Outputs
	if len(outputs) == 0 {
		for _, o := range gp.GetOutput() {
			outputs = append(outputs, o.GetName())
		}
	}
	if len(outputs) == 0 {
		return nil, fmt.Errorf("%w: graph has no outputs", ErrInvalid)
	}

	// Keep only the nodes the outputs need, and count their consumers.
	nodes := gp.GetNode()
	producer := map[string]int{}
	for k, n := range nodes {
		for _, o := range n.GetOutput() {
			if o != "" {
				producer[o] = k
			}
		}
	}
	needed := make([]bool, len(nodes))
	stack := append([]string{}, outputs...)
	for len(stack) > 0 {
		t := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		k, ok := producer[t]
		if !ok || needed[k] {
			continue
		}
		needed[k] = true
		stack = append(stack, nodes[k].GetInput()...)
	}
	im.users = map[string]int{}
	im.readers = map[string][]readerAt{}
	for k, n := range nodes {
		if needed[k] {
			for j, in := range n.GetInput() {
				im.users[in]++
				im.readers[in] = append(im.readers[in], readerAt{n, j})
			}
		}
	}
	for _, o := range outputs {
		im.users[o]++
	}

	if err := im.inputs(gp); err != nil {
		return nil, err
	}

	for k, n := range nodes {
		if !needed[k] {
			continue
		}
		im.node = n
		if d := n.GetDomain(); d != "" && d != "ai.onnx" {
			return nil, im.unsupported("operator domain %q", d)
		}
		ins := make([]*value, len(n.GetInput()))
		for j, name := range n.GetInput() {
			if name == "" {
				continue // absent optional input
			}
			v, ok := im.vals[name]
			if !ok {
				return nil, im.invalid("input %q is not produced by an earlier node, an initializer or a graph input", name)
			}
			if v.init != nil {
				c, err := im.decodeTensor(v.init)
				if err != nil {
					return nil, fmt.Errorf("%w: initializer: %v", ErrInvalid, err)
				}
				v.c, v.init = c, nil
			}
			ins[j] = v
		}
		outs := n.GetOutput()
		if len(outs) == 0 || outs[0] == "" {
			return nil, im.invalid("has no output")
		}
		for _, o := range outs[1:] {
			if o != "" && im.users[o] > 0 {
				return nil, im.unsupported("output %q (only the first output of a node can be used)", o)
			}
		}
		v, err := im.convert(n, ins)
		if err != nil {
			return nil, err
		}
		if v.c == nil {
			if len(v.shape) > 4 {
				return nil, im.unsupported("result of rank %d (shape %v); the engine is 4-D", len(v.shape), v.shape)
			}
			for _, d := range v.shape {
				if d <= 0 {
					return nil, im.invalid("result shape %v", v.shape)
				}
			}
			if _, err := elemsOf(v.shape); err != nil {
				return nil, im.invalid("%v", err)
			}
		}
		im.vals[outs[0]] = v
	}
	im.node = nil

	outNodes := map[string]bool{}
	for _, o := range outputs {
		v, ok := im.vals[o]
		if !ok {
			return nil, fmt.Errorf("%w: output %q is not a tensor of the graph", ErrInvalid, o)
		}
		if v.c != nil || v.init != nil {
			return nil, fmt.Errorf("%w: output %q is a constant", ErrUnsupported, o)
		}
		name := im.plainOf(v)
		if _, isNode := im.byName[name]; !isNode || outNodes[name] {
			// A graph input used as an output, or a tensor that is
			// already another output (ONNX aliases such as Identity or a
			// no-op Flatten): give the output a node of its own, a
			// Reshape, which the executors run as an alias.
			s4, _ := to4(v.shape)
			name = im.emit(o, &infer.Node{Op: infer.OpReshape, Inputs: []string{name}, NewShape: s4})
		}
		outNodes[name] = true
		im.g.Outputs = append(im.g.Outputs, name)
	}
	// Every activation's infer shape must be what its layout says: a
	// mismatch is a bug in the importer, caught here rather than as wrong
	// numbers.
	shapes, err := im.g.Check()
	if err != nil {
		return nil, fmt.Errorf("%w: translated graph: %v", ErrInvalid, err)
	}
	for name, v := range im.vals {
		if v.c != nil || v.init != nil || v.pendingPad != nil {
			continue
		}
		if got, ok := shapes[v.name]; ok && got != storage(v) {
			return nil, fmt.Errorf("onnx: internal error: tensor %q has shape %v in the engine, want %v for ONNX shape %v", name, got, storage(v), v.shape)
		}
	}
	if !im.opts.KeepBatchNorm {
		im.g.Fold()
		im.foldAffine()
		im.fuseActivations()
	}
	im.prune()
	im.nameOutputs(outputs)
	if _, err := im.g.Check(); err != nil {
		return nil, fmt.Errorf("%w: translated graph: %v", ErrInvalid, err)
	}
	return im.g, nil
}

// inputs declares the graph inputs that are not initializers.
func (im *importer) inputs(gp *onnxpb.GraphProto) error {
	for _, in := range gp.GetInput() {
		name := in.GetName()
		if _, isInit := im.vals[name]; isInit {
			continue
		}
		if im.users[name] == 0 {
			continue
		}
		tt := in.GetType().GetTensorType()
		if tt == nil {
			return fmt.Errorf("%w: input %q is not a tensor", ErrUnsupported, name)
		}
		if tt.GetElemType() != int32(onnxpb.TensorProto_FLOAT) {
			return fmt.Errorf("%w: input %q has element type %v, want float32", ErrUnsupported, name, onnxpb.TensorProto_DataType(tt.GetElemType()))
		}
		var shape []int
		if s, ok := im.opts.InputShapes[name]; ok {
			shape = append([]int{}, s...)
		} else {
			dims := tt.GetShape().GetDim()
			if len(dims) > 4 {
				return fmt.Errorf("%w: input %q has rank %d; the engine is 4-D", ErrUnsupported, name, len(dims))
			}
			for k, d := range dims {
				switch {
				case d.GetDimValue() > 0 && d.GetDimValue() <= 1<<16:
					shape = append(shape, int(d.GetDimValue()))
				case k == 0:
					shape = append(shape, 1) // symbolic batch
				default:
					return fmt.Errorf("%w: input %q: dimension %d is %q; give its size in Options.InputShapes", ErrInvalid, name, k, d.String())
				}
			}
		}
		for k, d := range shape {
			if d <= 0 || d > 1<<16 {
				return fmt.Errorf("%w: input %q: dimension %d is %d", ErrInvalid, name, k, d)
			}
		}
		if len(shape) == 0 || len(shape) > 4 {
			return fmt.Errorf("%w: input %q has rank %d; the engine takes 1 to 4", ErrUnsupported, name, len(shape))
		}
		v := &value{name: name, shape: shape, lay: plain}
		if len(shape) == 4 && !im.nhwcInput(name) {
			v.lay = nchw
		}
		im.used[name] = true
		im.vals[name] = v
		if im.g.Meta.Extra == nil {
			im.g.Meta.Extra = map[string]string{}
		}
		im.g.Meta.Extra[LayoutKey+name] = map[layout]string{plain: "plain", nchw: "nchw"}[v.lay]
		im.g.Inputs = append(im.g.Inputs, infer.Input{Name: name, Shape: storage(v)})
	}
	if len(im.g.Inputs) == 0 {
		return fmt.Errorf("%w: graph has no float inputs", ErrInvalid)
	}
	return nil
}

// nhwcInput reports whether a rank-4 input is NHWC already: every consumer
// is a Transpose to NCHW (as tf2onnx writes). Such inputs keep their layout
// and the Transpose costs nothing.
func (im *importer) nhwcInput(name string) bool {
	for _, r := range im.readers[name] {
		perm := attrInts(r.node, "perm")
		if r.node.GetOpType() != "Transpose" || len(perm) != 4 || perm[0] != 0 || perm[1] != 3 || perm[2] != 1 || perm[3] != 2 {
			return false
		}
	}
	return len(im.readers[name]) > 0
}

// prune drops nodes no output depends on (conversions made but not used).
func (im *importer) prune() {
	live := map[string]bool{}
	for _, o := range im.g.Outputs {
		live[o] = true
	}
	for k := len(im.g.Nodes) - 1; k >= 0; k-- {
		n := im.g.Nodes[k]
		if live[n.Name] {
			for _, in := range n.Inputs {
				live[in] = true
			}
		}
	}
	kept := im.g.Nodes[:0]
	for _, n := range im.g.Nodes {
		if live[n.Name] {
			kept = append(kept, n)
		}
	}
	im.g.Nodes = kept
	ins := im.g.Inputs[:0]
	for _, in := range im.g.Inputs {
		if live[in.Name] {
			ins = append(ins, in)
		}
	}
	im.g.Inputs = ins
}

// nameOutputs gives each output node the ONNX output's name where that
// name is free or held by an intermediate node, which then becomes
// "<name>/raw". Renaming one output can free the name another wants, so it
// makes a few passes; the renames are then applied in one sweep.
func (im *importer) nameOutputs(onnxNames []string) {
	const input = "\x00input"
	owner := map[string]string{} // current name -> original node name
	for _, n := range im.g.Nodes {
		owner[n.Name] = n.Name
	}
	for _, in := range im.g.Inputs {
		owner[in.Name] = input
	}
	isOut := map[string]bool{}
	for _, o := range im.g.Outputs {
		isOut[o] = true
	}
	ren := map[string]string{} // original node name -> new name
	current := func(orig string) string {
		if r, ok := ren[orig]; ok {
			return r
		}
		return orig
	}
	for range 3 {
		changed := false
		for k, want := range onnxNames {
			have := im.g.Outputs[k]
			cur := current(have)
			if cur == want || owner[cur] != have {
				continue
			}
			if o, ok := owner[want]; ok {
				if o == input || isOut[o] {
					continue
				}
				alt := want + "/raw"
				for j := 1; owner[alt] != ""; j++ {
					alt = fmt.Sprintf("%s/raw_%d", want, j)
				}
				ren[o] = alt
				owner[alt] = o
			}
			delete(owner, cur)
			ren[have] = want
			owner[want] = have
			changed = true
		}
		if !changed {
			break
		}
	}
	if len(ren) == 0 {
		return
	}
	for _, n := range im.g.Nodes {
		n.Name = current(n.Name)
		for k, in := range n.Inputs {
			n.Inputs[k] = current(in)
		}
	}
	for k, o := range im.g.Outputs {
		im.g.Outputs[k] = current(o)
	}
}
