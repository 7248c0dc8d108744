// Package ort runs ONNX models through ONNX Runtime, the peer vigil's
// engine is checked and timed against (importer tests, vigil bench). It
// loads libonnxruntime.so at run time (dlopen through
// github.com/yalue/onnxruntime_go, which needs cgo); in a CGO_ENABLED=0
// build every call returns ErrUnavailable, so nothing else in vigil depends
// on ONNX Runtime being present.
//
// Tensors here are in the model's own layout (NCHW for most ONNX CNNs), float32.
package ort

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// ErrUnavailable is wrapped when ONNX Runtime cannot be used: the shared
// library is missing or failed to load, or the binary was built without cgo.
var ErrUnavailable = errors.New("ONNX Runtime unavailable")

// Options configure a Session.
type Options struct {
	// Threads is the intra-op thread count (0: ONNX Runtime's default).
	Threads int
	// Outputs names the tensors to fetch; empty means the model's outputs.
	// Names that are not outputs of the model are added as outputs.
	Outputs []string
}

// TensorInfo names a model input or output and its shape (-1 for dynamic).
type TensorInfo struct {
	Name  string
	Shape []int64
}

// LibraryPath returns the libonnxruntime.so.1 for this machine under the
// model cache: $VIGIL_MODELS/onnxruntime/linux-<arch>/, or models/cache next
// to the go.mod above the working directory. The error says how to fetch it.
func LibraryPath() (string, error) {
	arch := map[string]string{"amd64": "x64", "arm64": "arm64"}[runtime.GOARCH]
	if arch == "" || runtime.GOOS != "linux" {
		return "", fmt.Errorf("%w: no packaged library for %s/%s", ErrUnavailable, runtime.GOOS, runtime.GOARCH)
	}
	cache := os.Getenv("VIGIL_MODELS")
	if cache == "" {
		dir, err := os.Getwd()
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				cache = filepath.Join(dir, "models", "cache")
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				return "", fmt.Errorf("%w: set VIGIL_MODELS to the model cache", ErrUnavailable)
			}
			dir = parent
		}
	}
	p := filepath.Join(cache, "onnxruntime", "linux-"+arch, "libonnxruntime.so.1")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%w: %s is missing: run scripts/fetch-models.sh", ErrUnavailable, p)
	}
	return p, nil
}
