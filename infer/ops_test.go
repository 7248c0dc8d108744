package infer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Straightforward nested-loop references for every operator, and helpers
// that run one-node graphs through the executors.

func rndVec(r *rand.Rand, n int, lo, hi float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = lo + float32((hi-lo)*r.Float32()) // no FMA: the same values on every architecture
	}
	return v
}

func rndTensor(r *rand.Rand, s Shape, lo, hi float32) *Tensor {
	return &Tensor{Shape: s, Data: rndVec(r, s.Elems(), lo, hi)}
}

func at(x []float32, s Shape, n, h, w, c int) float32 {
	return x[((n*s[1]+h)*s[2]+w)*s[3]+c]
}

func refAct(v float32, a Activation) float32 {
	switch a {
	case ActReLU:
		return max(v, 0)
	case ActReLU6:
		return min(max(v, 0), 6)
	}
	return v
}

// refConv is a direct convolution over NHWC with weights [OC,KH,KW,IC/G].
func refConv(x []float32, xs Shape, n *Node, os Shape) []float32 {
	ws := n.W.Shape
	sh, sw := stride(n)
	_, pt, _ := windowPads(n.Pad, xs[1], ws[1], sh, true)
	_, pl, _ := windowPads(n.Pad, xs[2], ws[2], sw, false)
	g := max(n.Groups, 1)
	icg, ocg := xs[3]/g, ws[0]/g
	out := make([]float32, os.Elems())
	for b := range os[0] {
		for oy := range os[1] {
			for ox := range os[2] {
				for oc := range os[3] {
					gi := oc / ocg
					var acc float64
					if n.B != nil {
						acc = float64(n.B[oc])
					}
					for ky := range ws[1] {
						for kx := range ws[2] {
							iy, ix := oy*sh-pt+ky, ox*sw-pl+kx
							if iy < 0 || iy >= xs[1] || ix < 0 || ix >= xs[2] {
								continue
							}
							for ic := range icg {
								w := n.W.Data[((oc*ws[1]+ky)*ws[2]+kx)*ws[3]+ic]
								acc += float64(w) * float64(at(x, xs, b, iy, ix, gi*icg+ic))
							}
						}
					}
					out[((b*os[1]+oy)*os[2]+ox)*os[3]+oc] = refAct(float32(acc), n.Act)
				}
			}
		}
	}
	return out
}

func refPool(x []float32, xs Shape, n *Node, os Shape) []float32 {
	sh, sw := stride(n)
	_, pt, _ := windowPads(n.Pad, xs[1], n.Kernel[0], sh, true)
	_, pl, _ := windowPads(n.Pad, xs[2], n.Kernel[1], sw, false)
	out := make([]float32, os.Elems())
	for b := range os[0] {
		for oy := range os[1] {
			for ox := range os[2] {
				for c := range os[3] {
					m := float32(math.Inf(-1))
					var sum float64
					cnt := 0
					for ky := range n.Kernel[0] {
						for kx := range n.Kernel[1] {
							iy, ix := oy*sh-pt+ky, ox*sw-pl+kx
							if iy < 0 || iy >= xs[1] || ix < 0 || ix >= xs[2] {
								continue
							}
							v := at(x, xs, b, iy, ix, c)
							m = max(m, v)
							sum += float64(v)
							cnt++
						}
					}
					o := ((b*os[1]+oy)*os[2]+ox)*os[3] + c
					if n.Op == OpMaxPool {
						out[o] = m
					} else {
						out[o] = float32(sum / float64(cnt))
					}
				}
			}
		}
	}
	return out
}

// runGraph runs g at the given precision on inputs and returns output 0.
func runGraph(t testing.TB, g *Graph, opt Options, inputs ...[]float32) ([]float32, Shape) {
	t.Helper()
	m, err := NewModel(g, opt)
	require.NoError(t, err)
	s := m.NewSession()
	defer s.Close()
	for i, in := range inputs {
		require.Len(t, s.Input(i), len(in))
		copy(s.Input(i), in)
	}
	require.NoError(t, s.Run())
	return append([]float32(nil), s.Output(0)...), s.OutputShape(0)
}

