package face

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vigil-edge/vigil/infer"
)

// EmbedFunc embeds the face of one photograph: found is false when the
// photograph has no usable face.
type EmbedFunc func(path string, img *infer.Image) (emb []float32, found bool, err error)

// IsImageFile reports whether a file name looks like a JPEG or PNG.
func IsImageFile(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jpg", ".jpeg", ".png":
		return true
	}
	return false
}

// EvaluateDir evaluates recognition on dir, which holds one folder per
// identity with its photographs (JPEG or PNG; other files are ignored).
// Images where fn finds no face count in Report.NoFace and are left out.
func EvaluateDir(dir string, fn EmbedFunc, threshold float32) (Report, error) {
	ids, err := os.ReadDir(dir)
	if err != nil {
		return Report{}, fmt.Errorf("eval faces: %w", err)
	}
	var (
		emb          [][]float32
		labels, keys []string
		noFace       int
	)
	for _, id := range ids {
		if !id.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(dir, id.Name()))
		if err != nil {
			return Report{}, fmt.Errorf("eval faces: %w", err)
		}
		names := make([]string, 0, len(files))
		for _, f := range files {
			if !f.IsDir() && IsImageFile(f.Name()) {
				names = append(names, f.Name())
			}
		}
		slices.Sort(names)
		for _, n := range names {
			p := filepath.Join(dir, id.Name(), n)
			img, err := infer.LoadImage(p)
			if err != nil {
				return Report{}, fmt.Errorf("eval faces: %w", err)
			}
			v, found, err := fn(p, img)
			if err != nil {
				return Report{}, fmt.Errorf("eval faces: %s: %w", p, err)
			}
			if !found {
				noFace++
				continue
			}
			emb = append(emb, v)
			labels = append(labels, id.Name())
			keys = append(keys, n)
		}
	}
	if len(emb) == 0 && noFace == 0 {
		return Report{}, fmt.Errorf("eval faces: %s holds no identity folders with JPEG or PNG photographs", dir)
	}
	r := Evaluate(emb, labels, keys, threshold)
	r.NoFace = noFace
	return r, nil
}
