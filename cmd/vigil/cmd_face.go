package main

// The face recognition commands: enroll, gallery, identify, embed, face adapt and the faces
// evaluation. They parse flags and call into package face; detection comes from package detect.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/vigil-edge/vigil/detect"
	"github.com/vigil-edge/vigil/face"
	"github.com/vigil-edge/vigil/infer"
	"github.com/vigil-edge/vigil/infer/tfjs"
	"github.com/vigil-edge/vigil/models"
)

// faceDefaultModel is the default embedder: face-api's 128-d ResNet, embedded as an int8 .vq
// and available as float weights in the model cache.
const faceDefaultModel = "face-recognition"

// faceSpace names the embedding space of the default model in galleries (int8 and float
// embeddings of one network are comparable, so the precision is not part of it).
const faceSpace = "face-api-resnet128"

// faceOpts are the flags every face command shares.
type faceOpts struct {
	model      string
	precision  string
	threads    int
	calib      string
	chips      bool
	minSharp   float64
	minSize    float64
	maxYaw     float64
	minFace    float64
	threshold  float64
	aggregate  string
	needDetect bool
}

func (o *faceOpts) embedderFlags(fs *flagSet) {
	fs.StringVar(&o.model, "model", faceDefaultModel, "embedding model: an embedded model's name or a .vq file")
	fs.StringVar(&o.precision, "precision", "int8", "executor: int8 or float32")
	fs.IntVar(&o.threads, "threads", 0, "threads per network (0: one per CPU)")
	fs.StringVar(&o.calib, "calib", "", "folder of face images to calibrate int8 ranges on, when the model has none")
}

func (o *faceOpts) detectFlags(fs *flagSet) {
	fs.BoolVar(&o.chips, "chips", false, "images are aligned face chips: embed them whole, without detection")
	fs.Float64Var(&o.minFace, "min-face", 40, "smallest face to detect, in pixels")
	fs.Float64Var(&o.minSharp, "min-sharpness", face.DefaultQualityMin.Sharpness, "minimum variance of the Laplacian of the aligned chip")
	fs.Float64Var(&o.minSize, "min-size", face.DefaultQualityMin.Size, "minimum face size in pixels")
	fs.Float64Var(&o.maxYaw, "max-yaw", face.DefaultQualityMin.MaxYaw, "maximum pose proxy |yaw| (0..1, 0: no limit)")
}

func (o *faceOpts) matchFlags(fs *flagSet) {
	fs.Float64Var(&o.threshold, "threshold", 0, fmt.Sprintf("cosine distance at or below which a face is an enrolled identity (0: the gallery head's threshold, or %.2f)", face.DefaultThreshold))
	fs.StringVar(&o.aggregate, "aggregate", "min", "per-identity distance: min (nearest sample) or trimmed (trimmed mean)")
}

func (o *faceOpts) quality() face.QualityMin {
	return face.QualityMin{Sharpness: o.minSharp, Size: o.minSize, MaxYaw: o.maxYaw}
}

func (o *faceOpts) agg() (face.Aggregate, error) {
	switch o.aggregate {
	case "min":
		return face.AggMin, nil
	case "trimmed":
		return face.AggTrimmedMean, nil
	}
	return 0, fmt.Errorf("--aggregate %q: want min or trimmed", o.aggregate)
}

func (o *faceOpts) prec() (infer.Precision, error) {
	switch o.precision {
	case "int8":
		return infer.Int8, nil
	case "float32", "float":
		return infer.Float32, nil
	}
	return 0, fmt.Errorf("--precision %q: want int8 or float32", o.precision)
}

// faceEngine is what a face command runs: the embedder and, unless images are chips, a detector.
type faceEngine struct {
	emb *face.GraphEmbedder
	det detect.Detector
	q   face.QualityMin
}

func (e *faceEngine) Close() {
	if e.emb != nil {
		e.emb.Close()
	}
	if e.det != nil {
		e.det.Close()
	}
}

func openFaceEngine(o *faceOpts, stderr io.Writer) (*faceEngine, error) {
	p, err := o.prec()
	if err != nil {
		return nil, err
	}
	e := &faceEngine{q: o.quality()}
	e.emb, err = openEmbedder(o.model, p, o.threads, o.calib)
	if err != nil {
		return nil, err
	}
	if o.needDetect && !o.chips {
		e.det, err = openFaceDetector(p, o.threads, o.minFace)
		if err != nil {
			e.Close()
			return nil, err
		}
	}
	return e, nil
}

