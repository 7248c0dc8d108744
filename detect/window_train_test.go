package detect

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/infer"
)

// A face/non-face classifier trained here, in pure Go, then run through the
// sliding-window detector as an infer.Graph: input [1, 24, 24, 3], a hidden
// layer of 32 ReLU units (Dense over the flattened window), one sigmoid
// output. Training data come from ../shared/testdata/johns only: faces are
// the MTCNN boxes found there (with jitter and mirror images), non-faces
// are crops away from the face and crops of parts of it, then one round of
// hard negatives (windows the first model took for faces on the johns
// backgrounds). The evaluation photographs and dogs.jpg are never seen.
//
// Trained on 33 faces, it is a weak detector, and the test says so: measured
// float32 tp 7, fp 232 (R 0.389, AP 0.034), 320 boxes on dogs.jpg; int8 tp 7,
// fp 234 (R 0.389, AP 0.033), 327 on dogs.jpg. What it checks is the path:
// Go-trained weights in an infer.Graph, run by both executors as a sliding
// window, finding faces well above chance.

const (
	twWin    = 24
	twIn     = twWin * twWin * 3
	twHidden = 32
)

var twMeta = infer.Meta{
	Name:         "test_face_classifier_24",
	Mean:         [3]float32{127.5, 127.5, 127.5},
	Scale:        [3]float32{1.0 / 128, 1.0 / 128, 1.0 / 128},
	ChannelOrder: "RGB",
}

// mlp is the classifier's parameters, laid out as the graph's Dense weights.
type mlp struct {
	w1 []float32 // [hidden][in]
	b1 []float32
	w2 []float32 // [hidden]
	b2 float32
}

func newMLP(r *rand.Rand) *mlp {
	m := &mlp{w1: make([]float32, twHidden*twIn), b1: make([]float32, twHidden), w2: make([]float32, twHidden)}
	s := float32(math.Sqrt(2.0 / twIn))
	for i := range m.w1 {
		m.w1[i] = float32(r.NormFloat64()) * s
	}
	for i := range m.w2 {
		m.w2[i] = float32(r.NormFloat64()) * float32(math.Sqrt(2.0/twHidden))
	}
	return m
}

func (m *mlp) forward(x []float32, h []float32) float32 {
	z := m.b2
	for j := range twHidden {
		w := m.w1[j*twIn : (j+1)*twIn]
		a := m.b1[j]
		for i, v := range x {
			a += w[i] * v
		}
		h[j] = max(a, 0)
		z += m.w2[j] * h[j]
	}
	return Sigmoid(z)
}

// train runs SGD with momentum on the logistic loss, classes weighted equally.
func (m *mlp) train(r *rand.Rand, pos, neg [][]float32, epochs int) {
	type ex struct {
		x []float32
		y float32
		w float32
	}
	var data []ex
	for _, x := range pos {
		data = append(data, ex{x, 1, float32(len(neg)) / float32(len(pos))})
	}
	for _, x := range neg {
		data = append(data, ex{x, 0, 1})
	}
	vw1 := make([]float32, len(m.w1))
	vb1 := make([]float32, len(m.b1))
	vw2 := make([]float32, len(m.w2))
	var vb2 float32
	h := make([]float32, twHidden)
	const mom, decay = 0.9, 1e-4
	for e := range epochs {
		lr := float32(0.002) * float32(1-float64(e)/float64(epochs+1))
		r.Shuffle(len(data), func(i, j int) { data[i], data[j] = data[j], data[i] })
		for _, d := range data {
			p := m.forward(d.x, h)
			g := (p - d.y) * d.w // dLoss/dz
			for j := range twHidden {
				gh := g * m.w2[j]
				vw2[j] = mom*vw2[j] - lr*(g*h[j]+decay*m.w2[j])
				m.w2[j] += vw2[j]
				if h[j] <= 0 {
					continue
				}
				w := m.w1[j*twIn : (j+1)*twIn]
				v := vw1[j*twIn : (j+1)*twIn]
				for i, xv := range d.x {
					v[i] = mom*v[i] - lr*(gh*xv+decay*w[i])
					w[i] += v[i]
				}
				vb1[j] = mom*vb1[j] - lr*gh
				m.b1[j] += vb1[j]
			}
			vb2 = mom*vb2 - lr*g
			m.b2 += vb2
		}
	}
}

// graph puts the weights into an infer.Graph.
func (m *mlp) graph() *infer.Graph {
	return &infer.Graph{
		Meta:    twMeta,
		Inputs:  []infer.Input{{Name: "input", Shape: infer.Shape{1, twWin, twWin, 3}}},
		Outputs: []string{"prob"},
		Nodes: []*infer.Node{
			{Name: "flat", Op: infer.OpFlatten, Inputs: []string{"input"}},
			{Name: "hidden", Op: infer.OpDense, Inputs: []string{"flat"}, Act: infer.ActReLU,
				W: &infer.Tensor{Shape: infer.Shape{twHidden, 1, 1, twIn}, Data: slices.Clone(m.w1)}, B: slices.Clone(m.b1)},
			{Name: "logit", Op: infer.OpDense, Inputs: []string{"hidden"},
				W: &infer.Tensor{Shape: infer.Shape{1, 1, 1, twHidden}, Data: slices.Clone(m.w2)}, B: []float32{m.b2}},
			{Name: "prob", Op: infer.OpSigmoid, Inputs: []string{"logit"}},
		},
	}
}

