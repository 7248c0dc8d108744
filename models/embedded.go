package models

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/vigil-edge/vigil/infer"
)

//go:embed embed
var embedded embed.FS

// The names of the embedded models, as `vigil models` lists them and as
// configuration files and flags refer to them.
const (
	MTCNNPNet       = "mtcnn-pnet"
	MTCNNRNet       = "mtcnn-rnet"
	MTCNNONet       = "mtcnn-onet"
	TinyFace        = "tiny-face"
	FaceRecognition = "face-recognition"
)

// Names lists the embedded models, sorted.
func Names() []string {
	entries, _ := fs.ReadDir(embedded, "embed")
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".vq"); ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// Bytes returns the encoded .vq file of an embedded model.
func Bytes(name string) ([]byte, error) {
	b, err := embedded.ReadFile(path.Join("embed", name+".vq"))
	if err != nil {
		return nil, fmt.Errorf("no embedded model %q (embedded: %s)", name, strings.Join(Names(), ", "))
	}
	return b, nil
}

// Load decodes an embedded model.
func Load(name string) (*infer.Graph, error) {
	b, err := Bytes(name)
	if err != nil {
		return nil, err
	}
	g, err := infer.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("embedded model %q: %w", name, err)
	}
	return g, nil
}

// Open loads a model named by the user: an embedded model's name, or a path
// to a .vq file.
func Open(nameOrPath string) (*infer.Graph, error) {
	if strings.HasSuffix(nameOrPath, ".vq") || strings.ContainsRune(nameOrPath, '/') {
		return infer.LoadFile(nameOrPath)
	}
	return Load(nameOrPath)
}