// openEmbedder loads the embedding network. For the default model in float32 it prefers the
// float weights in the model cache; int8 needs calibrated ranges: the embedded model has them,
// --calib computes them from a folder of face images.
func openEmbedder(model string, p infer.Precision, threads int, calib string) (*face.GraphEmbedder, error) {
	var (
		g   *infer.Graph
		err error
	)
	name := model
	if model == faceDefaultModel {
		name = faceSpace
		if p == infer.Float32 || calib != "" {
			g, err = faceCacheGraph()
		}
		if g == nil {
			var embErr error
			if g, embErr = models.Load(model); embErr != nil {
				if err == nil {
					g, err = faceCacheGraph()
				}
				if g == nil {
					return nil, fmt.Errorf("embedding model: %v; and %v", embErr, err)
				}
			}
		}
	} else {
		if g, err = models.Open(model); err != nil {
			return nil, fmt.Errorf("embedding model: %w", err)
		}
		if g.Meta.Name != "" {
			name = g.Meta.Name
		} else {
			name = strings.TrimSuffix(filepath.Base(model), ".vq")
		}
	}
	if p == infer.Int8 && (len(g.Ranges) == 0 || calib != "") {
		if calib == "" {
			return nil, fmt.Errorf("embedding model %q has no calibrated int8 ranges: pass --calib DIR (face images) or --precision float32", model)
		}
		if g, err = calibrateEmbedder(g, calib); err != nil {
			return nil, err
		}
	}
	return face.NewGraphEmbedder(name, g, infer.Options{Precision: p, Threads: threads})
}

func faceCacheGraph() (*infer.Graph, error) {
	dir, err := models.CacheDir()
	if err != nil {
		return nil, err
	}
	return tfjs.FaceRecognition(filepath.Join(dir, "face-api"))
}

