package detect

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func randBox(r *rand.Rand, span float32) Box {
	return Box{X: r.Float32() * span, Y: r.Float32() * span, W: 1 + r.Float32()*span/4, H: 1 + r.Float32()*span/4}
}

func TestIoUProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		a, b := randBox(r, 100), randBox(r, 100)
		ab, ba := IoU(a, b), IoU(b, a)
		require.Equal(t, ab, ba, "IoU not symmetric for %v %v", a, b)
		require.True(t, ab >= 0 && ab <= 1, "IoU %v out of [0,1] for %v %v", ab, a, b)
		require.InDelta(t, 1, IoU(a, a), 1e-6, "IoU of %v with itself", a)
		// A disjoint copy: shifted right past the end.
		c := a
		c.X = a.X2() + r.Float32()*10
		require.Zero(t, IoU(a, c), "disjoint %v %v", a, c)
		// Touching edges share no area.
		c.X = a.X2()
		require.Zero(t, IoU(a, c))
		m := IoM(a, b)
		require.True(t, m >= ab && m <= 1, "IoM %v below IoU %v", m, ab)
	}
	assert.Zero(t, IoU(Box{}, Box{}), "empty boxes")
	assert.Zero(t, IoU(Box{W: -1, H: 5}, Box{W: 10, H: 10}), "negative width")
	nan := float32(math.NaN())
	assert.Zero(t, IoU(Box{W: nan, H: 1}, Box{W: 10, H: 10}), "NaN width")
	// A known value: two 10x10 boxes overlapping by half.
	assert.InDelta(t, 50.0/150, IoU(Box{0, 0, 10, 10}, Box{5, 0, 10, 10}), 1e-6)
}

func checkNMS(t *testing.T, boxes []Box, scores []float32, classes []int, o NMSOptions, keep []int) {
	t.Helper()
	seen := map[int]bool{}
	for j, i := range keep {
		require.True(t, i >= 0 && i < len(boxes), "index %d out of range", i)
		require.False(t, seen[i], "index %d kept twice", i)
		seen[i] = true
		if j > 0 {
			require.GreaterOrEqual(t, scores[keep[j-1]], scores[i], "not sorted at %d", j)
		}
		for _, k := range keep[:j] {
			if classes == nil || classes[i] == classes[k] {
				require.LessOrEqual(t, o.Overlap.of(boxes[i], boxes[k]), o.Threshold, "kept pair %d,%d overlaps", i, k)
			}
		}
	}
	if o.TopK > 0 {
		require.LessOrEqual(t, len(keep), o.TopK)
	}
	// Greedy NMS is maximal: every dropped box (above the top-k cut-off)
	// overlaps a kept box of its class with a higher or equal score.
	if o.TopK == 0 {
		for i := range boxes {
			if seen[i] {
				continue
			}
			ok := false
			for _, k := range keep {
				if (classes == nil || classes[i] == classes[k]) && scores[k] >= scores[i] && o.Overlap.of(boxes[i], boxes[k]) > o.Threshold {
					ok = true
					break
				}
			}
			require.True(t, ok, "box %d dropped without a reason", i)
		}
	}
}

func TestNMSProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for it := range 300 {
		n := r.IntN(200)
		boxes := make([]Box, n)
		scores := make([]float32, n)
		classes := make([]int, n)
		for i := range n {
			boxes[i] = randBox(r, 200)
			scores[i] = r.Float32()
			classes[i] = r.IntN(3)
		}
		o := NMSOptions{Threshold: r.Float32(), TopK: []int{0, 0, 5, 50}[it%4], Overlap: Overlap(it % 2)}
		checkNMS(t, boxes, scores, nil, o, NMS(boxes, scores, nil, o))
		checkNMS(t, boxes, scores, classes, o, NMS(boxes, scores, classes, o))
	}
}

