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
	"runtime"

	"github.com/vigil-edge/vigil/models"
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

// LibraryPath returns the libonnxruntime.so.1 for this machine in the model
// cache (models.CachePath: onnxruntime/linux-<arch>/). The error says how to
// fetch it.
func LibraryPath() (string, error) {
	arch := map[string]string{"amd64": "x64", "arm64": "arm64"}[runtime.GOARCH]
	if arch == "" || runtime.GOOS != "linux" {
		return "", fmt.Errorf("%w: no packaged library for %s/%s", ErrUnavailable, runtime.GOOS, runtime.GOARCH)
	}
	p, err := models.CachePath("onnxruntime", "linux-"+arch, "libonnxruntime.so.1")
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return p, nil
}
