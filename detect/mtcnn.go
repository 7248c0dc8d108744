package detect

import (
	"fmt"

	"github.com/vigil-edge/vigil/infer"
)

// MTCNNOptions configure the MTCNN cascade. Zero values take the defaults
// of face-api.js (and the original MTCNN paper's code).
type MTCNNOptions struct {
	Options
	// MinFace is the smallest face to find, in pixels (default 20). The
	// pyramid's first level maps it onto P-Net's 12-pixel window.
	MinFace float64
	// ScaleFactor is the ratio between pyramid levels, in (0, 1) (default 0.709).
	ScaleFactor float64
	// Thresholds are the face probabilities each stage needs (P-Net, R-Net,
	// O-Net; default 0.6, 0.7, 0.7).
	Thresholds [3]float32
	// MaxBatch caps the crops R-Net and O-Net run at once (default 32).
	MaxBatch int
}

func (o *MTCNNOptions) defaults() {
	if o.MinFace <= 0 {
		o.MinFace = 20
	}
	if o.ScaleFactor <= 0 || o.ScaleFactor >= 1 {
		o.ScaleFactor = 0.709
	}
	if o.Thresholds == [3]float32{} {
		o.Thresholds = [3]float32{0.6, 0.7, 0.7}
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 32
	}
}

// NMS settings of the cascade (MTCNN's reference code).
var (
	mtcnnNMSPerScale = NMSOptions{Threshold: 0.5}
	mtcnnNMSStage1   = NMSOptions{Threshold: 0.7}
	mtcnnNMSStage2   = NMSOptions{Threshold: 0.7}
	mtcnnNMSStage3   = NMSOptions{Threshold: 0.7, Overlap: OverlapMin}
)

// MTCNN is the three-stage cascade of Zhang et al. 2016: P-Net slid over an
// image pyramid as a fully convolutional net (a 12x12 window at stride 2),
// R-Net on 24x24 crops of its candidates, O-Net on 48x48 crops with box
// refinement and five landmarks (left eye, right eye, nose, left and right
// mouth corners), with NMS within and between the stages.
//
// The graphs are those of infer/tfjs.MTCNN: images as they are, outputs
// "prob" (softmax, channel 1 = face), "reg" (corner offsets as fractions of
// the box) and, for O-Net, "landmarks" (x1..x5, y1..y5 as fractions).
type MTCNN struct {
	opt     MTCNNOptions
	p, r, o *runner
	mip     mipmap

	pProb, pReg, rProb, rReg, oProb, oReg, oLm int
}

var _ Detector = (*MTCNN)(nil)

// NewMTCNN compiles the three stages. For int8 the graphs need Ranges
// (CalibrateMTCNN).
func NewMTCNN(pnet, rnet, onet *infer.Graph, opt MTCNNOptions) (*MTCNN, error) {
	opt.defaults()
	m := &MTCNN{opt: opt}
	var err error
	for _, s := range []struct {
		g   *infer.Graph
		r   **runner
		out []string
		idx []*int
	}{
		{pnet, &m.p, []string{"prob", "reg"}, []*int{&m.pProb, &m.pReg}},
		{rnet, &m.r, []string{"prob", "reg"}, []*int{&m.rProb, &m.rReg}},
		{onet, &m.o, []string{"prob", "reg", "landmarks"}, []*int{&m.oProb, &m.oReg, &m.oLm}},
	} {
		if s.g == nil {
			m.Close()
			return nil, fmt.Errorf("detect: MTCNN needs P-Net, R-Net and O-Net graphs")
		}
		for i, name := range s.out {
			if *s.idx[i], err = outputIndex(s.g, name); err != nil {
				m.Close()
				return nil, err
			}
		}
		if *s.r, err = newRunner(s.g, opt.Options); err != nil {
			m.Close()
			return nil, err
		}
	}
	// R-Net and O-Net run in power-of-two batches (batchSize): make every
	// batch's session now, so a long-running daemon reaches its steady set
	// of sessions (and worker goroutines) at start rather than whenever a
	// frame first has that many candidates.
	for b := 1; ; b *= 2 {
		for _, r := range []*runner{m.r, m.o} {
			in := r.inputShape()
			in[0] = b
			if _, err := r.session(in); err != nil {
				m.Close()
				return nil, err
			}
		}
		if b >= opt.MaxBatch {
			break
		}
	}
	return m, nil
}