// calibrateEmbedder computes int8 ranges for g from every image under dir, each taken whole as
// a chip (percentile observer).
func calibrateEmbedder(g *infer.Graph, dir string) (*infer.Graph, error) {
	var chips []*infer.Image
	err := filepath.WalkDir(dir, func(p string, d iofs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !face.IsImageFile(p) {
			return nil
		}
		im, err := infer.LoadImage(p)
		if err != nil {
			return err
		}
		chips = append(chips, im, face.Flip(im))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("calibration images: %w", err)
	}
	if len(chips) == 0 {
		return nil, fmt.Errorf("calibration images: no JPEG or PNG under %s", dir)
	}
	xs, err := face.CalibrationInputs(g, chips)
	if err != nil {
		return nil, err
	}
	r, err := infer.Calibrate(g, xs, "percentile")
	if err != nil {
		return nil, err
	}
	c := *g
	c.Ranges = r
	return &c, nil
}

// openFaceDetector builds the detectors: the MTCNN cascade (it gives the five landmarks
// alignment needs; the embedded int8 models when present and int8 is asked for, else the float
// weights from the model cache) and the tiny face detector (boxes only), merged by
// faceDetectorChain. On the johns chips pasted into 640x480 frames MTCNN alone misses 7 of 33
// faces at its default thresholds and once returns only a small false face; the tiny face
// detector finds all 33.
func openFaceDetector(p infer.Precision, threads int, minFace float64) (detect.Detector, error) {
	open := func(name string) (detect.Detector, error) {
		c := detect.Config{Options: detect.Options{Precision: p, Threads: threads}, MinFace: minFace}
		d, err := detect.Open(name, c)
		if errors.Is(err, detect.ErrNeedCalibration) {
			// No embedded int8 model: detect in float32 rather than calibrate on the
			// photographs being enrolled or evaluated.
			c.Precision = infer.Float32
			d, err = detect.Open(name, c)
		}
		if err != nil {
			return nil, fmt.Errorf("face detector %s: %w", name, err)
		}
		return d, nil
	}
	mt, err := open(detect.NameMTCNN)
	if err != nil {
		return nil, err
	}
	tiny, err := open(detect.NameTiny)
	if err != nil {
		mt.Close()
		return nil, err
	}
	return &faceDetectorChain{first: mt, fallback: tiny}, nil
}

// tinyBoxMargin is the box-crop margin for the tiny face detector's boxes: on the johns chips
// pasted into frames, crops with margin 0.05 embed closest to the true dlib chips (mean cosine
// distance 0.021; 0.026 at 0, 0.040 at 0.2).
const tinyBoxMargin = 0.05

// faceDetectorChain merges two detectors: every face of fallback (box only) that some face of
// first (with landmarks) overlaps is replaced by that face; faces of first that overlap nothing
// are kept too. Faces found by fallback alone are box-cropped.
type faceDetectorChain struct {
	first, fallback detect.Detector
}

var _ detect.Detector = (*faceDetectorChain)(nil)

func (c *faceDetectorChain) Detect(im *infer.Image) ([]detect.Detection, error) {
	a, err := c.first.Detect(im)
	if err != nil || c.fallback == nil {
		return a, err
	}
	b, err := c.fallback.Detect(im)
	if err != nil {
		return nil, err
	}
	used := make([]bool, len(a))
	out := make([]detect.Detection, 0, len(a)+len(b))
	for _, fb := range b {
		best, bestIoU := -1, float32(0.3)
		for i, fa := range a {
			if iou := detect.IoU(fa.Box, fb.Box); !used[i] && iou >= bestIoU {
				best, bestIoU = i, iou
			}
		}
		if best >= 0 {
			used[best] = true
			out = append(out, a[best])
		} else {
			out = append(out, fb)
		}
	}
	for i, fa := range a {
		if !used[i] && !overlapsAny(fa.Box, b) {
			out = append(out, fa)
		}
	}
	return out, nil
}

// overlapsAny reports whether box overlaps one of dets enough to be the same face seen
// differently (then the detectors disagree on its extent: keep one).
func overlapsAny(box detect.Box, dets []detect.Detection) bool {
	for _, d := range dets {
		if detect.IoM(box, d.Box) > 0.5 {
			return true
		}
	}
	return false
}

func (c *faceDetectorChain) Close() {
	c.first.Close()
	if c.fallback != nil {
		c.fallback.Close()
	}
}

// faceOf converts a detection; five landmarks become face.Landmarks (MTCNN's order is ours).
func faceOf(d detect.Detection) face.Face {
	f := face.Face{X: d.Box.X, Y: d.Box.Y, W: d.Box.W, H: d.Box.H, Score: d.Score, Margin: tinyBoxMargin}
	if len(d.Landmarks) == 5 {
		var lm face.Landmarks
		for i, p := range d.Landmarks {
			lm[i] = face.Point{X: p[0], Y: p[1]}
		}
		f.Landmarks = &lm
	}
	return f
}

// faces returns every face of img aligned and embedded, largest first. In chips mode the
// whole image is the one face.
// eachImage finds and embeds the faces of every image, lets fill complete each face's JSON
// and hands each image's result to print. An image that cannot be read or processed is
// reported in its result and makes the exit code exitFail; the others are still processed.
func (e *faceEngine) eachImage(ctx context.Context, paths []string, print func(imageJSON), fill func(face.Embedded, *faceJSON)) int {
	code := exitOK
	for _, path := range paths {
		if ctx.Err() != nil {
			return exitFail
		}
		res := imageJSON{Image: path, Faces: []faceJSON{}}
		img, err := infer.LoadImage(path)
		var fcs []face.Embedded
		if err == nil {
			fcs, err = e.faces(img)
		}
		if err != nil {
			res.Error = err.Error()
			code = exitFail
		}
		for _, f := range fcs {
			j := toFaceJSON(f)
			fill(f, &j)
			res.Faces = append(res.Faces, j)
		}
		print(res)
	}
	return code
}

func (e *faceEngine) faces(img *infer.Image) ([]face.Embedded, error) {
	if e.det == nil {
		emb := make([]float32, e.emb.Dim())
		if err := e.emb.Embed(img, emb); err != nil {
			return nil, err
		}
		return []face.Embedded{{
			Face:      face.Face{W: float32(img.W), H: float32(img.H), Score: 1},
			Chip:      img,
			Quality:   face.MeasureQuality(img, nil, float64(max(img.W, img.H))),
			Embedding: emb,
		}}, nil
	}
	dets, err := e.det.Detect(img)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(dets, func(a, b detect.Detection) int {
		switch aa, ba := a.Box.Area(), b.Box.Area(); {
		case aa > ba:
			return -1
		case aa < ba:
			return 1
		}
		return 0
	})
	out := make([]face.Embedded, 0, len(dets))
	for _, d := range dets {
		f, err := face.EmbedFace(img, faceOf(d), e.emb)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

type faceJSON struct {
	Box       [4]float32   `json:"box"` // x, y, w, h in image pixels
	Score     float32      `json:"score"`
	Landmarks [][2]float32 `json:"landmarks,omitempty"`
	Quality   *qualityJSON `json:"quality,omitempty"`
	Name      string       `json:"name,omitempty"`
	Distance  *float32     `json:"distance,omitempty"`
	Nearest   string       `json:"nearest,omitempty"`
	Embedding []float32    `json:"embedding,omitempty"`
	Rejected  string       `json:"rejected,omitempty"`
}

type qualityJSON struct {
	Sharpness float64  `json:"sharpness"`
	Size      float64  `json:"size"`
	Yaw       *float64 `json:"yaw,omitempty"`
}

func toFaceJSON(f face.Embedded) faceJSON {
	j := faceJSON{Box: [4]float32{f.X, f.Y, f.W, f.H}, Score: f.Score}
	if f.Landmarks != nil {
		for _, p := range f.Landmarks {
			j.Landmarks = append(j.Landmarks, [2]float32{p.X, p.Y})
		}
	}
	q := &qualityJSON{Sharpness: f.Quality.Sharpness, Size: f.Quality.Size}
	if y := f.Quality.Yaw; y == y {
		q.Yaw = &y
	}
	j.Quality = q
	return j
}

type imageJSON struct {
	Image string     `json:"image"`
	Faces []faceJSON `json:"faces"`
	Error string     `json:"error,omitempty"`
}

func init() {
	registerEnroll()
	registerGallery()
	registerIdentify()
	registerEmbed()
	registerFaceAdapt()
	registerEvalFaces()
}

func registerEnroll() {
	c := &command{
		name:    "enroll",
		summary: "enrol a person in a face gallery from photographs",
		usage: `usage: vigil enroll --gallery DIR [--largest] [--chips] NAME IMAGE...

Detects the face in each IMAGE (JPEG or PNG), aligns it, checks its quality and adds its
embedding (and the aligned chip as JPEG) to identity NAME in the gallery in DIR, creating both
when needed. An image with no face, with several faces (unless --largest: take the largest) or
with a face below the quality minimum is refused and nothing is enrolled. NAME: 1 to 64 ASCII
letters, digits, '_', '.' or '-', starting with a letter or digit, not "unknown" (the rule
the daemon's MQTT topics and commands use).`,
	}
	c.run = func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		fs := c.newFlagSet(stdout, stderr)
		o := &faceOpts{needDetect: true}
		dir := fs.String("gallery", "", "gallery folder")
		largest := fs.Bool("largest", false, "when an image holds several faces, enrol the largest")
		noChip := fs.Bool("no-chip", false, "do not store the aligned chip (face adapt then has only the embedding)")
		o.embedderFlags(fs)
		o.detectFlags(fs)
		if code, done := fs.parse(args); done {
			return code
		}
		switch {
		case *dir == "":
			return fs.usageError("--gallery is required")
		case fs.NArg() < 2:
			return fs.usageError("need a NAME and at least one IMAGE")
		}
		name := fs.Arg(0)
		if err := face.ValidateName(name); err != nil {
			return fs.usageError("%v", err)
		}
		if _, err := o.prec(); err != nil {
			return fs.usageError("%v", err)
		}
		g, err := face.OpenGallery(*dir)
		if err != nil {
			fmt.Fprintf(stderr, "vigil enroll: %v\n", err)
			return exitFail
		}
		e, err := openFaceEngine(o, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "vigil enroll: %v\n", err)
			return exitFail
		}
		defer e.Close()
		var samples []face.NewSample
		failed := false
		for _, path := range fs.Args()[1:] {
			if ctx.Err() != nil {
				return exitFail
			}
			s, err := e.enrolSample(path, *largest, !*noChip)
			if err != nil {
				fmt.Fprintf(stderr, "vigil enroll: %v\n", err)
				failed = true
				continue
			}
			samples = append(samples, s)
		}
		if failed {
			fmt.Fprintf(stderr, "vigil enroll: nothing enrolled: fix or leave out the images above\n")
			return exitFail
		}
		ids, err := g.Enroll(name, e.emb.Name(), samples...)
		if err != nil {
			fmt.Fprintf(stderr, "vigil enroll: %v\n", err)
			return exitFail
		}
		n := 0
		if id, ok := g.Snapshot().Find(name); ok {
			n = len(id.Samples)
		}
		fmt.Fprintf(stdout, "enrolled %d sample(s) of %q (ids %v); %q now has %d\n", len(ids), name, ids, name, n)
		return exitOK
	}
	register(c)
}

func (e *faceEngine) enrolSample(path string, largest, keepChip bool) (face.NewSample, error) {
	img, err := infer.LoadImage(path)
	if err != nil {
		return face.NewSample{}, err
	}
	fs, err := e.faces(img)
	if err != nil {
		return face.NewSample{}, fmt.Errorf("%s: %w", path, err)
	}
	switch {
	case len(fs) == 0:
		return face.NewSample{}, fmt.Errorf("%s: no face found", path)
	case len(fs) > 1 && !largest:
		return face.NewSample{}, fmt.Errorf("%s: %d faces found, need exactly one (pass --largest to enrol the largest)", path, len(fs))
	}
	f := fs[0]
	if err := e.q.Check(f.Quality); err != nil {
		return face.NewSample{}, fmt.Errorf("%s: %v", path, err)
	}
	s := face.NewSample{Embedding: f.Embedding, Source: filepath.Base(path)}
	if keepChip {
		if s.Chip, err = face.EncodeChip(f.Chip); err != nil {
			return face.NewSample{}, fmt.Errorf("%s: %w", path, err)
		}
	}
	return s, nil
}

func registerGallery() {
	c := &command{
		name:    "gallery",
		summary: "list a face gallery, remove an identity or one sample, rename an identity",
		usage: `usage: vigil gallery --gallery DIR list [--json]
       vigil gallery --gallery DIR remove NAME [SAMPLE-ID]
       vigil gallery --gallery DIR rename OLD NEW

list shows each identity with its sample ids, sources and dates, and the projection head when
one was trained (vigil face adapt). remove deletes an identity, or one of its samples (removing
the last sample removes the identity). Every change is written atomically.`,
	}
	c.run = func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		fs := c.newFlagSet(stdout, stderr)
		dir := fs.String("gallery", "", "gallery folder")
		asJSON := fs.Bool("json", false, "list as JSON")
		if code, done := fs.parse(args); done {
			return code
		}
		rest := fs.Args()
		// Allow flags after the verb too: vigil gallery list --gallery G --json.
		if len(rest) > 0 {
			sub := flag.NewFlagSet("", flag.ContinueOnError)
			sub.SetOutput(io.Discard)
			sub.StringVar(dir, "gallery", *dir, "")
			sub.BoolVar(asJSON, "json", *asJSON, "")
			if err := sub.Parse(rest[1:]); err != nil {
				return fs.usageError("%v", err)
			}
			rest = append([]string{rest[0]}, sub.Args()...)
		}
		if *dir == "" {
			return fs.usageError("--gallery is required")
		}
		if len(rest) == 0 {
			return fs.usageError("need list, remove or rename")
		}
		verb, rest := rest[0], rest[1:]
		check := func(min, max int) bool { return len(rest) >= min && len(rest) <= max }
		switch verb {
		case "list":
			if !check(0, 0) {
				return fs.usageError("list takes no arguments")
			}
		case "remove":
			if !check(1, 2) {
				return fs.usageError("remove takes NAME [SAMPLE-ID]")
			}
		case "rename":
			if !check(2, 2) {
				return fs.usageError("rename takes OLD NEW")
			}
		default:
			return fs.usageError("unknown verb %q: want list, remove or rename", verb)
		}
		g, err := face.OpenGallery(*dir)
		if err != nil {
			fmt.Fprintf(stderr, "vigil gallery: %v\n", err)
			return exitFail
		}
		switch verb {
		case "list":
			galleryList(g.Snapshot(), *asJSON, stdout)
			return exitOK
		case "remove":
			if len(rest) == 2 {
				id, perr := strconv.ParseUint(rest[1], 10, 64)
				if perr != nil {
					return fs.usageError("sample id %q is not a number", rest[1])
				}
				err = g.RemoveSample(rest[0], id)
			} else {
				err = g.Remove(rest[0])
			}
		case "rename":
			err = g.Rename(rest[0], rest[1])
			if errors.Is(err, face.ErrInvalidName) {
				return fs.usageError("%v", err)
			}
		}
		if err != nil {
			fmt.Fprintf(stderr, "vigil gallery: %v\n", err)
			return exitFail
		}
		fmt.Fprintf(stdout, "%s: done (%d identities, %d samples)\n", verb, len(g.Snapshot().Identities), g.Snapshot().Samples())
		return exitOK
	}
	register(c)
}