func crop(t testing.TB, im *infer.Image, b Box, flip bool) []float32 {
	x := make([]float32, twIn)
	require.NoError(t, twMeta.Preprocess(x, twWin, twWin, im, b.X, b.Y, b.W, b.H))
	if flip {
		for y := range twWin {
			row := x[y*twWin*3 : (y+1)*twWin*3]
			for i, j := 0, twWin-1; i < j; i, j = i+1, j-1 {
				for c := range 3 {
					row[3*i+c], row[3*j+c] = row[3*j+c], row[3*i+c]
				}
			}
		}
	}
	return x
}

// trainingCrops makes face and non-face crops from the johns photographs.
func trainingCrops(t *testing.T, r *rand.Rand) (pos, neg [][]float32, faces []Box, ims []*infer.Image) {
	ims = johnsImages(t)
	p, rn, o := mtcnnGraphs(t)
	m, err := NewMTCNN(p, rn, o, MTCNNOptions{Options: Options{Precision: infer.Float32}})
	require.NoError(t, err)
	defer m.Close()
	for _, im := range ims {
		dets, err := m.Detect(im)
		require.NoError(t, err)
		var f Box
		if len(dets) > 0 {
			f = dets[0].Box.Square()
		}
		faces = append(faces, f)
		if f.Empty() {
			continue
		}
		for k := range 12 {
			s := 1 + (r.Float32()-0.5)*0.2
			jb := BoxFromCenter(f.X+f.W/2+(r.Float32()-0.5)*0.1*f.W, f.Y+f.H/2+(r.Float32()-0.5)*0.1*f.H, f.W*s, f.H*s)
			pos = append(pos, crop(t, im, jb, k%2 == 1))
		}
		for range 60 {
			side := float32(24 + r.IntN(100))
			b := Box{X: r.Float32() * (float32(im.W) - side), Y: r.Float32() * (float32(im.H) - side), W: side, H: side}
			if IoU(b, f) < 0.25 {
				neg = append(neg, crop(t, im, b, false))
			}
		}
		// Parts of the face and the face with too much around it.
		for range 6 {
			s := 0.35 + r.Float32()*0.3
			b := Box{X: f.X + r.Float32()*f.W*(1-s), Y: f.Y + r.Float32()*f.H*(1-s), W: f.W * s, H: f.H * s}
			neg = append(neg, crop(t, im, b, false))
			big := f.Square()
			big = BoxFromCenter(big.X+big.W/2, big.Y+big.H/2, big.W*2.5, big.H*2.5)
			neg = append(neg, crop(t, im, big, false))
		}
	}
	return pos, neg, faces, ims
}

func TestSlidingWindowTrainedClassifier(t *testing.T) {
	r := rand.New(rand.NewPCG(24, 7))
	pos, neg, faces, ims := trainingCrops(t, r)
	require.Greater(t, len(pos), 200)
	t.Logf("training crops from johns: %d faces, %d non-faces", len(pos), len(neg))
	m := newMLP(r)
	m.train(r, pos, neg, 15)

	// Training accuracy: the net must have learnt something.
	h := make([]float32, twHidden)
	right := 0
	for _, x := range pos {
		if m.forward(x, h) > 0.5 {
			right++
		}
	}
	for _, x := range neg {
		if m.forward(x, h) <= 0.5 {
			right++
		}
	}
	acc := float64(right) / float64(len(pos)+len(neg))
	t.Logf("training accuracy %.3f", acc)
	assert.Greater(t, acc, 0.9)

	opt := WindowOptions{Options: Options{Precision: infer.Float32}, MinFace: 30, Stride: 3, Threshold: 0.9, IoU: 0.3}
	// One round of hard negatives: windows away from the face that the
	// first model takes for faces.
	d, err := NewSlidingWindow(m.graph(), opt)
	require.NoError(t, err)
	hard := 0
	for i, im := range ims {
		dets, err := d.Detect(im)
		require.NoError(t, err)
		for _, x := range dets {
			if IoU(x.Box, faces[i]) < 0.25 {
				neg = append(neg, crop(t, im, x.Box, false))
				hard++
			}
		}
	}
	d.Close()
	t.Logf("hard negatives: %d", hard)
	m.train(r, pos, neg, 10)
	g := m.graph()

	// The graph computes what the Go code computes.
	d, err = NewSlidingWindow(g, opt)
	require.NoError(t, err)
	s, err := d.r.session(infer.Shape{1, twWin, twWin, 3})
	require.NoError(t, err)
	copy(s.Input(0), pos[0])
	require.NoError(t, s.Run())
	assert.InDelta(t, m.forward(pos[0], h), s.Output(0)[0], 1e-4)
	d.Close()

	evalBoth(t, "sliding window trained MLP", func(t *testing.T, p infer.Precision) Detector {
		o := opt
		o.Precision = p
		gg := g
		if p == infer.Int8 {
			rg, err := CalibrateWindow(g, ims, "percentile", o)
			require.NoError(t, err)
			gg = WithRanges(g, rg)
		}
		d, err := NewSlidingWindow(gg, o)
		require.NoError(t, err)
		return d
	}, target{recall: [2]float64{0.38, 0.33}, precision: [2]float64{0.02, 0.02}, ap: [2]float64{0.03, 0.03}, maxAPDrop: 0.01})
}
