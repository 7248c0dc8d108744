package main

import (
	"fmt"
	"runtime"
	"sync"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/vigil-edge/vigil/infer"
	"github.com/vigil-edge/vigil/models"
)

// ONNX Runtime is a peer, not a dependency: onnxruntime_go loads
// libonnxruntime.so with dlopen at run time, so vigil builds and runs without
// it, and `vigil bench` reports it as skipped when the library is missing.

var ortInit struct {
	once    sync.Once
	version string
	err     error
}

// ortLibrary finds libonnxruntime.so.1 for this machine: $VIGIL_ONNXRUNTIME,
// or the copy scripts/fetch-models.sh unpacks from onnxruntime-node.
func ortLibrary() (string, error) {
	arch := map[string]string{"amd64": "linux-x64", "arm64": "linux-arm64"}[runtime.GOARCH]
	if arch == "" {
		return "", fmt.Errorf("no ONNX Runtime build for %s", runtime.GOARCH)
	}
	return models.CachePath("onnxruntime", arch, "libonnxruntime.so.1")
}

func initORT() (string, error) {
	ortInit.once.Do(func() {
		lib, err := ortLibrary()
		if err != nil {
			ortInit.err = fmt.Errorf("ONNX Runtime not installed: %w", err)
			return
		}
		ort.SetSharedLibraryPath(lib)
		if err := ort.InitializeEnvironment(); err != nil {
			ortInit.err = fmt.Errorf("ONNX Runtime %s: %w", lib, err)
			return
		}
		ortInit.version = ort.GetVersion()
	})
	return ortInit.version, ortInit.err
}

// ortRunner runs an ONNX file through ONNX Runtime (CPU, float32) with the
// given intra-op thread count, on the same input as the other engines.
func ortRunner(model, onnxPath string, input []float32, shape infer.Shape, threads int) *benchRunner {
	r := &benchRunner{model: model, engine: "onnxruntime", threads: threads}
	version, err := initORT()
	if err != nil {
		r.skip = err.Error()
		return r
	}
	r.impl = "ONNX Runtime " + version
	ins, outs, err := ort.GetInputOutputInfo(onnxPath)
	if err != nil || len(ins) != 1 {
		r.skip = fmt.Sprintf("ONNX Runtime cannot read %s: %v", onnxPath, err)
		return r
	}
	opts, err := ort.NewSessionOptions()
	if err != nil {
		r.skip = err.Error()
		return r
	}
	defer opts.Destroy()
	if err := opts.SetIntraOpNumThreads(threads); err != nil {
		r.skip = err.Error()
		return r
	}
	if err := opts.SetInterOpNumThreads(1); err != nil {
		r.skip = err.Error()
		return r
	}
	outNames := make([]string, len(outs))
	for i, o := range outs {
		outNames[i] = o.Name
	}
	sess, err := ort.NewDynamicAdvancedSession(onnxPath, []string{ins[0].Name}, outNames, opts)
	if err != nil {
		r.skip = fmt.Sprintf("ONNX Runtime session for %s: %v", onnxPath, err)
		return r
	}
	in, err := ort.NewTensor(ort.NewShape(int64(shape[0]), int64(shape[3]), int64(shape[1]), int64(shape[2])), toNCHW(input, shape))
	if err != nil {
		sess.Destroy()
		r.skip = err.Error()
		return r
	}
	outputs := make([]ort.Value, len(outs))
	r.run = func() error {
		clear(outputs)
		err := sess.Run([]ort.Value{in}, outputs)
		for _, o := range outputs {
			if o != nil {
				o.Destroy()
			}
		}
		return err
	}
	r.close = func() { in.Destroy(); sess.Destroy() }
	return r
}