func oneNode(n *Node, inputs ...Shape) *Graph {
	g := &Graph{Outputs: []string{n.Name}, Nodes: []*Node{n}}
	for i, s := range inputs {
		name := fmt.Sprintf("x%d", i)
		g.Inputs = append(g.Inputs, Input{Name: name, Shape: s})
		n.Inputs = append(n.Inputs, name)
	}
	return g
}

func assertClose(t *testing.T, want, got []float32, tol float64, msg string) {
	t.Helper()
	require.Len(t, got, len(want), msg)
	worst, at := 0.0, 0
	for i := range want {
		d := math.Abs(float64(want[i] - got[i]))
		if d > worst || math.IsNaN(d) {
			worst, at = d, i
		}
	}
	assert.LessOrEqual(t, worst, tol, "%s: max abs error %g at %d (want %g got %g)", msg, worst, at, want[at], got[at])
}

type convCase struct {
	in             Shape
	oc, kh, kw     int
	sh, sw, groups int
	pad            Padding
	act            Activation
}

func convCases() []convCase {
	expl := Padding{Mode: PadExplicit, Top: 1, Left: 2, Bottom: 0, Right: 1}
	return []convCase{
		{Shape{1, 7, 9, 3}, 5, 3, 3, 1, 1, 1, Padding{Mode: PadSame}, ActNone},
		{Shape{2, 8, 8, 4}, 6, 3, 3, 2, 2, 1, Padding{Mode: PadSame}, ActReLU},
		{Shape{1, 11, 10, 3}, 7, 5, 5, 3, 3, 1, Padding{Mode: PadValid}, ActReLU6},
		{Shape{1, 9, 7, 5}, 9, 3, 2, 2, 1, 1, expl, ActNone},
		{Shape{1, 6, 5, 8}, 13, 1, 1, 1, 1, 1, Padding{Mode: PadValid}, ActReLU}, // 1x1 fast path
		{Shape{2, 9, 9, 8}, 4, 1, 1, 2, 2, 1, Padding{Mode: PadValid}, ActNone},  // 1x1 stride 2 projection
		{Shape{1, 8, 7, 6}, 9, 3, 3, 1, 2, 3, Padding{Mode: PadSame}, ActNone},   // grouped
		{Shape{1, 9, 8, 7}, 7, 3, 3, 1, 1, 7, Padding{Mode: PadSame}, ActReLU},   // depthwise
		{Shape{1, 10, 9, 6}, 6, 3, 3, 2, 2, 6, Padding{Mode: PadSame}, ActReLU6}, // depthwise stride 2
		{Shape{1, 11, 10, 4}, 8, 5, 5, 3, 3, 4, expl, ActNone},                   // depthwise multiplier 2, 5x5
		{Shape{1, 12, 12, 5}, 5, 3, 3, 2, 2, 5, Padding{Mode: PadValid}, ActNone},
		{Shape{2, 9, 11, 6}, 6, 5, 5, 1, 1, 6, Padding{Mode: PadSame}, ActReLU},                                            // depthwise 5x5 (BlazeFace)
		{Shape{1, 10, 10, 4}, 4, 3, 3, 3, 3, 4, Padding{Mode: PadExplicit, Top: 1, Left: 0, Bottom: 2, Right: 1}, ActNone}, // depthwise stride 3
		{Shape{1, 12, 13, 40}, 300, 3, 3, 1, 1, 1, Padding{Mode: PadSame}, ActReLU},                                        // K > one k block
		{Shape{1, 9, 9, 3}, 2, 7, 7, 2, 2, 1, Padding{Mode: PadExplicit, Top: 3, Left: 3, Bottom: 3, Right: 3}, ActNone},
	}
}

func (c convCase) node(r *rand.Rand) *Node {
	g := max(c.groups, 1)
	return &Node{Name: "conv", Op: OpConv, Stride: [2]int{c.sh, c.sw}, Pad: c.pad, Groups: c.groups, Act: c.act,
		W: rndTensor(r, Shape{c.oc, c.kh, c.kw, c.in[3] / g}, -0.5, 0.5), B: rndVec(r, c.oc, -0.2, 0.2)}
}

