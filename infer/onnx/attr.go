package onnx

import (
	"math"

	"github.com/vigil-edge/vigil/infer/onnx/onnxpb"
)

func attr(n *onnxpb.NodeProto, name string) *onnxpb.AttributeProto {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return a
		}
	}
	return nil
}

func attrInt(n *onnxpb.NodeProto, name string, def int) int {
	a := attr(n, name)
	if a == nil {
		return def
	}
	return clampInt(a.GetI())
}

func attrFloat(n *onnxpb.NodeProto, name string, def float32) float32 {
	a := attr(n, name)
	if a == nil {
		return def
	}
	return a.GetF()
}

func attrInts(n *onnxpb.NodeProto, name string) []int {
	a := attr(n, name)
	if a == nil {
		return nil
	}
	out := make([]int, len(a.GetInts()))
	for k, v := range a.GetInts() {
		out[k] = clampInt(v)
	}
	return out
}

func attrString(n *onnxpb.NodeProto, name, def string) string {
	a := attr(n, name)
	if a == nil {
		return def
	}
	return string(a.GetS())
}

// clampInt keeps fuzzed int64 attributes inside int32 so later arithmetic
// cannot overflow.
func clampInt(v int64) int {
	return int(max(min(v, math.MaxInt32), math.MinInt32))
}
