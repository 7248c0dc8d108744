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
)

// openCVRunner runs an ONNX file through OpenCV DNN (gocv) on one thread, on
// the same NHWC input the other engines get (transposed to NCHW).
func openCVRunner(model string, onnxModel []byte, input []float32, shape infer.Shape) *benchRunner {
	r := &benchRunner{model: model, engine: "opencv-dnn", threads: 1, impl: "OpenCV " + gocv.OpenCVVersion()}
	net, err := gocv.ReadNetFromONNXBytes(onnxModel)
	if err != nil || net.Empty() {
		net.Close()
		r.skip = fmt.Sprintf("OpenCV %s could not read the model: %v", gocv.OpenCVVersion(), err)
		return r
	}
	net.SetPreferableBackend(gocv.NetBackendOpenCV)
	net.SetPreferableTarget(gocv.NetTargetCPU)
	nchw := toNCHW(input, shape)
	blob, err := gocv.NewMatWithSizesFromBytes([]int{shape[0], shape[3], shape[1], shape[2]}, gocv.MatTypeCV32F,
		unsafe.Slice((*byte)(unsafe.Pointer(&nchw[0])), 4*len(nchw)))
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

// toNCHW copies an NHWC tensor into NCHW order.
func toNCHW(x []float32, s infer.Shape) []float32 {
	n, h, w, c := s[0], s[1], s[2], s[3]
	out := make([]float32, len(x))
	for b := range n {
		for y := range h {
			for xx := range w {
				for ch := range c {
					out[((b*c+ch)*h+y)*w+xx] = x[((b*h+y)*w+xx)*c+ch]
				}
			}
		}
	}
	return out
}
