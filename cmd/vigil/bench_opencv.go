package main

/*
#cgo !customenv pkg-config: opencv4
#cgo CXXFLAGS: --std=c++11
void vigil_cv_set_num_threads(int n);
int vigil_cv_get_num_threads(void);
*/
import "C"

import (
	"fmt"
	"unsafe"

	"gocv.io/x/gocv"

	"github.com/vigil-edge/vigil/infer"
	"github.com/vigil-edge/vigil/infer/onnx"
)

// openCVRunner runs an ONNX file through OpenCV DNN (gocv) on one thread, on
// the same NHWC input the other engines get (transposed to NCHW).
func openCVRunner(model string, onnxModel []byte, g *infer.Graph, input []float32) *benchRunner {
	r := &benchRunner{model: model, engine: "opencv-dnn", threads: 1, impl: "OpenCV " + gocv.OpenCVVersion()}
	net, err := gocv.ReadNetFromONNXBytes(onnxModel)
	if err != nil || net.Empty() {
		net.Close()
		r.skip = fmt.Sprintf("OpenCV %s could not read the model: %v", gocv.OpenCVVersion(), err)
		return r
	}
	net.SetPreferableBackend(gocv.NetBackendOpenCV)
	net.SetPreferableTarget(gocv.NetTargetCPU)
	peer := make([]float32, len(input))
	if err := onnx.PeerInput(g, 0, peer, input); err != nil {
		net.Close()
		r.skip = err.Error()
		return r
	}
	blob, err := gocv.NewMatWithSizesFromBytes(peerShape(g), gocv.MatTypeCV32F,
		unsafe.Slice((*byte)(unsafe.Pointer(&peer[0])), 4*len(peer)))
	if err != nil {
		net.Close()
		r.skip = fmt.Sprintf("OpenCV input blob: %v", err)
		return r
	}
	var names []string
	layers := net.GetLayerNames()
	for _, id := range net.GetUnconnectedOutLayers() {
		if id >= 1 && id <= len(layers) {
			names = append(names, layers[id-1])
		}
	}
	r.run = func() error {
		prev := int(C.vigil_cv_get_num_threads())
		C.vigil_cv_set_num_threads(1)
		defer C.vigil_cv_set_num_threads(C.int(prev))
		net.SetInput(blob, "")
		outs := net.ForwardLayers(names)
		var bad error
		for _, o := range outs {
			if o.Empty() {
				bad = fmt.Errorf("OpenCV DNN returned an empty output")
			}
			o.Close()
		}
		return bad
	}
	r.close = func() { blob.Close(); net.Close() }
	return r
}

// peerShape is the ONNX file's own input shape: NHWC for graphs the importer
// recorded as such (tf2onnx models), NCHW otherwise (and for exported graphs).
func peerShape(g *infer.Graph) []int {
	s := g.Inputs[0].Shape
	if g.Meta.Extra[onnx.LayoutKey+g.Inputs[0].Name] == "plain" {
		return []int{s[0], s[1], s[2], s[3]}
	}
	return []int{s[0], s[3], s[1], s[2]}
}
