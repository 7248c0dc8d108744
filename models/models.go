// Package models locates vigil's model files: the weights fetched by
// scripts/fetch-models.sh into models/cache (or $VIGIL_MODELS), and the .vq
// models compiled into the binary.
package models

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrNoCache is returned when the fetched model files cannot be found.
var ErrNoCache = errors.New("model files not found: run scripts/fetch-models.sh (or set VIGIL_MODELS)")

// CacheDir returns the folder holding the fetched model files: $VIGIL_MODELS
// when set, otherwise models/cache in the module root found by walking up
// from the working directory to the folder holding go.mod.
func CacheDir() (string, error) {
	if d := os.Getenv("VIGIL_MODELS"); d != "" {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			return "", fmt.Errorf("VIGIL_MODELS=%q is not a folder: %w", d, ErrNoCache)
		}
		return d, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			c := filepath.Join(dir, "models", "cache")
			if st, err := os.Stat(c); err == nil && st.IsDir() {
				return c, nil
			}
			return "", fmt.Errorf("%s missing: %w", c, ErrNoCache)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ErrNoCache
		}
		dir = parent
	}
}

// CachePath returns the path of a fetched file, e.g. CachePath("faceplugin", "fr_detect.onnx"),
// and an error naming the file and the fix when it is missing.
func CachePath(elem ...string) (string, error) {
	dir, err := CacheDir()
	if err != nil {
		return "", err
	}
	p := filepath.Join(append([]string{dir}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s: %w", p, ErrNoCache)
	}
	return p, nil
}
