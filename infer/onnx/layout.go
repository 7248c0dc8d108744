package onnx

import (
	"fmt"

	"github.com/vigil-edge/vigil/infer"
)

// PeerInput writes graph input i's NHWC data (as vigil's executors take it)
// into dst in the ONNX file's own layout, as ONNX Runtime or another peer
// wants it: transposed to NCHW for inputs the importer read as NCHW, copied
// for the others (NHWC models from tf2onnx, rank-1 and rank-2 inputs).
func PeerInput(g *infer.Graph, i int, dst, nhwc []float32) error {
	if i < 0 || i >= len(g.Inputs) {
		return fmt.Errorf("onnx: graph %q has no input %d", g.Meta.Name, i)
	}
	in := g.Inputs[i]
	s := in.Shape
	if len(nhwc) != s.Elems() || len(dst) != s.Elems() {
		return fmt.Errorf("onnx: input %q %v holds %d values, got %d and %d", in.Name, s, s.Elems(), len(nhwc), len(dst))
	}
	switch g.Meta.Extra[LayoutKey+in.Name] {
	case "nchw":
		n, h, w, c := s[0], s[1], s[2], s[3]
		for b := range n {
			src := nhwc[b*h*w*c : (b+1)*h*w*c]
			out := dst[b*h*w*c : (b+1)*h*w*c]
			for y := range h {
				for x := range w {
					px := src[(y*w+x)*c : (y*w+x+1)*c]
					for ch, v := range px {
						out[(ch*h+y)*w+x] = v
					}
				}
			}
		}
	case "plain":
		copy(dst, nhwc)
	default:
		return fmt.Errorf("onnx: graph %q does not record the layout of input %q (not imported by this package?)", g.Meta.Name, in.Name)
	}
	return nil
}