func TestConvFloat(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i, c := range convCases() {
		for _, threads := range []int{1, 3} {
			n := c.node(r)
			g := oneNode(n, c.in)
			x := rndVec(r, c.in.Elems(), -1, 1)
			got, os := runGraph(t, g, Options{Threads: threads}, x)
			want := refConv(x, c.in, n, os)
			assertClose(t, want, got, 1e-4, fmt.Sprintf("case %d %+v threads %d", i, c, threads))
		}
	}
}

func TestDenseFloat(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, k := range []int{1, 7, 300} {
		for _, oc := range []int{1, 5, 17} {
			in := Shape{3, 1, 1, k}
			n := &Node{Name: "fc", Op: OpDense, Act: ActReLU, W: rndTensor(r, Shape{oc, 1, 1, k}, -1, 1), B: rndVec(r, oc, -1, 1)}
			x := rndVec(r, in.Elems(), -1, 1)
			got, os := runGraph(t, oneNode(n, in), Options{Threads: 2}, x)
			want := refConv(x, in, &Node{Op: OpConv, W: n.W, B: n.B, Act: n.Act, Pad: Padding{Mode: PadValid}}, os)
			assertClose(t, want, got, 1e-4, fmt.Sprintf("dense k=%d oc=%d", k, oc))
		}
	}
}

type poolCase struct {
	op     Op
	in     Shape
	k      [2]int
	stride [2]int
	pad    Padding
}

func poolCases() []poolCase {
	return []poolCase{
		{OpMaxPool, Shape{1, 8, 8, 3}, [2]int{2, 2}, [2]int{2, 2}, Padding{Mode: PadValid}},
		{OpMaxPool, Shape{2, 9, 7, 5}, [2]int{3, 3}, [2]int{2, 2}, Padding{Mode: PadSame}},
		{OpMaxPool, Shape{1, 7, 7, 4}, [2]int{3, 3}, [2]int{1, 1}, Padding{Mode: PadExplicit, Top: 1, Left: 1, Bottom: 1, Right: 1}},
		{OpAvgPool, Shape{1, 8, 9, 3}, [2]int{2, 2}, [2]int{2, 2}, Padding{Mode: PadValid}},
		{OpAvgPool, Shape{1, 9, 7, 6}, [2]int{3, 3}, [2]int{1, 1}, Padding{Mode: PadSame}},
		{OpAvgPool, Shape{2, 10, 11, 2}, [2]int{3, 2}, [2]int{3, 3}, Padding{Mode: PadExplicit, Top: 0, Left: 1, Bottom: 2, Right: 0}},
	}
}

func TestPoolFloat(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i, c := range poolCases() {
		n := &Node{Name: "pool", Op: c.op, Kernel: c.k, Stride: c.stride, Pad: c.pad}
		x := rndVec(r, c.in.Elems(), -1, 1)
		got, os := runGraph(t, oneNode(n, c.in), Options{Threads: 2}, x)
		assertClose(t, refPool(x, c.in, n, os), got, 1e-5, fmt.Sprintf("pool case %d", i))
	}
}