// Close releases the sessions.
func (m *MTCNN) Close() {
	for _, r := range []*runner{m.p, m.r, m.o} {
		if r != nil {
			r.close()
		}
	}
}

// Detect runs the cascade on im.
func (m *MTCNN) Detect(im *infer.Image) ([]Detection, error) {
	return m.detect(im, nil)
}

func (m *MTCNN) detect(im *infer.Image, collect collector) ([]Detection, error) {
	m.mip.reset(im, 12)
	c, err := m.stage1(im, collect)
	if err != nil || len(c) == 0 {
		return nil, err
	}
	c, err = m.stage2(im, c, collect)
	if err != nil || len(c) == 0 {
		return nil, err
	}
	return m.stage3(im, c, collect)
}

// collector receives the input tensors of a stage (calibration); nil means none.
type collector func(stage int, input []float32, shape infer.Shape)

// stage1 runs P-Net over the pyramid and returns square candidates. The
// stages read im through m.mip, which Detect resets.
func (m *MTCNN) stage1(im *infer.Image, collect collector) ([]Detection, error) {
	scales, err := PyramidScales(im.W, im.H, 12, m.opt.MinFace, m.opt.ScaleFactor)
	if err != nil {
		return nil, fmt.Errorf("mtcnn: %w", err)
	}
	var all []Detection
	var regs [][4]float32
	meta := &m.p.g.Meta
	for _, s := range scales {
		w, h := ScaledSize(im.W, im.H, s)
		if w < 12 || h < 12 {
			continue
		}
		shape := infer.Shape{1, h, w, 3}
		sess, err := m.p.session(shape)
		if err != nil {
			return nil, err
		}
		in := sess.Input(0)
		if err := m.mip.preprocess(meta, in, w, h, 0, 0, float32(im.W), float32(im.H)); err != nil {
			return nil, fmt.Errorf("mtcnn: %w", err)
		}
		if collect != nil {
			collect(1, in, shape)
		}
		if err := sess.Run(); err != nil {
			return nil, fmt.Errorf("mtcnn: P-Net at %dx%d: %w", w, h, err)
		}
		prob, reg := sess.Output(m.pProb), sess.Output(m.pReg)
		os := sess.OutputShape(m.pProb)
		gh, gw := os[1], os[2]
		// The level's true scale per axis (sizes were rounded up).
		sx, sy := float32(w)/float32(im.W), float32(h)/float32(im.H)
		var boxes []Box
		var scores []float32
		var lregs [][4]float32
		for r := range gh {
			for c := range gw {
				i := r*gw + c
				p := prob[2*i+1]
				if p < m.opt.Thresholds[0] {
					continue
				}
				// Cell (r, c) is the 12x12 window at (2c, 2r) of the level.
				boxes = append(boxes, BoxFromCorners(float32(2*c)/sx, float32(2*r)/sy, float32(2*c+12)/sx, float32(2*r+12)/sy))
				scores = append(scores, p)
				lregs = append(lregs, [4]float32(reg[4*i:4*i+4]))
			}
		}
		for _, k := range NMS(boxes, scores, nil, mtcnnNMSPerScale) {
			all = append(all, Detection{Box: boxes[k], Score: scores[k]})
			regs = append(regs, lregs[k])
		}
	}
	boxes, scores := split(all)
	keep := NMS(boxes, scores, nil, mtcnnNMSStage1)
	out := make([]Detection, 0, len(keep))
	for _, k := range keep {
		d := regs[k]
		out = append(out, Detection{Box: ApplyOffsets(all[k].Box, d[0], d[1], d[2], d[3]).Square(), Score: all[k].Score})
	}
	return dropEmpty(out), nil
}

func dropEmpty(d []Detection) []Detection {
	out := d[:0]
	for _, x := range d {
		if !x.Box.Empty() && finite(x.Box.X) && finite(x.Box.Y) && finite(x.Box.W) && finite(x.Box.H) {
			out = append(out, x)
		}
	}
	return out
}

