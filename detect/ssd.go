package detect

import (
	"fmt"
	"math"

	"github.com/vigil-edge/vigil/infer"
)

// UltraFace RFB-320 priors (Linzaer's Ultra-Light-Fast-Generic-Face-Detector):
// one feature map per stride, square priors of these sizes in input pixels.
var (
	UltraFaceMinBoxes = [][]float32{{10, 16, 24}, {32, 48}, {64, 96}, {128, 192, 256}}
	UltraFaceStrides  = []int{8, 16, 32, 64}
	UltraFaceVariance = Variances{Center: 0.1, Size: 0.2}
)

// UltraFacePriors returns the priors of an UltraFace net with input w x h,
// normalised to [0, 1] (centre and size clipped to [0, 1], as the reference
// does), in the order of the net's outputs: feature map, row, column, prior.
// For RFB-320 (320x240) there are 4420.
func UltraFacePriors(w, h int, minBoxes [][]float32, strides []int) []Prior {
	var out []Prior
	clip := func(v float32) float32 { return min(max(v, 0), 1) }
	for i, s := range strides {
		fw := int(math.Ceil(float64(w) / float64(s)))
		fh := int(math.Ceil(float64(h) / float64(s)))
		// The reference divides by image_size/stride, not by the rounded-up map size.
		sw, sh := float32(w)/float32(s), float32(h)/float32(s)
		for r := range fh {
			for c := range fw {
				for _, mb := range minBoxes[i] {
					out = append(out, Prior{
						CX: clip((float32(c) + 0.5) / sw),
						CY: clip((float32(r) + 0.5) / sh),
						W:  clip(mb / float32(w)),
						H:  clip(mb / float32(h)),
					})
				}
			}
		}
	}
	return out
}

// SSDOptions configure the single-shot decoders (UltraFace, BlazeFace).
type SSDOptions struct {
	Options
	// Threshold is the minimum face score (UltraFace default 0.7, BlazeFace 0.75).
	Threshold float32
	// IoU is the NMS threshold (default 0.3).
	IoU float32
}

// UltraFace decodes the UltraFace RFB-320 detector as infer/onnx imports it
// cut before its decoding tail: outputs "scores" (softmax, [.., 4420, 2],
// channel 1 = face) and the raw regressions ([.., 4420, 4]: dx, dy, dw, dh
// against the priors, variances 0.1 and 0.2). The image is resized to the
// input (stretched, as the reference does); boxes come back in image pixels.
type UltraFace struct {
	opt      SSDOptions
	r        *runner
	priors   []Prior
	scoreOut int
	regOut   int
	w, h     int
	mip      mipmap
}

var _ Detector = (*UltraFace)(nil)

// NewUltraFace compiles g. scores and regressions name its two outputs
// (empty: the first and the second).
func NewUltraFace(g *infer.Graph, opt SSDOptions) (*UltraFace, error) {
	if g == nil || len(g.Outputs) < 2 {
		return nil, fmt.Errorf("detect: UltraFace needs a graph with score and regression outputs")
	}
	if opt.Threshold <= 0 {
		opt.Threshold = 0.7
	}
	if opt.IoU <= 0 {
		opt.IoU = 0.3
	}
	r, err := newRunner(g, opt.Options)
	if err != nil {
		return nil, err
	}
	in := g.Inputs[0].Shape
	u := &UltraFace{opt: opt, r: r, w: in[2], h: in[1], scoreOut: 0, regOut: 1}
	u.priors = UltraFacePriors(u.w, u.h, UltraFaceMinBoxes, UltraFaceStrides)
	so, ro := r.base.OutputShape(0), r.base.OutputShape(1)
	if so.Elems() != 2*len(u.priors) || ro.Elems() != 4*len(u.priors) {
		r.close()
		return nil, fmt.Errorf("detect: UltraFace model %q: outputs %v and %v do not hold 2 and 4 values for each of the %d priors of a %dx%d input",
			g.Meta.Name, so, ro, len(u.priors), u.w, u.h)
	}
	return u, nil
}

// Close releases the session.
func (u *UltraFace) Close() { u.r.close() }

func (u *UltraFace) prep(dst []float32, im *infer.Image) error {
	u.mip.reset(im, min(u.w, u.h))
	return u.mip.preprocess(&u.r.g.Meta, dst, u.w, u.h, 0, 0, float32(im.W), float32(im.H))
}

