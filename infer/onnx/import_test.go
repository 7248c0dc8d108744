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
