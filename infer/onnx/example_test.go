package onnx_test

import (
	"fmt"
	"log"

	"github.com/vigil-edge/vigil/infer"
	"github.com/vigil-edge/vigil/infer/onnx"
)

// UltraFace RFB-320 from faceplugin-face-recognition-js ends in the SSD
// prior decoding (Slice, Exp and constant prior tensors), which the engine
// does not run: import it up to the class scores and the raw box
// regressions and decode the priors in Go.
func ExampleImportFile_ultraFace() {
	g, err := onnx.ImportFile("models/cache/faceplugin/fr_detect.onnx", onnx.Options{
		Outputs: []string{"scores", "462"}, // [1,4420,2] softmax, [1,4420,4] regressions
		Meta: infer.Meta{
			Mean:         [3]float32{127, 127, 127},
			Scale:        [3]float32{1.0 / 128, 1.0 / 128, 1.0 / 128},
			ChannelOrder: "RGB",
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	m, err := infer.NewModel(g, infer.Options{Precision: infer.Float32})
	if err != nil {
		log.Fatal(err)
	}
	s := m.NewSession()
	defer s.Close()
	// Fill s.Input(0) ([1,240,320,3] NHWC), then:
	if err := s.Run(); err != nil {
		log.Fatal(err)
	}
	scores := s.Output(0) // ONNX order: anchor-major, [background, face]
	fmt.Println(len(scores), s.OutputShape(0))
}
