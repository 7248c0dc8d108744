package onnx_test

import (
	"os"
	"runtime"
	"testing"

	"github.com/vigil-edge/vigil/infer"
	"github.com/vigil-edge/vigil/infer/onnx"
)

func onnxMeta(name, source string) infer.Meta { return infer.Meta{Name: name, Source: source} }

// FuzzImport feeds arbitrary bytes to the importer: it must return a graph
// that passes Check or an error, never panic, and never allocate far more
// than the input's size.
func FuzzImport(f *testing.F) {
	for _, m := range realModels {
		data, err := os.ReadFile(modelFile(f, m.path))
		if err != nil {
			f.Fatal(err)
		}
		for _, n := range []int{16, 300, 4096, 65536} {
			f.Add(data[:min(n, len(data))])
		}
	}
	for _, opset := range []int64{9, 11, 13} {
		b := newBuilder(opset)
		x := b.input("x", 1, 3, 6, 5)
		c := b.node("Concat", []string{b.conv(x, 3, 4, 1), b.node("ConstantOfShape", []string{b.ints(1, 2, 6, 5)})}, aInt("axis", 1))
		t := b.node("Transpose", []string{c}, aInts("perm", 0, 2, 3, 1))
		r := b.node("Reshape", []string{t, b.ints(1, -1, 2)})
		b.output(b.node("Softmax", []string{r}, aInt("axis", 2)))
		f.Add(b.bytes(f))
		b = newBuilder(opset)
		x = b.input("x", 1, 8)
		b.output(b.node("Gemm", []string{x, b.rnd(8, 4), b.rnd(4)}))
		f.Add(b.bytes(f))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		g, err := onnx.Import(data, onnx.Options{})
		runtime.ReadMemStats(&after)
		if err == nil {
			if _, err := g.Check(); err != nil {
				t.Fatalf("imported graph fails Check: %v", err)
			}
		}
		if a := after.TotalAlloc - before.TotalAlloc; a > uint64(256*len(data)+1<<25) {
			t.Fatalf("allocated %d bytes for a %d-byte input", a, len(data))
		}
	})
}
