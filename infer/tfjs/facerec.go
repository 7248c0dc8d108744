package tfjs

import (
	"fmt"

	"github.com/vigil-edge/vigil/infer"
)

// FaceRecognitionInput is the side of the recognition net's square input.
const FaceRecognitionInput = 150

// FaceRecognition builds face-api's 128-d face recognition net (a dlib-style
// ResNet-34 variant) from dir/face_recognition_model-weights_manifest.json.
//
// Input [1, 150, 150, 3] RGB, x = (pixel - meanRGB) / 255. Output
// "descriptor" [1, 1, 1, 128], not normalised (face-api compares descriptors
// by Euclidean distance, 0.6 being its usual threshold).
//
// Each conv's "scale" layer (x*weights + biases per channel) is folded into
// the conv. A down-sampling residual's shortcut is a 2x2 average pool whose
// channels are padded with zeros; it is built as one 2x2 stride-2 conv with
// weights 0.25 on the diagonal. Where face-api pads the residual branch by a
// zero row and column to match the pooled shortcut, a 1x1 identity depthwise
// conv with bottom/right padding does the same.
func FaceRecognition(dir string) (*infer.Graph, error) {
	w, err := LoadManifest(dir, FaceRecognitionManifest)
	if err != nil {
		return nil, err
	}
	return faceRecognition(w)
}