func galleryList(s *face.Snapshot, asJSON bool, w io.Writer) {
	if asJSON {
		type sampleJ struct {
			ID     uint64 `json:"id"`
			Source string `json:"source,omitempty"`
			Added  string `json:"added"`
			Chip   bool   `json:"chip"`
		}
		type idJ struct {
			Name    string    `json:"name"`
			Samples []sampleJ `json:"samples"`
		}
		out := struct {
			Model      string     `json:"model"`
			Dim        int        `json:"dim"`
			Generation uint64     `json:"generation"`
			Identities []idJ      `json:"identities"`
			Head       *face.Head `json:"head,omitempty"`
		}{Model: s.Model, Dim: s.Dim, Generation: s.Gen, Identities: []idJ{}}
		for _, id := range s.Identities {
			j := idJ{Name: id.Name}
			for _, sm := range id.Samples {
				j.Samples = append(j.Samples, sampleJ{sm.ID, sm.Source, sm.Added.Format("2006-01-02T15:04:05Z"), len(sm.Chip) > 0})
			}
			out.Identities = append(out.Identities, j)
		}
		if s.Head != nil {
			h := *s.Head
			h.W1, h.B1, h.W2, h.B2 = nil, nil, nil, nil
			out.Head = &h
		}
		b, _ := json.MarshalIndent(out, "", "  ")
		fmt.Fprintf(w, "%s\n", b)
		return
	}
	fmt.Fprintf(w, "model %s (%d-d), generation %d, %d identities, %d samples\n", s.Model, s.Dim, s.Gen, len(s.Identities), s.Samples())
	if s.Head != nil {
		fmt.Fprintf(w, "projection head: %s %d->%d, trained %s on %d identities (%d examples), loss %.4f\n",
			s.Head.Kind, s.Head.In, s.Head.Out, s.Head.Trained.Format("2006-01-02 15:04"), s.Head.Identities, s.Head.Examples, s.Head.Loss)
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tID\tSOURCE\tADDED\tCHIP")
	for _, id := range s.Identities {
		for _, sm := range id.Samples {
			chip := "-"
			if len(sm.Chip) > 0 {
				chip = "yes"
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", id.Name, sm.ID, sm.Source, sm.Added.Format("2006-01-02 15:04"), chip)
		}
	}
	tw.Flush()
}

func registerIdentify() {
	c := &command{
		name:    "identify",
		summary: "name the faces in photographs against a face gallery",
		usage: `usage: vigil identify --gallery DIR [--json] [--threshold T] IMAGE...

For every face in each IMAGE: its box, the nearest enrolled identity or "unknown" when the
cosine distance (1 - cos of the L2-normalised embeddings, through the gallery's projection head
when it has one) is over the threshold, and the distance. Faces below the quality minimum are
reported as rejected.`,
	}
	c.run = func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		fs := c.newFlagSet(stdout, stderr)
		o := &faceOpts{needDetect: true}
		dir := fs.String("gallery", "", "gallery folder")
		asJSON := fs.Bool("json", false, "one JSON object per image, one per line")
		o.embedderFlags(fs)
		o.detectFlags(fs)
		o.matchFlags(fs)
		if code, done := fs.parse(args); done {
			return code
		}
		agg, err := o.agg()
		switch {
		case *dir == "":
			return fs.usageError("--gallery is required")
		case fs.NArg() == 0:
			return fs.usageError("need at least one IMAGE")
		case err != nil:
			return fs.usageError("%v", err)
		}
		if _, err := o.prec(); err != nil {
			return fs.usageError("%v", err)
		}
		g, err := face.OpenGallery(*dir)
		if err != nil {
			fmt.Fprintf(stderr, "vigil identify: %v\n", err)
			return exitFail
		}
		snap := g.Snapshot()
		if len(snap.Identities) == 0 {
			fmt.Fprintf(stderr, "vigil identify: gallery %s is empty: enrol people with vigil enroll\n", *dir)
			return exitFail
		}
		e, err := openFaceEngine(o, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "vigil identify: %v\n", err)
			return exitFail
		}
		defer e.Close()
		if e.emb.Name() != snap.Model || e.emb.Dim() != snap.Dim {
			fmt.Fprintf(stderr, "vigil identify: gallery holds %d-d embeddings of %q, the embedder is %d-d %q: use --model to match\n", snap.Dim, snap.Model, e.emb.Dim(), e.emb.Name())
			return exitFail
		}
		th := float32(o.threshold)
		if th <= 0 {
			th = snap.Threshold()
		}
		m := face.NewMatcher(snap, th, agg)
		return e.eachImage(ctx, fs.Args(), func(res imageJSON) { printFaces(stdout, stderr, res, *asJSON, false) },
			func(f face.Embedded, j *faceJSON) {
				if qerr := e.q.Check(f.Quality); qerr != nil {
					j.Rejected = qerr.Error()
					return
				}
				mt := m.Match(f.Embedding)
				j.Name, j.Nearest = mt.Name, mt.Nearest
				d := mt.Distance
				j.Distance = &d
			})
	}
	register(c)
}