// Detect finds faces in im.
func (u *UltraFace) Detect(im *infer.Image) ([]Detection, error) {
	s, err := u.r.session(u.r.base.InputShape(0))
	if err != nil {
		return nil, err
	}
	if err := u.prep(s.Input(0), im); err != nil {
		return nil, fmt.Errorf("ultraface: %w", err)
	}
	if err := s.Run(); err != nil {
		return nil, fmt.Errorf("ultraface: %w", err)
	}
	scores, regs := s.Output(u.scoreOut), s.Output(u.regOut)
	W, H := float32(im.W), float32(im.H)
	var dets []Detection
	for i, p := range u.priors {
		sc := scores[2*i+1]
		if sc < u.opt.Threshold {
			continue
		}
		d := regs[4*i : 4*i+4]
		b := DecodeCenterSize(p, d[0], d[1], d[2], d[3], UltraFaceVariance)
		b = b.Scale(W, H).Clip(W, H)
		dets = append(dets, Detection{Box: b, Score: sc})
	}
	return NMSDetections(dropEmpty(dets), NMSOptions{Threshold: u.opt.IoU}), nil
}

// CalibrateUltraFace calibrates g on images preprocessed as Detect does.
func CalibrateUltraFace(g *infer.Graph, images []*infer.Image, method string) (map[string]infer.Range, error) {
	u := &UltraFace{r: &runner{g: g}, w: g.Inputs[0].Shape[2], h: g.Inputs[0].Shape[1]}
	return calibrateSingle(g, g.Inputs[0].Shape, images, method, u.prep)
}

// BlazeFaceAnchors returns the anchors of MediaPipe's front-camera BlazeFace
// (128x128 input: strides 8, 16, 16, 16, i.e. a 16x16 map with 2 anchors per
// cell, then an 8x8 map with 6) in input pixels with unit size (fixed anchor
// size): 896 anchors, in output order.
func BlazeFaceAnchors(size int) []Prior {
	var out []Prior
	for _, m := range []struct{ stride, n int }{{8, 2}, {16, 6}} {
		g := size / m.stride
		for r := range g {
			for c := range g {
				for range m.n {
					out = append(out, Prior{
						CX: (float32(c) + 0.5) * float32(m.stride),
						CY: (float32(r) + 0.5) * float32(m.stride),
						W:  1, H: 1,
					})
				}
			}
		}
	}
	return out
}

// BlazeFace decodes MediaPipe's front-camera BlazeFace as infer/onnx imports
// keijiro's Barracuda ONNX file: four outputs, scores for the 512 anchors of
// the 16x16 map and the 384 of the 8x8 map (logits), and 16 regression values
// for each (cx, cy, w, h, then 6 keypoints x, y, in input pixels relative to
// the anchor centre). The image is letterboxed to the square input. Its
// six keypoints (eyes, nose, mouth, ears) become the landmarks.
type BlazeFace struct {
	opt     SSDOptions
	r       *runner
	anchors []Prior
	size    int
	sc, reg [2]int // output indices: 16x16 and 8x8 maps
	tmp     []float32
	mip     mipmap
}

var _ Detector = (*BlazeFace)(nil)

// NewBlazeFace compiles g and finds its outputs by size.
func NewBlazeFace(g *infer.Graph, opt SSDOptions) (*BlazeFace, error) {
	if g == nil || len(g.Outputs) != 4 {
		return nil, fmt.Errorf("detect: BlazeFace needs the front model's four outputs (scores and regressions of two maps)")
	}
	if opt.Threshold <= 0 {
		opt.Threshold = 0.75
	}
	if opt.IoU <= 0 {
		opt.IoU = 0.3
	}
	in := g.Inputs[0].Shape
	if in[1] != in[2] {
		return nil, fmt.Errorf("detect: BlazeFace input %v is not square", in)
	}
	r, err := newRunner(g, opt.Options)
	if err != nil {
		return nil, err
	}
	b := &BlazeFace{opt: opt, r: r, size: in[1], anchors: BlazeFaceAnchors(in[1])}
	n0 := (in[1] / 8) * (in[1] / 8) * 2
	n1 := (in[1] / 16) * (in[1] / 16) * 6
	found := 0
	for i := range 4 {
		switch r.base.OutputShape(i).Elems() {
		case n0:
			b.sc[0] = i
		case n1:
			b.sc[1] = i
		case 16 * n0:
			b.reg[0] = i
		case 16 * n1:
			b.reg[1] = i
		default:
			continue
		}
		found++
	}
	if found != 4 || len(b.anchors) != n0+n1 {
		r.close()
		return nil, fmt.Errorf("detect: BlazeFace model %q: outputs do not hold scores and 16 regressions for %d and %d anchors", g.Meta.Name, n0, n1)
	}
	return b, nil
}

