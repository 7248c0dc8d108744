package onnx_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	. "github.com/vigil-edge/vigil/infer/onnx"
)

func TestImportRealModels(t *testing.T) {
	for _, m := range realModels {
		t.Run(m.name, func(t *testing.T) {
			g, err := ImportFile(modelFile(t, m.path), m.opts)
			require.NoError(t, err)
			shapes, err := g.Check()
			require.NoError(t, err)
			ops := map[string]int{}
			for _, n := range g.Nodes {
				ops[string(n.Op)]++
			}
			t.Logf("%s: inputs %v outputs %v, %d nodes %v", g.Meta.Name, g.Inputs, g.Outputs, len(g.Nodes), ops)
			for _, o := range g.Outputs {
				t.Logf("output %s %v", o, shapes[o])
			}
			if testing.Verbose() && false {
				for _, n := range g.Nodes {
					fmt.Println(n.Name, n.Op, n.Inputs, shapes[n.Name], n.Act)
				}
			}
		})
	}
}

// UltraFace's reshape targets are computed from Shape in the file, so the
// same weights import at another input size.
func TestUltraFaceOtherInputSize(t *testing.T) {
	g, err := ImportFile(modelFile(t, "faceplugin/fr_detect.onnx"), Options{
		Outputs:     []string{"scores", "462"},
		InputShapes: map[string][]int{"input": {1, 3, 480, 640}},
	})
	require.NoError(t, err)
	shapes, err := g.Check()
	require.NoError(t, err)
	// 60x80x3 + 30x40x2 + 15x20x2 + 8x10x3 anchors.
	require.EqualValues(t, [4]int{1, 1, 17640, 2}, shapes[g.Outputs[0]])
	require.EqualValues(t, [4]int{1, 1, 17640, 4}, shapes[g.Outputs[1]])
}