func TestNMSKnown(t *testing.T) {
	boxes := []Box{{0, 0, 10, 10}, {1, 1, 10, 10}, {50, 50, 10, 10}, {0, 0, 10, 10}}
	scores := []float32{0.8, 0.9, 0.7, 0.95}
	assert.Equal(t, []int{3, 2}, NMS(boxes, scores, nil, NMSOptions{Threshold: 0.5}))
	assert.Equal(t, []int{3}, NMS(boxes, scores, nil, NMSOptions{Threshold: 0.5, TopK: 1}))
	// Per class: the box of another class survives.
	assert.Equal(t, []int{3, 1, 2}, NMS(boxes, scores, []int{0, 1, 0, 0}, NMSOptions{Threshold: 0.5}))
	assert.Empty(t, NMS(nil, nil, nil, NMSOptions{Threshold: 0.5}))

	dets := NMSDetections([]Detection{{Box: boxes[0], Score: 0.8}, {Box: boxes[1], Score: 0.9}}, NMSOptions{Threshold: 0.3})
	require.Len(t, dets, 1)
	assert.Equal(t, float32(0.9), dets[0].Score)
	// Nested box: IoU keeps it, IoM drops it.
	nested := []Box{{0, 0, 100, 100}, {10, 10, 20, 20}}
	assert.Len(t, NMS(nested, []float32{1, 0.9}, nil, NMSOptions{Threshold: 0.5}), 2)
	assert.Len(t, NMS(nested, []float32{1, 0.9}, nil, NMSOptions{Threshold: 0.5, Overlap: OverlapMin}), 1)
}

func TestSoftNMS(t *testing.T) {
	boxes := []Box{{0, 0, 10, 10}, {5, 0, 10, 10}, {100, 0, 10, 10}}
	scores := []float32{0.9, 0.8, 0.5}
	iou := IoU(boxes[0], boxes[1])

	keep, s := SoftNMS(boxes, scores, nil, SoftNMSOptions{Method: SoftLinear, Threshold: 0.3})
	require.Equal(t, []int{0, 1, 2}, keep)
	assert.InDelta(t, 0.8*(1-iou), s[1], 1e-6)
	assert.InDelta(t, 0.5, s[2], 1e-6)

	keep, s = SoftNMS(boxes, scores, nil, SoftNMSOptions{Method: SoftGaussian, Sigma: 0.5})
	require.Equal(t, []int{0, 1, 2}, keep)
	assert.InDelta(t, 0.8*math.Exp(-float64(iou*iou)/0.5), s[1], 1e-6)

	// Above the linear threshold with a min score, the decayed box goes.
	keep, _ = SoftNMS(boxes, scores, nil, SoftNMSOptions{Method: SoftLinear, Threshold: 0.3, MinScore: 0.6})
	assert.Equal(t, []int{0}, keep)

	// Decayed scores come out sorted and no kept pair decays the order.
	r := rand.New(rand.NewPCG(5, 6))
	for range 100 {
		n := r.IntN(100)
		b := make([]Box, n)
		sc := make([]float32, n)
		for i := range n {
			b[i], sc[i] = randBox(r, 100), r.Float32()
		}
		keep, s := SoftNMS(b, sc, nil, SoftNMSOptions{Method: SoftMethod(r.IntN(2)), Threshold: 0.3, MinScore: 0.01})
		require.True(t, slices.IsSortedFunc(s, func(a, b float32) int { return -cmpF(a, b) }), "decayed scores not sorted: %v", s)
		for j, i := range keep {
			require.LessOrEqual(t, s[j], sc[i])
		}
	}
}