// crops runs r on size x size crops of boxes in batches and calls f with
// each box's index and its outputs (f gets the session and the batch slot).
func (m *MTCNN) crops(r *runner, im *infer.Image, boxes []Detection, size, stage int, collect collector,
	f func(i int, s *infer.Session, slot int)) error {
	meta := &r.g.Meta
	per := size * size * 3
	for lo := 0; lo < len(boxes); {
		n := batchSize(len(boxes)-lo, m.opt.MaxBatch)
		shape := infer.Shape{n, size, size, 3}
		sess, err := r.session(shape)
		if err != nil {
			return err
		}
		in := sess.Input(0)
		k := min(n, len(boxes)-lo)
		for j := range n {
			dst := in[j*per : (j+1)*per]
			if j >= k {
				clear(dst)
				continue
			}
			b := boxes[lo+j].Box
			if err := m.mip.preprocess(meta, dst, size, size, b.X, b.Y, b.W, b.H); err != nil {
				return fmt.Errorf("mtcnn: %w", err)
			}
			if collect != nil {
				collect(stage, dst, infer.Shape{1, size, size, 3})
			}
		}
		if err := sess.Run(); err != nil {
			return fmt.Errorf("mtcnn: %s on %d crops: %w", r.g.Meta.Name, n, err)
		}
		for j := range k {
			f(lo+j, sess, j)
		}
		lo += k
	}
	return nil
}

// stage2 refines candidates with R-Net.
func (m *MTCNN) stage2(im *infer.Image, cands []Detection, collect collector) ([]Detection, error) {
	var kept []Detection
	var regs [][4]float32
	err := m.crops(m.r, im, cands, 24, 2, collect, func(i int, s *infer.Session, slot int) {
		p := s.Output(m.rProb)[2*slot+1]
		if p <= m.opt.Thresholds[1] {
			return
		}
		d := s.Output(m.rReg)[4*slot : 4*slot+4]
		kept = append(kept, Detection{Box: cands[i].Box, Score: p})
		regs = append(regs, [4]float32{d[0], d[1], d[2], d[3]})
	})
	if err != nil {
		return nil, err
	}
	boxes, scores := split(kept)
	keep := NMS(boxes, scores, nil, mtcnnNMSStage2)
	out := make([]Detection, 0, len(keep))
	for _, i := range keep {
		d := regs[i]
		out = append(out, Detection{Box: ApplyOffsets(kept[i].Box, d[0], d[1], d[2], d[3]).Square(), Score: kept[i].Score})
	}
	return dropEmpty(out), nil
}

// stage3 runs O-Net: final boxes and landmarks.
func (m *MTCNN) stage3(im *infer.Image, cands []Detection, collect collector) ([]Detection, error) {
	var kept []Detection
	err := m.crops(m.o, im, cands, 48, 3, collect, func(i int, s *infer.Session, slot int) {
		p := s.Output(m.oProb)[2*slot+1]
		if p <= m.opt.Thresholds[2] {
			return
		}
		d := s.Output(m.oReg)[4*slot : 4*slot+4]
		l := s.Output(m.oLm)[10*slot : 10*slot+10]
		b := cands[i].Box
		// Landmarks are fractions of the box O-Net saw, before refinement.
		lm := make([][2]float32, 5)
		for k := range 5 {
			lm[k] = [2]float32{b.X + l[k]*b.W, b.Y + l[k+5]*b.H}
		}
		kept = append(kept, Detection{Box: ApplyOffsets(b, d[0], d[1], d[2], d[3]), Score: p, Landmarks: lm})
	})
	if err != nil {
		return nil, err
	}
	out := NMSDetections(dropEmpty(kept), mtcnnNMSStage3)
	for i := range out {
		out[i].Box = out[i].Box.Clip(float32(im.W), float32(im.H))
	}
	return dropEmpty(out), nil
}

func split(d []Detection) ([]Box, []float32) {
	b := make([]Box, len(d))
	s := make([]float32, len(d))
	for i, x := range d {
		b[i], s[i] = x.Box, x.Score
	}
	return b, s
}