func printFaces(stdout, stderr io.Writer, res imageJSON, asJSON, withEmbedding bool) {
	if asJSON {
		b, _ := json.Marshal(res)
		fmt.Fprintf(stdout, "%s\n", b)
		return
	}
	if res.Error != "" {
		fmt.Fprintf(stderr, "%s: %s\n", res.Image, res.Error)
		return
	}
	fmt.Fprintf(stdout, "%s: %d face(s)\n", res.Image, len(res.Faces))
	for _, f := range res.Faces {
		box := fmt.Sprintf("box %.0f,%.0f %.0fx%.0f", f.Box[0], f.Box[1], f.Box[2], f.Box[3])
		switch {
		case f.Rejected != "":
			fmt.Fprintf(stdout, "  %s  rejected: %s\n", box, f.Rejected)
		case f.Distance != nil:
			fmt.Fprintf(stdout, "  %s  %s  distance %.4f (nearest %s)\n", box, f.Name, *f.Distance, f.Nearest)
		default:
			fmt.Fprintf(stdout, "  %s  score %.3f  sharpness %.0f\n", box, f.Score, f.Quality.Sharpness)
			if withEmbedding {
				fmt.Fprintf(stdout, "  embedding %v\n", f.Embedding)
			}
		}
	}
}

func registerEmbed() {
	c := &command{
		name:    "embed",
		summary: "print the face embeddings of photographs",
		usage: `usage: vigil embed [--json] [--chips] IMAGE...

For every face in each IMAGE: its box, five landmarks, quality and the L2-normalised embedding.`,
	}
	c.run = func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		fs := c.newFlagSet(stdout, stderr)
		o := &faceOpts{needDetect: true}
		asJSON := fs.Bool("json", false, "one JSON object per image, one per line")
		o.embedderFlags(fs)
		o.detectFlags(fs)
		if code, done := fs.parse(args); done {
			return code
		}
		if fs.NArg() == 0 {
			return fs.usageError("need at least one IMAGE")
		}
		if _, err := o.prec(); err != nil {
			return fs.usageError("%v", err)
		}
		e, err := openFaceEngine(o, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "vigil embed: %v\n", err)
			return exitFail
		}
		defer e.Close()
		return e.eachImage(ctx, fs.Args(), func(res imageJSON) { printFaces(stdout, stderr, res, *asJSON, true) },
			func(f face.Embedded, j *faceJSON) { j.Embedding = f.Embedding })
	}
	register(c)
}