// refElementwise computes the single-input and two-input element-wise and
// channel operators.
func refNode(n *Node, xs [][]float32, ss []Shape, os Shape) []float32 {
	out := make([]float32, os.Elems())
	x, s := xs[0], ss[0]
	switch n.Op {
	case OpGlobalAvgPool:
		for b := range s[0] {
			for c := range s[3] {
				var sum float64
				for h := range s[1] {
					for w := range s[2] {
						sum += float64(at(x, s, b, h, w, c))
					}
				}
				out[b*s[3]+c] = float32(sum / float64(s[1]*s[2]))
			}
		}
	case OpConcat:
		for b := range os[0] {
			for h := range os[1] {
				for w := range os[2] {
					c0 := 0
					for i, xi := range xs {
						for c := range ss[i][3] {
							out[((b*os[1]+h)*os[2]+w)*os[3]+c0+c] = at(xi, ss[i], b, h, w, c)
						}
						c0 += ss[i][3]
					}
				}
			}
		}
	case OpTranspose:
		for a := range os[0] {
			for b := range os[1] {
				for c := range os[2] {
					for d := range os[3] {
						var idx [4]int
						o := [4]int{a, b, c, d}
						for i, p := range n.Perm {
							idx[p] = o[i]
						}
						out[((a*os[1]+b)*os[2]+c)*os[3]+d] = at(x, s, idx[0], idx[1], idx[2], idx[3])
					}
				}
			}
		}
	case OpResize:
		for b := range os[0] {
			for h := range os[1] {
				for w := range os[2] {
					for c := range os[3] {
						out[((b*os[1]+h)*os[2]+w)*os[3]+c] = at(x, s, b, h/n.ResizeScale, w/n.ResizeScale, c)
					}
				}
			}
		}
	case OpSoftmax:
		for p := 0; p < len(x); p += s[3] {
			m := math.Inf(-1)
			for _, v := range x[p : p+s[3]] {
				m = math.Max(m, float64(v))
			}
			var sum float64
			for _, v := range x[p : p+s[3]] {
				sum += math.Exp(float64(v) - m)
			}
			for c, v := range x[p : p+s[3]] {
				out[p+c] = float32(math.Exp(float64(v)-m) / sum)
			}
		}
	case OpReshape, OpFlatten:
		copy(out, x)
	default:
		for i, v := range x {
			c := i % s[3]
			var y float32
			switch n.Op {
			case OpAdd:
				y = v + xs[1][i]
			case OpMul:
				if ss[1] == s {
					y = v * xs[1][i]
				} else {
					y = v * xs[1][(i/(s[1]*s[2]*s[3]))*s[3]+c]
				}
			case OpAffine:
				y = v*n.Scale[c] + n.Shift[c]
			case OpReLU:
				y = max(v, 0)
			case OpReLU6:
				y = min(max(v, 0), 6)
			case OpLeakyReLU:
				y = v
				if v < 0 {
					y = v * n.Alpha
				}
			case OpPReLU:
				y = v
				if v < 0 {
					y = v * n.Slope[c]
				}
			case OpSigmoid:
				y = float32(1 / (1 + math.Exp(-float64(v))))
			}
			out[i] = refAct(y, n.Act)
		}
	}
	return out
}

type nodeCase struct {
	n  *Node
	in []Shape
}

func nodeCases(r *rand.Rand) []nodeCase {
	s := Shape{2, 5, 7, 6}
	return []nodeCase{
		{&Node{Op: OpGlobalAvgPool}, []Shape{s}},
		{&Node{Op: OpAdd}, []Shape{s, s}},
		{&Node{Op: OpAdd, Act: ActReLU}, []Shape{s, s}},
		{&Node{Op: OpMul}, []Shape{s, s}},
		{&Node{Op: OpMul}, []Shape{s, {2, 1, 1, 6}}},
		{&Node{Op: OpAffine, Scale: rndVec(r, 6, -2, 2), Shift: rndVec(r, 6, -1, 1)}, []Shape{s}},
		{&Node{Op: OpAffine, Act: ActReLU6, Scale: rndVec(r, 6, -2, 2), Shift: rndVec(r, 6, -1, 1)}, []Shape{s}},
		{&Node{Op: OpConcat}, []Shape{{2, 5, 7, 3}, {2, 5, 7, 1}, {2, 5, 7, 5}}},
		{&Node{Op: OpReLU}, []Shape{s}},
		{&Node{Op: OpReLU6}, []Shape{s}},
		{&Node{Op: OpLeakyReLU, Alpha: 0.1}, []Shape{s}},
		{&Node{Op: OpPReLU, Slope: rndVec(r, 6, 0, 0.5)}, []Shape{s}},
		{&Node{Op: OpSigmoid}, []Shape{s}},
		{&Node{Op: OpSoftmax}, []Shape{s}},
		{&Node{Op: OpFlatten}, []Shape{s}},
		{&Node{Op: OpReshape, NewShape: Shape{2, 35, 1, -1}}, []Shape{s}},
		{&Node{Op: OpTranspose, Perm: [4]int{0, 3, 1, 2}}, []Shape{s}},
		{&Node{Op: OpTranspose, Perm: [4]int{0, 2, 1, 3}}, []Shape{s}},
		{&Node{Op: OpResize, ResizeScale: 2}, []Shape{s}},
		{&Node{Op: OpResize, ResizeScale: 3}, []Shape{{1, 3, 2, 4}}},
	}
}

