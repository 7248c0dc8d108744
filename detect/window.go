package detect

import (
	"fmt"
	"slices"

	"github.com/vigil-edge/vigil/infer"
)

// WindowOptions configure the sliding-window detector.
type WindowOptions struct {
	Options
	// MinFace is the smallest face in pixels (default: the window size).
	MinFace float64
	// ScaleFactor is the ratio between pyramid levels (default 0.709).
	ScaleFactor float64
	// Stride is the step between windows at each level, in level pixels
	// (default: a sixth of the window, P-Net's 2 for 12).
	Stride int
	// Threshold is the minimum face score (default 0.5).
	Threshold float32
	// IoU is the NMS threshold (default 0.3).
	IoU float32
	// MaxBatch caps the windows run at once (default 128).
	MaxBatch int
	// Score names the output holding the face score (default: the first);
	// Channel is its channel, 0 meaning the last (1 of a two-way softmax,
	// 0 of a single sigmoid). The score must be a probability.
	Score   string
	Channel int
	// Regression optionally names an output of MTCNN-style corner offsets
	// (P-Net's "reg") applied to each window's box.
	Regression string
}

// SlidingWindow runs any small face/non-face classifier (input [1, h, w, 3],
// output a score per image) over windows of an image pyramid: every level's
// windows are cut from the preprocessed level, classified in batches, and
// the windows scoring above the threshold are mapped back to image pixels
// and merged by NMS. It is what MTCNN's P-Net computes as a convolution,
// made explicit and open to classifiers that are not fully convolutional.
type SlidingWindow struct {
	opt      WindowOptions
	r        *runner
	wh, ww   int
	scoreOut int
	regOut   int // -1 without regression
	channel  int
	mip      mipmap
	level    []float32
}

var _ Detector = (*SlidingWindow)(nil)

// NewSlidingWindow compiles the classifier g.
func NewSlidingWindow(g *infer.Graph, opt WindowOptions) (*SlidingWindow, error) {
	if g == nil || len(g.Inputs) != 1 {
		return nil, fmt.Errorf("detect: sliding window needs a classifier graph with one input")
	}
	in := g.Inputs[0].Shape
	d := &SlidingWindow{wh: in[1], ww: in[2], regOut: -1}
	if in[3] != 3 {
		return nil, fmt.Errorf("detect: classifier %q input %v is not RGB", g.Meta.Name, in)
	}
	if opt.MinFace <= 0 {
		opt.MinFace = float64(max(d.wh, d.ww))
	}
	if opt.ScaleFactor <= 0 || opt.ScaleFactor >= 1 {
		opt.ScaleFactor = 0.709
	}
	if opt.Stride <= 0 {
		opt.Stride = max(min(d.wh, d.ww)/6, 1)
	}
	if opt.Threshold <= 0 {
		opt.Threshold = 0.5
	}
	if opt.IoU <= 0 {
		opt.IoU = 0.3
	}
	if opt.MaxBatch <= 0 {
		opt.MaxBatch = 128
	}
	var err error
	if opt.Score != "" {
		if d.scoreOut, err = outputIndex(g, opt.Score); err != nil {
			return nil, err
		}
	}
	if opt.Regression != "" {
		if d.regOut, err = outputIndex(g, opt.Regression); err != nil {
			return nil, err
		}
	}
	if d.r, err = newRunner(g, opt.Options); err != nil {
		return nil, err
	}
	os := d.r.base.OutputShape(d.scoreOut)
	if os[1] != 1 || os[2] != 1 {
		d.r.close()
		return nil, fmt.Errorf("detect: classifier %q: score output %v is not one value per window (want [N 1 1 C])", g.Meta.Name, os)
	}
	d.channel = os[3] - 1
	if opt.Channel > 0 {
		d.channel = opt.Channel
	}
	if d.channel >= os[3] {
		d.r.close()
		return nil, fmt.Errorf("detect: classifier %q: score channel %d, output has %d", g.Meta.Name, d.channel, os[3])
	}
	if d.regOut >= 0 {
		if rs := d.r.base.OutputShape(d.regOut); rs[1] != 1 || rs[2] != 1 || rs[3] != 4 {
			d.r.close()
			return nil, fmt.Errorf("detect: classifier %q: regression output %v is not 4 values per window", g.Meta.Name, rs)
		}
	}
	d.opt = opt
	return d, nil
}

// Close releases the sessions.
func (d *SlidingWindow) Close() { d.r.close() }

