package face

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/vigil-edge/vigil/infer"
)

// AdaptConfig sets up `vigil face adapt`.
type AdaptConfig struct {
	Train TrainConfig
	// Augment is how many augmented copies of each stored chip are
	// embedded besides the chip itself (default 8).
	Augment      int
	Augmentation Augmentation
}

// AdaptExamples builds the training set for a head from a gallery: each
// sample's stored embedding, plus, when the sample has a chip, the
// embeddings of Augment augmented copies of it. It refuses a gallery with
// fewer than 2 identities or fewer than 2 samples of any identity.
func AdaptExamples(snap *Snapshot, e Embedder, cfg AdaptConfig) (x [][]float32, labels []int, err error) {
	counts := map[string]int{}
	for _, id := range snap.Identities {
		counts[id.Name] = len(id.Samples)
	}
	if err := CheckTrainable(counts); err != nil {
		return nil, nil, err
	}
	if e != nil && (e.Name() != snap.Model || e.Dim() != snap.Dim) {
		return nil, nil, fmt.Errorf("adapt: %w: gallery holds %d-d embeddings from %q, embedder is %d-d %q", ErrMismatch, snap.Dim, snap.Model, e.Dim(), e.Name())
	}
	n := cfg.Augment
	if n == 0 {
		n = 8
	}
	aug := cfg.Augmentation
	if aug == (Augmentation{}) {
		aug = DefaultAugmentation
	}
	rng := rand.New(rand.NewPCG(cfg.Train.Seed, 17))
	for label, id := range snap.Identities {
		for _, s := range id.Samples {
			x = append(x, s.Embedding)
			labels = append(labels, label)
			if e == nil || len(s.Chip) == 0 || n < 0 {
				continue
			}
			chip, err := DecodeChip(s.Chip)
			if err != nil {
				return nil, nil, fmt.Errorf("adapt: %q sample %d: %w", id.Name, s.ID, err)
			}
			for range n {
				v := make([]float32, e.Dim())
				if err := e.Embed(Augment(chip, aug, rng), v); err != nil {
					return nil, nil, fmt.Errorf("adapt: %q sample %d: %w", id.Name, s.ID, err)
				}
				x = append(x, v)
				labels = append(labels, label)
			}
		}
	}
	return x, labels, nil
}

// Adapt trains a projection head for the gallery (see AdaptExamples) and
// returns it ready for Gallery.SetHead.
func Adapt(snap *Snapshot, e Embedder, cfg AdaptConfig) (*Head, TrainResult, error) {
	x, labels, err := AdaptExamples(snap, e, cfg)
	if err != nil {
		return nil, TrainResult{}, err
	}
	h, res, err := TrainHead(x, labels, cfg.Train)
	if err != nil {
		return nil, res, err
	}
	h.Trained = time.Now().UTC().Truncate(time.Second)
	h.Identities = len(snap.Identities)
	h.Examples = len(x)
	h.Loss = res.LastLoss
	return h, res, nil
}

// Face is a detected face handed to EmbedFace: the detector's box in
// image pixels, its score, and its five landmarks when it gives them.
type Face struct {
	X, Y, W, H float32
	Score      float32
	Landmarks  *Landmarks
	// Margin is the box-only crop's margin (see CropBox) for a face without
	// landmarks; 0 means BoxMargin. Detectors frame faces differently.
	Margin float64
}

// Embedded is a face aligned, scored and embedded.
type Embedded struct {
	Face
	Chip      *infer.Image
	Transform Similarity // image pixels -> chip pixels
	Quality   Quality
	Embedding []float32 // L2-normalised
}

// EmbedFace aligns f (by its landmarks, or by its box when it has none)
// to the embedder's input size, measures its quality and embeds it.
func EmbedFace(img *infer.Image, f Face, e Embedder) (Embedded, error) {
	var out Embedded
	if err := EmbedFaceInto(&out, img, f, e, QualityMin{}); err != nil {
		return Embedded{}, err
	}
	return out, nil
}

// EmbedFaceInto is EmbedFace into dst, reusing dst.Chip and dst.Embedding
// when they have the right size (a camera loop allocates nothing per face
// this way). A face below min (QualityMin.Check) is not embedded: the error
// says which measure failed, and dst holds the chip and its Quality.
func EmbedFaceInto(dst *Embedded, img *infer.Image, f Face, e Embedder, min QualityMin) error {
	size := e.InputSize()
	if dst.Chip == nil || dst.Chip.W != size || dst.Chip.H != size {
		dst.Chip = infer.NewImage(size, size)
	}
	if len(dst.Embedding) != e.Dim() {
		dst.Embedding = make([]float32, e.Dim())
	}
	var (
		t   Similarity
		err error
	)
	if f.Landmarks != nil {
		t, err = alignInto(dst.Chip, img, *f.Landmarks)
	} else {
		m := f.Margin
		if m == 0 {
			m = BoxMargin
		}
		t, err = cropBoxInto(dst.Chip, img, f.X, f.Y, f.W, f.H, m)
	}
	if err != nil {
		return err
	}
	dst.Face, dst.Transform = f, t
	dst.Quality = MeasureQuality(dst.Chip, f.Landmarks, float64(max(f.W, f.H)))
	if err := min.Check(dst.Quality); err != nil {
		return err
	}
	return e.Embed(dst.Chip, dst.Embedding)
}