func TestOpsFloat(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for i, c := range nodeCases(r) {
		c.n.Name = "y"
		g := oneNode(c.n, c.in...)
		var xs [][]float32
		for _, s := range c.in {
			xs = append(xs, rndVec(r, s.Elems(), -8, 8))
		}
		got, os := runGraph(t, g, Options{Threads: 2}, xs...)
		assertClose(t, refNode(c.n, xs, c.in, os), got, 1e-5, fmt.Sprintf("case %d %s", i, c.n.Op))
	}
}

func TestBatchNormFolded(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	in := Shape{1, 6, 6, 3}
	conv := &Node{Name: "conv", Op: OpConv, Inputs: []string{"x"}, Pad: Padding{Mode: PadSame},
		W: rndTensor(r, Shape{4, 3, 3, 3}, -1, 1)}
	bn := &Node{Name: "bn", Op: OpBatchNorm, Inputs: []string{"conv"}, BN: &BatchNorm{
		Gamma: rndVec(r, 4, 0.5, 2), Beta: rndVec(r, 4, -1, 1), Mean: rndVec(r, 4, -1, 1), Var: rndVec(r, 4, 0.5, 2), Eps: 1e-3}}
	relu := &Node{Name: "relu", Op: OpReLU, Inputs: []string{"bn"}}
	bn2 := &Node{Name: "bn2", Op: OpBatchNorm, Inputs: []string{"relu"}, BN: &BatchNorm{
		Gamma: rndVec(r, 4, 0.5, 2), Beta: rndVec(r, 4, -1, 1), Mean: rndVec(r, 4, -1, 1), Var: rndVec(r, 4, 0.5, 2), Eps: 1e-3}}
	g := &Graph{Inputs: []Input{{"x", in}}, Nodes: []*Node{conv, bn, relu, bn2}, Outputs: []string{"bn2"}}
	w0 := append([]float32(nil), conv.W.Data...)
	x := rndVec(r, in.Elems(), -1, 1)
	got, os := runGraph(t, g, Options{Threads: 1}, x)
	assert.Equal(t, w0, conv.W.Data, "NewModel must not modify the caller's graph")
	assert.Len(t, g.Nodes, 4)

	y := refConv(x, in, conv, os)
	for i := range y {
		c := i % 4
		for _, b := range []*BatchNorm{bn.BN, bn2.BN} {
			y[i] = (y[i]-b.Mean[c])/float32(math.Sqrt(float64(b.Var[c]+b.Eps)))*b.Gamma[c] + b.Beta[c]
			if b == bn.BN {
				y[i] = max(y[i], 0)
			}
		}
	}
	assertClose(t, y, got, 1e-4, "conv+bn+relu+bn")
}

