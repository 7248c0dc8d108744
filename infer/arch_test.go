package infer

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vigil-edge/vigil/quant"
)

// The seed's architectures in miniature, random (He-scaled) weights, int8
// against float32.

type netBuilder struct {
	r  *rand.Rand
	g  *Graph
	ch map[string]int
}

func newNet(seed uint64, in Shape) *netBuilder {
	return &netBuilder{
		r:  rand.New(rand.NewPCG(seed, seed+1)),
		g:  &Graph{Inputs: []Input{{"x", in}}},
		ch: map[string]int{"x": in[3]},
	}
}

func (b *netBuilder) add(n *Node, ch int) string {
	b.g.Nodes = append(b.g.Nodes, n)
	b.ch[n.Name] = ch
	return n.Name
}

func (b *netBuilder) he(s Shape) *Tensor {
	lim := float32(math.Sqrt(6 / float64(s[1]*s[2]*s[3])))
	return rndTensor(b.r, s, -lim, lim)
}

func (b *netBuilder) conv(name, in string, oc, k, stride int, act Activation) string {
	return b.add(&Node{Name: name, Op: OpConv, Inputs: []string{in}, W: b.he(Shape{oc, k, k, b.ch[in]}),
		B: rndVec(b.r, oc, -0.1, 0.1), Stride: [2]int{stride, stride}, Pad: Padding{Mode: PadSame}, Act: act}, oc)
}

func (b *netBuilder) convValid(name, in string, oc, k int, act Activation) string {
	return b.add(&Node{Name: name, Op: OpConv, Inputs: []string{in}, W: b.he(Shape{oc, k, k, b.ch[in]}),
		B: rndVec(b.r, oc, -0.1, 0.1), Pad: Padding{Mode: PadValid}, Act: act}, oc)
}

func (b *netBuilder) depthwise(name, in string, k, stride int) string {
	c := b.ch[in]
	return b.add(&Node{Name: name, Op: OpConv, Inputs: []string{in}, W: b.he(Shape{c, k, k, 1}), Groups: c,
		Stride: [2]int{stride, stride}, Pad: Padding{Mode: PadSame}}, c)
}

func (b *netBuilder) bn(name, in string) string {
	c := b.ch[in]
	return b.add(&Node{Name: name, Op: OpBatchNorm, Inputs: []string{in}, BN: &BatchNorm{
		Gamma: rndVec(b.r, c, 0.7, 1.3), Beta: rndVec(b.r, c, -0.2, 0.2), Mean: rndVec(b.r, c, -0.2, 0.2),
		Var: rndVec(b.r, c, 0.6, 1.5), Eps: 1e-3}}, c)
}

func (b *netBuilder) op(name string, op Op, ins ...string) string {
	c := b.ch[ins[0]]
	if op == OpConcat {
		c = 0
		for _, in := range ins {
			c += b.ch[in]
		}
	}
	return b.add(&Node{Name: name, Op: op, Inputs: ins}, c)
}

func (b *netBuilder) pool(name string, op Op, in string, k, stride int, mode PadMode) string {
	return b.add(&Node{Name: name, Op: op, Inputs: []string{in}, Kernel: [2]int{k, k}, Stride: [2]int{stride, stride}, Pad: Padding{Mode: mode}}, b.ch[in])
}

func (b *netBuilder) dense(name, in string, k, oc int, act Activation) string {
	return b.add(&Node{Name: name, Op: OpDense, Inputs: []string{in}, W: b.he(Shape{oc, 1, 1, k}), B: rndVec(b.r, oc, -0.1, 0.1), Act: act}, oc)
}

func (b *netBuilder) graph(outputs ...string) *Graph {
	b.g.Outputs = outputs
	return b.g
}

func lenet5() *Graph {
	b := newNet(100, Shape{1, 32, 32, 1})
	x := b.convValid("c1", "x", 6, 5, ActReLU)
	x = b.pool("s2", OpAvgPool, x, 2, 2, PadValid)
	x = b.convValid("c3", x, 16, 5, ActReLU)
	x = b.pool("s4", OpAvgPool, x, 2, 2, PadValid)
	x = b.op("flat", OpFlatten, x)
	x = b.dense("f5", x, 5*5*16, 120, ActReLU)
	x = b.dense("f6", x, 120, 84, ActReLU)
	x = b.dense("f7", x, 84, 10, ActNone)
	x = b.op("prob", OpSoftmax, x)
	return b.graph(x)
}

func vggStack() *Graph {
	b := newNet(200, Shape{1, 32, 32, 3})
	x := b.conv("c1a", "x", 16, 3, 1, ActReLU)
	x = b.conv("c1b", x, 16, 3, 1, ActReLU)
	x = b.pool("p1", OpMaxPool, x, 2, 2, PadValid)
	x = b.conv("c2a", x, 32, 3, 1, ActReLU)
	x = b.conv("c2b", x, 32, 3, 1, ActReLU)
	x = b.pool("p2", OpMaxPool, x, 2, 2, PadValid)
	// AlexNet-style large strided kernel on the side: 5x5 stride 2 then LRN-free pooling.
	x = b.conv("c3", x, 48, 5, 2, ActReLU)
	x = b.pool("p3", OpMaxPool, x, 3, 2, PadSame)
	x = b.op("flat", OpFlatten, x)
	x = b.dense("fc1", x, 2*2*48, 64, ActReLU)
	x = b.dense("fc2", x, 64, 10, ActNone)
	return b.graph(x)
}