// levels preprocesses each pyramid level of im in turn and calls f with it.
func (d *SlidingWindow) levels(im *infer.Image, f func(level []float32, w, h int, sx, sy float32) error) error {
	scales, err := PyramidScales(im.W, im.H, max(d.wh, d.ww), d.opt.MinFace, d.opt.ScaleFactor)
	if err != nil {
		return fmt.Errorf("sliding window: %w", err)
	}
	d.mip.reset(im, min(d.wh, d.ww))
	for _, s := range scales {
		w, h := ScaledSize(im.W, im.H, s)
		if w < d.ww || h < d.wh {
			continue
		}
		if cap(d.level) < w*h*3 {
			d.level = make([]float32, w*h*3)
		}
		lv := d.level[:w*h*3]
		if err := d.mip.preprocess(&d.r.g.Meta, lv, w, h, 0, 0, float32(im.W), float32(im.H)); err != nil {
			return fmt.Errorf("sliding window: %w", err)
		}
		if err := f(lv, w, h, float32(w)/float32(im.W), float32(h)/float32(im.H)); err != nil {
			return err
		}
	}
	return nil
}

// cut copies the window at (x, y) of a w-wide level into dst.
func (d *SlidingWindow) cut(dst, level []float32, w, x, y int) {
	row := d.ww * 3
	for r := range d.wh {
		o := ((y+r)*w + x) * 3
		copy(dst[r*row:(r+1)*row], level[o:o+row])
	}
}

// Detect finds faces in im.
func (d *SlidingWindow) Detect(im *infer.Image) ([]Detection, error) {
	var all []Detection
	per := d.wh * d.ww * 3
	err := d.levels(im, func(level []float32, w, h int, sx, sy float32) error {
		var pos [][2]int
		for y := 0; y+d.wh <= h; y += d.opt.Stride {
			for x := 0; x+d.ww <= w; x += d.opt.Stride {
				pos = append(pos, [2]int{x, y})
			}
		}
		var found []Detection
		for lo := 0; lo < len(pos); {
			n := batchSize(len(pos)-lo, d.opt.MaxBatch)
			s, err := d.r.session(infer.Shape{n, d.wh, d.ww, 3})
			if err != nil {
				return err
			}
			in := s.Input(0)
			k := min(n, len(pos)-lo)
			for j := range k {
				d.cut(in[j*per:(j+1)*per], level, w, pos[lo+j][0], pos[lo+j][1])
			}
			clear(in[k*per:])
			if err := s.Run(); err != nil {
				return fmt.Errorf("sliding window: %s on %d windows: %w", d.r.g.Meta.Name, n, err)
			}
			score := s.Output(d.scoreOut)
			c := s.OutputShape(d.scoreOut)[3]
			for j := range k {
				p := score[j*c+d.channel]
				if p < d.opt.Threshold {
					continue
				}
				x, y := float32(pos[lo+j][0]), float32(pos[lo+j][1])
				b := BoxFromCorners(x/sx, y/sy, (x+float32(d.ww))/sx, (y+float32(d.wh))/sy)
				if d.regOut >= 0 {
					r := s.Output(d.regOut)[4*j : 4*j+4]
					b = ApplyOffsets(b, r[0], r[1], r[2], r[3])
				}
				found = append(found, Detection{Box: b, Score: p})
			}
			lo += k
		}
		all = append(all, NMSDetections(dropEmpty(found), NMSOptions{Threshold: d.opt.IoU})...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := NMSDetections(all, NMSOptions{Threshold: d.opt.IoU})
	for i := range out {
		out[i].Box = out[i].Box.Clip(float32(im.W), float32(im.H))
	}
	return dropEmpty(out), nil
}

// CalibrateWindow calibrates the classifier g on windows of the pyramids of
// images, as Detect cuts them: an even spread of all windows (background,
// mostly) plus the windows the float classifier takes for faces. Without
// the latter the rare high scores a detector lives on fall outside the
// calibrated range of the last layers and the int8 classifier finds nothing.
func CalibrateWindow(g *infer.Graph, images []*infer.Image, method string, opt WindowOptions) (map[string]infer.Range, error) {
	opt.Precision = infer.Float32
	d, err := NewSlidingWindow(g, opt)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	var bg, faces [][]float32
	per := d.wh * d.ww * 3
	for _, im := range images {
		err := d.levels(im, func(level []float32, w, h int, sx, sy float32) error {
			step := max(d.opt.Stride, 1) * 3
			for y := 0; y+d.wh <= h; y += step {
				for x := 0; x+d.ww <= w; x += step {
					win := make([]float32, per)
					d.cut(win, level, w, x, y)
					bg = append(bg, win)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		dets, err := d.Detect(im)
		if err != nil {
			return nil, err
		}
		for _, x := range dets {
			win := make([]float32, per)
			if err := d.mip.preprocess(&g.Meta, win, d.ww, d.wh, x.Box.X, x.Box.Y, x.Box.W, x.Box.H); err != nil {
				return nil, err
			}
			faces = append(faces, win)
		}
	}
	xs := append(thin(bg, calibMaxSamples*3/4), thin(faces, calibMaxSamples/4)...)
	if len(xs) == 0 {
		return nil, fmt.Errorf("detect: calibrate %s: the images are smaller than a window", g.Meta.Name)
	}
	c := *g
	c.Inputs = slices.Clone(g.Inputs)
	c.Inputs[0].Shape[0] = 1
	return infer.Calibrate(&c, xs, method)
}