func registerFaceAdapt() {
	c := &command{
		name:    "face",
		summary: "face gallery maintenance: face adapt trains a projection head on the gallery",
		usage: `usage: vigil face adapt --gallery DIR [--kind linear|mlp] [--mining batch-hard|semi-hard]
                       [--margin M] [--steps N] [--augment N] [--remove]

adapt learns a small projection head (linear, or linear+ReLU+linear) on top of the frozen
embedding from the gallery's identities with a triplet loss, in pure Go, and stores it with the
gallery; matching then uses it. Each stored chip is augmented (flip, small shifts, rotations
and scale, brightness and contrast) --augment times before embedding. It needs at least 2
identities with at least 2 samples each. --remove deletes the head.`,
	}
	c.run = func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		if len(args) == 0 || (args[0] != "adapt" && !strings.HasPrefix(args[0], "-")) {
			fs := c.newFlagSet(stdout, stderr)
			if len(args) > 0 {
				return fs.usageError("unknown subcommand %q: want adapt", args[0])
			}
			return fs.usageError("need a subcommand: adapt")
		}
		if args[0] == "adapt" {
			args = args[1:]
		}
		fs := c.newFlagSet(stdout, stderr)
		o := &faceOpts{}
		dir := fs.String("gallery", "", "gallery folder")
		kind := fs.String("kind", face.HeadLinear, "head: linear or mlp")
		mining := fs.String("mining", "batch-hard", "triplet mining: batch-hard or semi-hard")
		margin := fs.Float64("margin", face.DefaultMargin, "triplet margin, on squared distances of unit vectors")
		steps := fs.Int("steps", 300, "Adam steps")
		lr := fs.Float64("lr", 1e-3, "Adam learning rate")
		augment := fs.Int("augment", 8, "augmented copies of each stored chip")
		seed := fs.Uint64("seed", 1, "random seed (training is deterministic for a seed)")
		remove := fs.Bool("remove", false, "remove the gallery's head instead of training one")
		o.embedderFlags(fs)
		if code, done := fs.parse(args); done {
			return code
		}
		var mine face.Mining
		switch *mining {
		case "batch-hard":
			mine = face.BatchHard
		case "semi-hard":
			mine = face.SemiHard
		default:
			return fs.usageError("--mining %q: want batch-hard or semi-hard", *mining)
		}
		switch {
		case *dir == "":
			return fs.usageError("--gallery is required")
		case fs.NArg() > 0:
			return fs.usageError("unexpected argument %q", fs.Arg(0))
		case *kind != face.HeadLinear && *kind != face.HeadMLP:
			return fs.usageError("--kind %q: want linear or mlp", *kind)
		case *steps < 1 || *augment < 0 || !(*margin > 0) || !(*lr > 0):
			return fs.usageError("--steps, --margin and --lr must be positive, --augment not negative")
		}
		if _, err := o.prec(); err != nil {
			return fs.usageError("%v", err)
		}
		g, err := face.OpenGallery(*dir)
		if err != nil {
			fmt.Fprintf(stderr, "vigil face adapt: %v\n", err)
			return exitFail
		}
		if *remove {
			if err := g.SetHead(nil); err != nil {
				fmt.Fprintf(stderr, "vigil face adapt: %v\n", err)
				return exitFail
			}
			fmt.Fprintln(stdout, "projection head removed")
			return exitOK
		}
		snap := g.Snapshot()
		counts := map[string]int{}
		for _, id := range snap.Identities {
			counts[id.Name] = len(id.Samples)
		}
		if err := face.CheckTrainable(counts); err != nil {
			fmt.Fprintf(stderr, "vigil face adapt: %v\n", err)
			return exitFail
		}
		e, err := openFaceEngine(o, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "vigil face adapt: %v\n", err)
			return exitFail
		}
		defer e.Close()
		n := *augment
		if n == 0 {
			n = -1 // AdaptConfig: 0 means the default
		}
		cfg := face.AdaptConfig{Train: face.TrainConfig{Kind: *kind, Mining: mine, Margin: *margin, Steps: *steps, LR: *lr, Seed: *seed}, Augment: n}
		h, res, err := face.Adapt(snap, e.emb, cfg)
		if err != nil {
			fmt.Fprintf(stderr, "vigil face adapt: %v\n", err)
			return exitFail
		}
		if err := g.SetHead(h); err != nil {
			fmt.Fprintf(stderr, "vigil face adapt: %v\n", err)
			return exitFail
		}
		fmt.Fprintf(stdout, "trained a %s head (%s, margin %.2f) on %d identities, %d examples: loss %.4f -> %.4f in %d steps, threshold %.4f; saved with the gallery\n",
			h.Kind, mine, *margin, h.Identities, h.Examples, res.FirstLoss, res.LastLoss, res.Steps, h.Threshold)
		return exitOK
	}
	register(c)
}