func resnetBlock() *Graph {
	b := newNet(300, Shape{1, 16, 16, 16})
	in := b.op("relu_in", OpReLU, "x")
	x := b.conv("conv1", in, 32, 3, 2, ActNone)
	x = b.bn("bn1", x)
	x = b.op("relu1", OpReLU, x)
	x = b.conv("conv2", x, 32, 3, 1, ActNone)
	x = b.bn("bn2", x)
	sc := b.conv("proj", in, 32, 1, 2, ActNone)
	sc = b.bn("bn_proj", sc)
	x = b.op("add", OpAdd, x, sc)
	x = b.op("out", OpReLU, x)
	return b.graph(x)
}

func inceptionModule() *Graph {
	b := newNet(400, Shape{1, 16, 16, 32})
	b1 := b.conv("b1_1x1", "x", 16, 1, 1, ActReLU)
	b2 := b.conv("b2_1x1", "x", 12, 1, 1, ActReLU)
	b2 = b.conv("b2_3x3", b2, 16, 3, 1, ActReLU)
	b3 := b.conv("b3_1x1", "x", 4, 1, 1, ActReLU)
	b3 = b.conv("b3_5x5", b3, 8, 5, 1, ActReLU)
	b4 := b.pool("b4_pool", OpMaxPool, "x", 3, 1, PadSame)
	b4 = b.conv("b4_1x1", b4, 8, 1, 1, ActReLU)
	x := b.op("concat", OpConcat, b1, b2, b3, b4)
	return b.graph(x)
}

func xceptionBlock() *Graph {
	b := newNet(500, Shape{1, 16, 16, 16})
	x := b.op("relu0", OpReLU, "x")
	x = b.depthwise("sep1_dw", x, 3, 1)
	x = b.conv("sep1_pw", x, 32, 1, 1, ActNone)
	x = b.bn("sep1_bn", x)
	x = b.op("relu1", OpReLU, x)
	x = b.depthwise("sep2_dw", x, 3, 1)
	x = b.conv("sep2_pw", x, 32, 1, 1, ActNone)
	x = b.bn("sep2_bn", x)
	x = b.pool("pool", OpMaxPool, x, 3, 2, PadSame)
	sc := b.conv("shortcut", "x", 32, 1, 2, ActNone)
	sc = b.bn("shortcut_bn", sc)
	x = b.op("add", OpAdd, x, sc)
	return b.graph(x)
}

func seBlock() *Graph {
	b := newNet(600, Shape{1, 8, 8, 32})
	x := b.conv("conv", "x", 32, 3, 1, ActReLU)
	s := b.op("squeeze", OpGlobalAvgPool, x)
	s = b.dense("fc1", s, 32, 8, ActReLU)
	s = b.dense("fc2", s, 8, 32, ActNone)
	s = b.op("gate", OpSigmoid, s)
	x = b.op("scale", OpMul, x, s)
	return b.graph(x)
}

func TestArchitecturesInt8(t *testing.T) {
	nets := []struct {
		name   string
		g      *Graph
		minCos float64
	}{
		{"LeNet-5", lenet5(), 0.99},
		{"VGG/AlexNet stack", vggStack(), 0.99},
		{"ResNet basic block", resnetBlock(), 0.99},
		{"Inception module", inceptionModule(), 0.99},
		{"Xception block", xceptionBlock(), 0.99},
		{"SE block", seBlock(), 0.99},
	}
	for _, net := range nets {
		t.Run(net.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(7, 7))
			in := net.g.Inputs[0].Shape
			var calib [][]float32
			for range 6 {
				calib = append(calib, rndVec(r, in.Elems(), -1, 1))
			}
			test := rndVec(r, in.Elems(), -1, 1)
			// The calibration set covers the deployment distribution: here,
			// the test sample too (so no output saturates).
			calib = append(calib, test)
			want, _ := runGraph(t, net.g, Options{Threads: 1}, test)
			for _, method := range quant.Methods {
				q := calibrated(t, net.g, calib, method)
				got, _ := runGraph(t, q, Options{Precision: Int8, Threads: 2}, test)
				cos := quant.Cosine(want, got)
				var peak float64
				for _, v := range want {
					peak = max(peak, math.Abs(float64(v)))
				}
				t.Logf("%-10s cosine %.5f  SQNR %5.1f dB  max|err| %.4f (peak %.3f)", method, cos, quant.SQNR(want, got), quant.MaxAbsDiff(want, got), peak)
				assert.Greater(t, cos, net.minCos, method)
				assert.Less(t, quant.MaxAbsDiff(want, got), 0.1*peak, method)
			}
			q := calibrated(t, net.g, calib, "minmax")
			rep, err := LayerSQNR(q, test)
			require.NoError(t, err)
			worst := rep[0]
			for _, l := range rep {
				if l.SQNR < worst.SQNR {
					worst = l
				}
			}
			t.Logf("worst layer: %v", worst)
		})
	}
}
