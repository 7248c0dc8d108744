package onnx_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/infer/onnx"
)

// TestNonFiniteWeightsRefused: a NaN or an infinity anywhere in an ONNX model's constants
// (convolution weights and bias, BatchNorm parameters, Gemm weights, the constant side of
// Add and Mul, PRelu slopes) is refused at import with an error, never loaded into a model.
func TestNonFiniteWeightsRefused(t *testing.T) {
	bad := map[string]float32{"NaN": float32(math.NaN()), "+Inf": float32(math.Inf(1)), "-Inf": float32(math.Inf(-1))}
	// with returns n values of 0.5 with v at position k.
	with := func(n, k int, v float32) []float32 {
		out := make([]float32, n)
		for i := range out {
			out[i] = 0.5
		}
		out[k] = v
		return out
	}
	cases := []struct {
		name  string
		build func(b *builder, v float32)
	}{
		{"conv weight", func(b *builder, v float32) {
			x := b.input("x", 1, 3, 4, 5)
			b.output(b.node("Conv", []string{x, b.weight([]int64{2, 3, 1, 1}, with(6, 4, v), 0, 0), b.rnd(2)}))
		}},
		{"conv bias", func(b *builder, v float32) {
			x := b.input("x", 1, 3, 4, 5)
			b.output(b.node("Conv", []string{x, b.rnd(2, 3, 1, 1), b.weight([]int64{2}, with(2, 1, v), 0, 0)}))
		}},
		{"batchnorm scale", func(b *builder, v float32) {
			x := b.input("x", 1, 3, 4, 5)
			y := b.conv(x, 3, 3, 1)
			b.output(b.node("BatchNormalization", []string{y, b.weight([]int64{3}, with(3, 0, v), 0, 0), b.rnd(3), b.rnd(3),
				b.weight([]int64{3}, nil, 0.5, 2)}, aFloat("epsilon", 1e-3)))
		}},
		{"batchnorm variance", func(b *builder, v float32) {
			x := b.input("x", 1, 3, 4, 5)
			y := b.conv(x, 3, 3, 1)
			b.output(b.node("BatchNormalization", []string{y, b.weight([]int64{3}, nil, 0.5, 1.5), b.rnd(3), b.rnd(3),
				b.weight([]int64{3}, with(3, 2, v), 0, 0)}, aFloat("epsilon", 1e-3)))
		}},
		{"gemm weight", func(b *builder, v float32) {
			x := b.input("x", 1, 6)
			b.output(b.node("Gemm", []string{x, b.weight([]int64{4, 6}, with(24, 13, v), 0, 0), b.rnd(4)}, aInt("transB", 1)))
		}},
		{"add constant", func(b *builder, v float32) {
			x := b.input("x", 1, 3, 4, 5)
			b.output(b.node("Add", []string{b.conv(x, 3, 3, 1), b.weight([]int64{1, 3, 1, 1}, with(3, 1, v), 0, 0)}))
		}},
		{"mul constant", func(b *builder, v float32) {
			x := b.input("x", 1, 3, 4, 5)
			b.output(b.node("Mul", []string{b.conv(x, 3, 3, 1), b.weight([]int64{1, 3, 1, 1}, with(3, 2, v), 0, 0)}))
		}},
		{"prelu slope", func(b *builder, v float32) {
			x := b.input("x", 1, 3, 4, 5)
			b.output(b.node("PRelu", []string{b.conv(x, 3, 3, 1), b.weight([]int64{3, 1, 1}, with(3, 0, v), 0, 0)}))
		}},
	}
	refused := 0
	for _, c := range cases {
		for vname, v := range bad {
			t.Run(c.name+" "+vname, func(t *testing.T) {
				// The same model with finite values imports: the refusal is for the value.
				ok := newBuilder(11)
				c.build(ok, 0.25)
				_, err := onnx.Import(ok.bytes(t), onnx.Options{})
				require.NoError(t, err, "the finite model must import")

				b := newBuilder(11)
				c.build(b, v)
				require.NotPanics(t, func() {
					g, err := onnx.Import(b.bytes(t), onnx.Options{})
					require.Error(t, err, "%s with %s imported", c.name, vname)
					assert.Nil(t, g)
				})
				_, err = onnx.Import(b.bytes(t), onnx.Options{})
				assert.ErrorIs(t, err, onnx.ErrInvalid)
				assert.Regexp(t, `NaN|Inf|finite`, err.Error())
				refused++
				t.Log(err)
			})
		}
	}
	t.Logf("%d ONNX models with NaN or Inf constants refused at import", refused)
}
