package tfjs

import (
	"fmt"

	"github.com/vigil-edge/vigil/infer"
)

// Manifest names in the model cache (see DEVELOPERS.md).
const (
	TinyFaceDetectorManifest = "tiny_face_detector_model-weights_manifest.json"
	FaceRecognitionManifest  = "face_recognition_model-weights_manifest.json"
	MTCNNManifest            = "mtcnn_model-weights_manifest.json"
)

// TinyFaceDetectorInput is the default input size; any multiple of 32 works
// (infer.Model.Reshape) and gives a grid of size/32.
const TinyFaceDetectorInput = 416

// tinyFaceAnchors are face-api's BOX_ANCHORS for the tiny face detector, in
// grid cells (width, height).
const tinyFaceAnchors = "[[1.603231,2.094468],[6.041143,7.080126],[2.882459,3.518061],[4.266906,5.178857],[9.041765,10.66308]]"

// TinyFaceDetector builds face-api's tiny face detector (a tiny-YOLOv2 with
// depthwise-separable convolutions) from dir/tiny_face_detector_model-weights_manifest.json.
//
// Input [1, 416, 416, 3] RGB, x = (pixel - meanRGB) / 255. Output "grid"
// [1, S, S, 25] with S = input/32: per cell 5 anchors x (tx, ty, tw, th,
// score), raw (before sigmoid/exp). Meta.Extra describes the decoding.
func TinyFaceDetector(dir string) (*infer.Graph, error) {
	w, err := LoadManifest(dir, TinyFaceDetectorManifest)
	if err != nil {
		return nil, err
	}
	return tinyFaceDetector(w)
}

func tinyFaceDetector(w Weights) (*infer.Graph, error) {
	const in = "input"
	b := newBuilder(w, in, infer.Shape{1, TinyFaceDetectorInput, TinyFaceDetectorInput, 3})
	leaky := func(name, x string) string {
		// face-api's leaky(x) = relu(x - 0.1x) + 0.1x, i.e. LeakyReLU with float32(0.1).
		return b.node(&infer.Node{Name: name, Op: infer.OpLeakyReLU, Inputs: []string{x}, Alpha: 0.1})
	}
	pool := func(name, x string, stride int) string {
		return b.node(&infer.Node{Name: name, Op: infer.OpMaxPool, Inputs: []string{x},
			Kernel: [2]int{2, 2}, Stride: [2]int{stride, stride}, Pad: same})
	}
	// conv0 is a plain 3x3 conv without padding (isFirstLayerConv2d).
	x := b.conv("conv0", in, "conv0/filters", "conv0/bias", 1, valid, infer.ActNone, false)
	x = leaky("conv0/leaky", x)
	x = pool("pool0", x, 2)
	// conv1..conv5: pad 1, depthwise 3x3, pointwise 1x1 + bias, leaky; conv6/7
	// are absent in this model (7 filter sizes).
	for i := 1; i <= 5; i++ {
		p := fmt.Sprintf("conv%d", i)
		x = b.depthwise(p+"/depthwise", x, p+"/depthwise_filter", explicit(1, 1, 1, 1))
		x = b.conv(p+"/pointwise", x, p+"/pointwise_filter", p+"/bias", 1, valid, infer.ActNone, false)
		x = leaky(p+"/leaky", x)
		stride := 2
		if i == 5 {
			stride = 1
		}
		x = pool(fmt.Sprintf("pool%d", i), x, stride)
	}
	x = b.conv("grid", x, "conv8/filters", "conv8/bias", 1, valid, infer.ActNone, false)
	if s := b.shapeOf("conv8/filters", 4); s != nil && s[3] != 25 {
		return nil, fmt.Errorf("%w: manifest %q: conv8/filters has %d output channels, want 25 (5 anchors x 5)", ErrBadManifest, w.Manifest, s[3])
	}
	meta := infer.Meta{
		Name:         "tiny_face_detector",
		Description:  "face-api tiny face detector: tiny-YOLOv2 with separable convs, 5 anchors, one class",
		Source:       "@vladmandic/face-api@1.7.15 model/" + TinyFaceDetectorManifest,
		License:      "MIT",
		Mean:         [3]float32{117.001, 114.697, 97.404},
		Scale:        [3]float32{1.0 / 255, 1.0 / 255, 1.0 / 255},
		ChannelOrder: "RGB",
		Extra: map[string]string{
			"anchors":       tinyFaceAnchors,
			"anchor_units":  "grid cells (width, height)",
			"box_encoding":  "per cell and anchor a, channels 5a..5a+4 = tx, ty, tw, th, score: cx = (col + sigmoid(tx)) / S, cy = (row + sigmoid(ty)) / S, w = exp(tw) * anchor_w / S, h = exp(th) * anchor_h / S (fractions of the input), score = sigmoid(score)",
			"iou_threshold": "0.4",
			"input_size":    "416; any multiple of 32 (grid = size/32)",
			"letterbox":     "pad the image to a square at the bottom/right with black, then resize (face-api toBatchTensor with isCenterImage=false)",
		},
	}
	return b.finish(meta, x)
}
