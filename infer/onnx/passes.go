package onnx

import (
	"github.com/vigil-edge/vigil/infer"
)

// onlyConvUsers reports whether every consumer of ONNX tensor t is a Conv
// reading it as its data input (and t is not a graph output).
func (im *importer) onlyConvUsers(t string) bool {
	for _, r := range im.readers[t] {
		if r.node.GetOpType() != "Conv" || r.input != 0 {
			return false
		}
	}
	return len(im.readers[t]) > 0 && len(im.readers[t]) == im.users[t]
}

// producers maps node names to nodes.
func producers(g *infer.Graph) map[string]*infer.Node {
	m := make(map[string]*infer.Node, len(g.Nodes))
	for _, n := range g.Nodes {
		m[n.Name] = n
	}
	return m
}

// foldAffine folds an Affine into the float Conv or Dense before it when
// that node feeds only the Affine and has no activation.
func (im *importer) foldAffine() {
	g := im.g
	byName := producers(g)
	users := g.Consumers()
	rename := map[string]string{}
	kept := g.Nodes[:0]
	for _, n := range g.Nodes {
		for k, in := range n.Inputs {
			if r, ok := rename[in]; ok {
				n.Inputs[k] = r
			}
		}
		if n.Op == infer.OpAffine && len(n.Inputs) == 1 {
			p := byName[n.Inputs[0]]
			if p != nil && (p.Op == infer.OpConv || p.Op == infer.OpDense) && p.W != nil && p.QW == nil &&
				p.Act == infer.ActNone && users[p.Name] == 1 && p.W.Shape[0] == len(n.Scale) && len(n.Shift) == len(n.Scale) {
				c := len(n.Scale)
				per := p.W.Shape.Elems() / c
				for oc := range c {
					w := p.W.Data[oc*per : (oc+1)*per]
					for j := range w {
						w[j] *= n.Scale[oc]
					}
				}
				if p.B == nil {
					p.B = make([]float32, c)
				}
				for oc := range c {
					p.B[oc] = p.B[oc]*n.Scale[oc] + n.Shift[oc]
				}
				rename[n.Name] = p.Name
				continue
			}
		}
		kept = append(kept, n)
	}
	g.Nodes = kept
	for k, o := range g.Outputs {
		if r, ok := rename[o]; ok {
			g.Outputs[k] = r
		}
	}
}

// fuseActivations folds ReLU and ReLU6 nodes into the Conv, Dense, Add or
// Affine before them when that node feeds only the activation.
func (im *importer) fuseActivations() {
	g := im.g
	byName := producers(g)
	users := g.Consumers()
	rename := map[string]string{}
	kept := g.Nodes[:0]
	for _, n := range g.Nodes {
		for k, in := range n.Inputs {
			if r, ok := rename[in]; ok {
				n.Inputs[k] = r
			}
		}
		if (n.Op == infer.OpReLU || n.Op == infer.OpReLU6) && len(n.Inputs) == 1 {
			p := byName[n.Inputs[0]]
			if p != nil && p.Act == infer.ActNone && users[p.Name] == 1 &&
				(p.Op == infer.OpConv || p.Op == infer.OpDense || p.Op == infer.OpAdd || p.Op == infer.OpAffine) {
				p.Act = infer.ActReLU
				if n.Op == infer.OpReLU6 {
					p.Act = infer.ActReLU6
				}
				rename[n.Name] = p.Name
				continue
			}
		}
		kept = append(kept, n)
	}
	g.Nodes = kept
	for k, o := range g.Outputs {
		if r, ok := rename[o]; ok {
			g.Outputs[k] = r
		}
	}
}