// runEvalFaces is `vigil eval faces` (registered with cmd_eval.go's registerEval).
func runEvalFaces(ctx context.Context, c *command, args []string, stdout, stderr io.Writer) int {
	fs := c.newFlagSet(stdout, stderr)
	o := &faceOpts{needDetect: true}
	dir := fs.String("dir", "", "folder with one sub-folder of photographs per identity")
	asJSON := fs.Bool("json", false, "print one JSON object")
	o.embedderFlags(fs)
	o.detectFlags(fs)
	o.matchFlags(fs)
	if code, done := fs.parse(args); done {
		return code
	}
	switch {
	case *dir == "":
		return fs.usageError("--dir is required")
	case fs.NArg() > 0:
		return fs.usageError("unexpected argument %q", fs.Arg(0))
	}
	if _, err := o.prec(); err != nil {
		return fs.usageError("%v", err)
	}
	e, err := openFaceEngine(o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "vigil eval faces: %v\n", err)
		return exitFail
	}
	defer e.Close()
	th := float32(o.threshold)
	if th <= 0 {
		th = face.DefaultThreshold
	}
	r, err := face.EvaluateDir(*dir, func(path string, img *infer.Image) ([]float32, bool, error) {
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		fcs, err := e.faces(img)
		if err != nil || len(fcs) == 0 {
			return nil, false, err
		}
		return fcs[0].Embedding, true, nil // the largest face
	}, th)
	if err != nil {
		fmt.Fprintf(stderr, "vigil eval faces: %v\n", err)
		return exitFail
	}
	if *asJSON {
		b, _ := json.Marshal(r)
		fmt.Fprintf(stdout, "%s\n", b)
		return exitOK
	}
	mode := "detect the largest face, align by landmarks"
	if o.chips {
		mode = "chips embedded whole"
	}
	fmt.Fprintf(stdout, "faces in %s (%s; %s %s)\n", *dir, mode, e.emb.Name(), e.emb.Precision())
	fmt.Fprintf(stdout, "  identities %d, images %d, no face %d\n", r.Identities, r.Images, r.NoFace)
	fmt.Fprintf(stdout, "  verification (%d genuine, %d impostor pairs): AUC %.4f  EER %.4f  TAR@FAR1e-2 %.4f  TAR@FAR1e-3 %.4f\n",
		r.Genuine, r.Impostor, r.AUC, r.EER, r.TAR1e2, r.TAR1e3)
	fmt.Fprintf(stdout, "  accuracy at threshold %.4f: %.4f (EER threshold %.4f)\n", r.Threshold, r.Accuracy, r.EERThreshold)
	fmt.Fprintf(stdout, "  rank-1: leave-one-out %.4f, one-shot %.4f\n", r.Rank1LOO, r.Rank1One)
	return exitOK
}

const evalFacesUsage = `usage: vigil eval faces --dir DIR [--chips] [--json]

DIR holds one folder per identity with photographs. Each is searched for its largest face,
which is aligned and embedded; with --chips the images are already aligned face chips (like
dlib's 150x150 chips) and are embedded whole. Reports images used and images with no face,
all-pairs verification (ROC AUC, EER, TAR at FAR 1% and 0.1%, accuracy at --threshold),
leave-one-out rank-1 and one-shot rank-1 (gallery: each person's first photograph by file
name). --json prints one object: identities, images, no_face, auc, eer, tar_far_1e-2,
tar_far_1e-3, rank1_loo, rank1_oneshot, threshold, accuracy_at_threshold.`

func registerEvalFaces() {
	registerEval("faces", "face recognition on a folder of identities", evalFacesUsage, runEvalFaces)
}