func cmpF(a, b float32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestDecode(t *testing.T) {
	b := ApplyOffsets(Box{10, 20, 100, 50}, 0.1, -0.2, 0.05, 0.1)
	assert.InDelta(t, 20, b.X, 1e-4)
	assert.InDelta(t, 10, b.Y, 1e-4)
	assert.InDelta(t, 115, b.X2(), 1e-4)
	assert.InDelta(t, 75, b.Y2(), 1e-4)

	p := Prior{CX: 0.5, CY: 0.5, W: 0.2, H: 0.1}
	got := DecodeCenterSize(p, 0, 0, 0, 0, Variances{0.1, 0.2})
	assert.Equal(t, BoxFromCenter(0.5, 0.5, 0.2, 0.1), got)
	got = DecodeCenterSize(p, 1, -1, float32(math.Log(2))/0.2, 0, Variances{0.1, 0.2})
	cx, cy := got.Center()
	assert.InDelta(t, 0.52, cx, 1e-6)
	assert.InDelta(t, 0.49, cy, 1e-6)
	assert.InDelta(t, 0.4, got.W, 1e-6)
	// Wild regressions stay finite.
	got = DecodeCenterSize(p, 0, 0, 1e30, -1e30, Variances{})
	assert.True(t, finite(got.W) && finite(got.H) && got.H > 0)

	y := DecodeYOLO(3, 2, 0, 0, 0, float32(math.Log(2)), 1.5, 2)
	cx, cy = y.Center()
	assert.InDelta(t, 3.5, cx, 1e-6)
	assert.InDelta(t, 2.5, cy, 1e-6)
	assert.InDelta(t, 1.5, y.W, 1e-6)
	assert.InDelta(t, 4, y.H, 1e-5)
	assert.InDelta(t, 0.5, Sigmoid(0), 1e-7)
	assert.InDelta(t, 1, Sigmoid(100), 1e-7)
	assert.InDelta(t, 0, Sigmoid(-100), 1e-7)

	sq := Box{0, 0, 10, 20}.Square()
	assert.Equal(t, Box{-5, 0, 20, 20}, sq)
	assert.Equal(t, Box{0, 0, 5, 20}, Box{-5, 0, 20, 20}.Clip(5, 100))
}

func TestPyramidScales(t *testing.T) {
	s, err := PyramidScales(640, 480, 12, 40, 0.709)
	require.NoError(t, err)
	require.NotEmpty(t, s)
	assert.InDelta(t, 0.3, s[0], 1e-9)
	for i := 1; i < len(s); i++ {
		assert.InDelta(t, s[i-1]*0.709, s[i], 1e-9)
	}
	last := s[len(s)-1]
	assert.GreaterOrEqual(t, 480*last, 12.0, "smallest level must still hold a window")
	assert.Less(t, 480*last*0.709, 12.0, "one more level would be smaller than a window")
	// The largest face the pyramid covers reaches the short side.
	assert.Greater(t, 12/last, 480*0.709)

	_, err = PyramidScales(640, 480, 12, 0, 0.7)
	assert.Error(t, err)
	_, err = PyramidScales(640, 480, 12, 20, 1)
	assert.Error(t, err)
	s, err = PyramidScales(10, 10, 12, 40, 0.7)
	require.NoError(t, err)
	assert.Empty(t, s, "image smaller than a min face at window size")
	w, h := ScaledSize(500, 375, 0.3)
	assert.Equal(t, [2]int{150, 113}, [2]int{w, h})
}

func BenchmarkNMS(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		for _, k := range []int{0, 100} {
			r := rand.New(rand.NewPCG(7, 8))
			boxes := make([]Box, n)
			scores := make([]float32, n)
			for i := range n {
				// Candidates as a detector makes them: clusters around objects.
				c := r.IntN(50)
				cx, cy := float32(c%10)*60+30, float32(c/10)*60+30
				boxes[i] = BoxFromCenter(cx+r.Float32()*20-10, cy+r.Float32()*20-10, 30+r.Float32()*10, 30+r.Float32()*10)
				if r.IntN(4) == 0 {
					boxes[i] = randBox(r, 640)
				}
				scores[i] = r.Float32()
			}
			b.Run(fmt.Sprintf("n=%d/topk=%d", n, k), func(b *testing.B) {
				for b.Loop() {
					NMS(boxes, scores, nil, NMSOptions{Threshold: 0.5, TopK: k})
				}
			})
		}
	}
}
