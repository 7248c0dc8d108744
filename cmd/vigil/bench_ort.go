package main

import (
	ortgo "github.com/yalue/onnxruntime_go"

	"github.com/vigil-edge/vigil/infer"
	"github.com/vigil-edge/vigil/infer/onnx"
	"github.com/vigil-edge/vigil/infer/onnx/ort"
)

// ortRunner runs an ONNX model (its bytes) through ONNX Runtime (CPU,
// float32) with the given intra-op thread count, on the same input as the
// other engines. ONNX Runtime is a peer, not a dependency: the library is
// loaded at run time, and a missing one makes the runner skipped.
func ortRunner(model string, onnxModel []byte, g *infer.Graph, input []float32, outputs []string, threads int) *benchRunner {
	r := &benchRunner{model: model, engine: "onnxruntime", threads: threads}
	s, err := ort.NewSession(onnxModel, ort.Options{Threads: threads, Outputs: outputs})
	if err != nil {
		r.skip = err.Error()
		return r
	}
	r.impl = "ONNX Runtime " + ortgo.GetVersion()
	if err := onnx.PeerInput(g, 0, s.Input(0), input); err != nil {
		s.Close()
		r.skip = err.Error()
		return r
	}
	r.run = s.Run
	r.close = s.Close
	return r
}