func faceRecognition(w Weights) (*infer.Graph, error) {
	const in = "input"
	b := newBuilder(w, in, infer.Shape{1, FaceRecognitionInput, FaceRecognitionInput, 3})
	shapes := map[string]infer.Shape{in: b.g.Inputs[0].Shape}
	track := func(name string) string {
		if b.err != nil || name == "" {
			return ""
		}
		b.g.Outputs = []string{name}
		s, err := b.g.Check()
		if err != nil {
			b.err = fmt.Errorf("tfjs face_recognition from %q: %w", w.Manifest, err)
			return ""
		}
		shapes = s
		return name
	}
	// convLayer: conv + bias, then the scale layer (folded), then optional ReLU.
	convLayer := func(name, x, prefix string, stride int, pad infer.Padding, relu bool) string {
		act := infer.ActNone
		if relu {
			act = infer.ActReLU
		}
		y := b.conv(name, x, prefix+"/conv/filters", prefix+"/conv/bias", stride, pad, act, false)
		if y == "" {
			return ""
		}
		n := b.g.Nodes[len(b.g.Nodes)-1]
		oc := n.W.Shape[0]
		sw := b.tensor(prefix+"/scale/weights", oc)
		sb := b.tensor(prefix+"/scale/biases", oc)
		if b.err != nil {
			return ""
		}
		if n.B == nil {
			n.B = make([]float32, oc)
		}
		per := n.W.Shape.Elems() / oc
		for o := range oc {
			s := sw.Data[o]
			ws := n.W.Data[o*per : (o+1)*per]
			for i := range ws {
				ws[i] *= s
			}
			n.B[o] = n.B[o]*s + sb.Data[o]
		}
		return y
	}
	residual := func(x, prefix string) string {
		y := convLayer(prefix+"/conv1", x, prefix+"/conv1", 1, same, true)
		y = convLayer(prefix+"/conv2", y, prefix+"/conv2", 1, same, false)
		return b.node(&infer.Node{Name: prefix, Op: infer.OpAdd, Inputs: []string{y, x}, Act: infer.ActReLU})
	}
	residualDown := func(x, prefix string) string {
		y := convLayer(prefix+"/conv1", x, prefix+"/conv1", 2, valid, true)
		y = track(convLayer(prefix+"/conv2", y, prefix+"/conv2", 1, same, false))
		if y == "" {
			return ""
		}
		xs, ys := shapes[x], shapes[y]
		// Shortcut: avgPool 2x2 stride 2 (valid), zero-padded on channels.
		ph, pw := xs[1]/2, xs[2]/2
		var sc string
		if xs[3] == ys[3] {
			sc = b.node(&infer.Node{Name: prefix + "/pool", Op: infer.OpAvgPool, Inputs: []string{x},
				Kernel: [2]int{2, 2}, Stride: [2]int{2, 2}, Pad: valid})
		} else {
			ic, oc := xs[3], ys[3]
			if oc < ic {
				b.err = fmt.Errorf("%w: manifest %q: %s: branch has %d channels, fewer than its input's %d", ErrBadManifest, w.Manifest, prefix, oc, ic)
				return ""
			}
			pw4 := &infer.Tensor{Shape: infer.Shape{oc, 2, 2, ic}, Data: make([]float32, oc*4*ic)}
			for c := range ic {
				for k := range 4 {
					pw4.Data[(c*4+k)*ic+c] = 0.25
				}
			}
			sc = b.node(&infer.Node{Name: prefix + "/pool", Op: infer.OpConv, Inputs: []string{x}, W: pw4,
				Stride: [2]int{2, 2}, Pad: valid})
		}
		// face-api appends one zero row and one zero column to the branch when
		// its spatial size differs from the pooled shortcut's.
		if ys[1] != ph || ys[2] != pw {
			if ph-ys[1] != 1 || pw-ys[2] != 1 {
				b.err = fmt.Errorf("%w: manifest %q: %s: branch %v cannot be padded to the shortcut's %dx%d", ErrBadManifest, w.Manifest, prefix, ys, ph, pw)
				return ""
			}
			c := ys[3]
			ones := &infer.Tensor{Shape: infer.Shape{c, 1, 1, 1}, Data: make([]float32, c)}
			for i := range ones.Data {
				ones.Data[i] = 1
			}
			y = b.node(&infer.Node{Name: prefix + "/pad", Op: infer.OpConv, Inputs: []string{y}, W: ones, Groups: c,
				Pad: explicit(0, 0, 1, 1)})
		}
		return track(b.node(&infer.Node{Name: prefix, Op: infer.OpAdd, Inputs: []string{sc, y}, Act: infer.ActReLU}))
	}

	x := convLayer("conv32_down", in, "conv32_down", 2, valid, true)
	x = track(b.node(&infer.Node{Name: "pool", Op: infer.OpMaxPool, Inputs: []string{x},
		Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, Pad: valid}))
	for _, p := range []string{"conv32_1", "conv32_2", "conv32_3"} {
		x = residual(x, p)
	}
	x = track(x)
	x = residualDown(x, "conv64_down")
	for _, p := range []string{"conv64_1", "conv64_2", "conv64_3"} {
		x = residual(x, p)
	}
	x = track(x)
	x = residualDown(x, "conv128_down")
	for _, p := range []string{"conv128_1", "conv128_2"} {
		x = residual(x, p)
	}
	x = track(x)
	x = residualDown(x, "conv256_down")
	for _, p := range []string{"conv256_1", "conv256_2"} {
		x = residual(x, p)
	}
	x = track(x)
	x = residualDown(x, "conv256_down_out")
	x = b.node(&infer.Node{Name: "mean", Op: infer.OpGlobalAvgPool, Inputs: []string{x}})
	x = b.dense("descriptor", x, "fc", "")
	meta := infer.Meta{
		Name:         "face_recognition",
		Description:  "face-api 128-d face descriptor: dlib-style ResNet on a 150x150 face chip",
		Source:       "@vladmandic/face-api@1.7.15 model/" + FaceRecognitionManifest,
		License:      "MIT",
		Mean:         [3]float32{122.782, 117.001, 104.298},
		Scale:        [3]float32{1.0 / 255, 1.0 / 255, 1.0 / 255},
		ChannelOrder: "RGB",
		Extra: map[string]string{
			"embedding":          "128",
			"distance":           "euclidean",
			"distance_threshold": "0.6",
			"letterbox":          "pad the chip to a square centred with black, then resize (face-api toBatchTensor with isCenterImage=true)",
		},
	}
	return b.finish(meta, x)
}