// Close releases the session.
func (b *BlazeFace) Close() { b.r.close() }

func (b *BlazeFace) prep(dst []float32, im *infer.Image) (sx, sy float32, err error) {
	// Shrink through the halvings first: letterbox samples bilinearly.
	b.mip.reset(im, b.size)
	src := b.mip.levels[len(b.mip.levels)-1]
	sx, sy, err = letterbox(&b.r.g.Meta, dst, b.size, b.size, src, &b.tmp)
	f := float32(src.W) / float32(im.W)
	return sx * f, sy * float32(src.H) / float32(im.H), err
}

// Detect finds faces in im.
func (b *BlazeFace) Detect(im *infer.Image) ([]Detection, error) {
	s, err := b.r.session(b.r.base.InputShape(0))
	if err != nil {
		return nil, err
	}
	sx, sy, err := b.prep(s.Input(0), im)
	if err != nil {
		return nil, fmt.Errorf("blazeface: %w", err)
	}
	if err := s.Run(); err != nil {
		return nil, fmt.Errorf("blazeface: %w", err)
	}
	var dets []Detection
	base := 0
	for m := range 2 {
		scores, regs := s.Output(b.sc[m]), s.Output(b.reg[m])
		for i := range scores {
			a := b.anchors[base+i]
			sc := Sigmoid(min(max(scores[i], -100), 100))
			if sc < b.opt.Threshold {
				continue
			}
			r := regs[16*i : 16*i+16]
			box := BoxFromCenter(a.CX+r[0], a.CY+r[1], r[2]*a.W, r[3]*a.H)
			box = box.Scale(1/sx, 1/sy).Clip(float32(im.W), float32(im.H))
			lm := make([][2]float32, 6)
			for k := range 6 {
				lm[k] = [2]float32{(a.CX + r[4+2*k]) / sx, (a.CY + r[5+2*k]) / sy}
			}
			dets = append(dets, Detection{Box: box, Score: sc, Landmarks: lm})
		}
		base += len(scores)
	}
	return NMSDetections(dropEmpty(dets), NMSOptions{Threshold: b.opt.IoU}), nil
}

// CalibrateBlazeFace readies g for int8: it equalizes the ranges of its
// depthwise/pointwise pairs (infer.Equalize) and calibrates the result, both
// on images preprocessed as Detect does, and returns the equalized graph
// with its Ranges (g is not modified). Equalization matters for BlazeFace:
// the depthwise convolutions of its 8x8 branch have channels 250 times
// wider than their median one, which leaves the others a few int8 levels
// (per-layer SQNR 4-8 dB at the last blocks and the 8x8 heads; 21-31 dB
// equalized, the outputs identical in float32).
func CalibrateBlazeFace(g *infer.Graph, images []*infer.Image, method string) (*infer.Graph, error) {
	b := &BlazeFace{r: &runner{g: g}, size: g.Inputs[0].Shape[1]}
	xs, err := singleSamples(g, g.Inputs[0].Shape, images, func(dst []float32, im *infer.Image) error {
		_, _, err := b.prep(dst, im)
		return err
	})
	if err != nil {
		return nil, err
	}
	eq, _, err := infer.Equalize(g, xs)
	if err != nil {
		return nil, fmt.Errorf("detect: equalize %s: %w", g.Meta.Name, err)
	}
	r, err := infer.Calibrate(eq, xs, method)
	if err != nil {
		return nil, fmt.Errorf("detect: calibrate %s on %d images: %w", g.Meta.Name, len(xs), err)
	}
	return WithRanges(eq, r), nil
}