func BenchmarkSGEMM(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, sz := range [][3]int{{256, 64, 576}, {1024, 32, 27}, {196, 256, 2304}, {3136, 64, 64}} {
		m, n, k := sz[0], sz[1], sz[2]
		a := rndVec(r, m*k, -1, 1)
		p := packF(rndVec(r, n*k, -1, 1), n, k)
		c := make([]float32, m*n)
		b.Run(fmt.Sprintf("m%d_n%d_k%d", m, n, k), func(b *testing.B) {
			for b.Loop() {
				sgemm(m, a, k, p, c, n)
			}
			b.ReportMetric(float64(2*m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

func TestActivationFusion(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	in := Shape{1, 6, 6, 3}
	g := &Graph{Inputs: []Input{{"x", in}}, Nodes: []*Node{
		{Name: "conv", Op: OpConv, Inputs: []string{"x"}, Pad: Padding{Mode: PadSame}, W: rndTensor(r, Shape{4, 3, 3, 3}, -1, 1)},
		{Name: "bn", Op: OpBatchNorm, Inputs: []string{"conv"}, BN: &BatchNorm{Gamma: rndVec(r, 4, 0.5, 2), Beta: rndVec(r, 4, -1, 1),
			Mean: rndVec(r, 4, -1, 1), Var: rndVec(r, 4, 0.5, 2), Eps: 1e-3}},
		{Name: "relu", Op: OpReLU6, Inputs: []string{"bn"}},
		{Name: "c2", Op: OpConv, Inputs: []string{"relu"}, Pad: Padding{Mode: PadSame}, W: rndTensor(r, Shape{2, 1, 1, 4}, -1, 1)},
		{Name: "r2", Op: OpReLU, Inputs: []string{"c2"}}, // c2 is also an output: not fused
	}, Outputs: []string{"r2", "c2", "relu"}}
	m, err := NewModel(g, Options{KeepAll: true})
	require.NoError(t, err)
	var ops []Op
	for _, n := range m.Graph().Nodes {
		ops = append(ops, n.Op)
	}
	assert.Equal(t, []Op{OpConv, OpConv, OpReLU}, ops)
	assert.Equal(t, ActReLU6, m.Graph().Nodes[0].Act)
	assert.Equal(t, ActNone, g.Nodes[0].Act, "the caller's graph is untouched")
	assert.Len(t, g.Nodes, 5)
	s := m.NewSession()
	defer s.Close()
	copy(s.Input(0), rndVec(r, in.Elems(), -2, 2))
	require.NoError(t, s.Run())
	for _, name := range []string{"conv", "bn", "relu"} {
		v, err := s.TensorFloat(name)
		require.NoError(t, err, name)
		assert.Equal(t, s.Output(2), v, "%s names the fused tensor", name)
	}
	for _, v := range s.Output(2) {
		assert.True(t, v >= 0 && v <= 6)
	}
	// Calibrated ranges exist under every name, int8 runs.
	rs, err := Calibrate(g, [][]float32{rndVec(r, in.Elems(), -2, 2)}, "minmax")
	require.NoError(t, err)
	for _, n := range g.Nodes {
		assert.Contains(t, rs, n.Name)
	}
	assert.Equal(t, rs["conv"], rs["relu"])
	assert.GreaterOrEqual(t, rs["relu"].Min, float32(0))
	q := *g
	q.Ranges = rs
	_, err = NewModel(&q, Options{Precision: Int8})
	require.NoError(t, err)
}

// sgemmPaths runs f once per SGEMM implementation available here.
func sgemmPaths(t *testing.T, f func(t *testing.T)) {
	savedFMA, savedWide := sgemmFMA, wideRegs
	defer func() { sgemmFMA, wideRegs = savedFMA, savedWide }()
	for _, wide := range []bool{false, true} {
		sgemmFMA, wideRegs = false, wide
		t.Run(fmt.Sprintf("go4x4=%v", wide), f)
	}
	if savedFMA {
		sgemmFMA = true
		t.Run("fma", f)
	}
}

func TestSGEMM(t *testing.T) {
	r := rand.New(rand.NewPCG(43, 44))
	sgemmPaths(t, func(t *testing.T) {
		for _, m := range []int{1, 3, 4, 7, 8, 9, 17} {
			for _, n := range []int{1, 3, 4, 5, 9, 17, 137} {
				for _, k := range []int{1, 7, 300} {
					lda, ldc := k+3, n+2
					a := rndVec(r, m*lda, -1, 1)
					w := rndVec(r, n*k, -1, 1)
					c := rndVec(r, m*ldc, -1, 1)
					want := append([]float32(nil), c...)
					for i := range m {
						for j := range n {
							s := float64(want[i*ldc+j])
							for kk := range k {
								s += float64(a[i*lda+kk]) * float64(w[j*k+kk])
							}
							want[i*ldc+j] = float32(s)
						}
					}
					sgemm(m, a, lda, packF(w, n, k), c, ldc)
					assertClose(t, want, c, 1e-4, fmt.Sprintf("m=%d n=%d k=%d", m, n, k))
				}
			}
		}
	})
}

func TestConvFloatEveryKernel(t *testing.T) {
	sgemmPaths(t, func(t *testing.T) {
		TestConvFloat(t)
		TestThreadsBitIdentical(t)
	})
}
