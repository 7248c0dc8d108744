package infer

import "github.com/vigil-edge/vigil/quant"

// QuantizeWeights prepares g for storage as an int8 model: it folds
// BatchNorm (so the folded weights are what gets quantized) and replaces the
// float weights of every Conv and Dense with int8 weights quantized per output
// channel exactly as the int8 executor quantizes float weights, so a model
// stored this way runs bit-identically to one quantized at load time.
func QuantizeWeights(g *Graph) error {
	g.Fold()
	for _, n := range g.Nodes {
		if (n.Op != OpConv && n.Op != OpDense) || n.W == nil {
			continue
		}
		q, s, err := quant.QuantizeWeights(n.W.Data, n.W.Shape[0])
		if err != nil {
			return nodeErr(n, "%v", err)
		}
		n.QW = &QTensor{Shape: n.W.Shape, Data: q, Scale: s}
		n.W = nil
	}
	_, err := g.Check()
	return err
}
