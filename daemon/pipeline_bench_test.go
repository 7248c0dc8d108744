package daemon

import (
	"context"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/detect"
	"github.com/vigil-edge/vigil/face"
	"github.com/vigil-edge/vigil/infer"
	"github.com/vigil-edge/vigil/models"
)

// benchScenes are 640x480 grey scenes with a johns photograph pasted in at 150x150, as
// TestRunLoad in cmd/vigil feeds the daemon.
func benchScenes(tb testing.TB) []*infer.Image {
	tb.Helper()
	var paths []string
	for _, person := range []string{"John_Salley", "John_Schneider"} {
		ps, err := filepath.Glob(filepath.Join("..", "..", "shared", "testdata", "johns", person, "*.jpg"))
		require.NoError(tb, err)
		require.GreaterOrEqual(tb, len(ps), 4, "../shared/testdata/johns/%s is missing", person)
		sort.Strings(ps)
		paths = append(paths, ps[:4]...)
	}
	var out []*infer.Image
	for _, p := range paths {
		f, err := os.Open(p)
		require.NoError(tb, err)
		photo, err := jpeg.Decode(f)
		f.Close()
		require.NoError(tb, err)
		canvas := image.NewRGBA(image.Rect(0, 0, 640, 480))
		draw.Draw(canvas, canvas.Bounds(), image.NewUniform(color.RGBA{90, 100, 110, 255}), image.Point{}, draw.Src)
		draw.Draw(canvas, image.Rect(200, 150, 350, 300), photo, image.Point{}, draw.Src)
		out = append(out, infer.FromImage(canvas))
	}
	return out
}

// replaySource hands out n frames cycling through scenes, 100 ms apart (10 fps), copied into
// one reused buffer as capture.Source does in its steady state (no Go allocation), then io.EOF.
type replaySource struct {
	scenes []*infer.Image
	n, i   int
	t0     time.Time
	buf    infer.Image
}

func (s *replaySource) Next(ctx context.Context) (Frame, error) {
	if s.i >= s.n {
		return Frame{}, io.EOF
	}
	src := s.scenes[s.i%len(s.scenes)]
	if len(s.buf.Pix) != len(src.Pix) {
		s.buf = infer.Image{W: src.W, H: src.H, Pix: make([]uint8, len(src.Pix))}
	}
	copy(s.buf.Pix, src.Pix)
	s.i++
	return Frame{Seq: uint64(s.i), Time: s.t0.Add(time.Duration(s.i) * 100 * time.Millisecond), Image: s.buf, Detect: true}, nil
}

func (s *replaySource) Close() error { return nil }

// benchRecognizer is cmd/vigil's runRecognizer: align and embed the face, match it against an
// (empty) gallery, as in TestRunLoad.
type benchRecognizer struct {
	emb *face.GraphEmbedder
	m   *face.Matcher
}

// benchFace is cmd/vigil's faceOf.
func benchFace(d detect.Detection) face.Face {
	f := face.Face{X: d.Box.X, Y: d.Box.Y, W: d.Box.W, H: d.Box.H, Score: d.Score, Margin: 0.05}
	if len(d.Landmarks) == 5 {
		var lm face.Landmarks
		for i, p := range d.Landmarks {
			lm[i] = face.Point{X: p[0], Y: p[1]}
		}
		f.Landmarks = &lm
	}
	return f
}

func (r *benchRecognizer) Recognize(im *infer.Image, d detect.Detection) (string, float32, error) {
	e, err := face.EmbedFace(im, benchFace(d), r.emb)
	if err != nil {
		return "", 0, err
	}
	mt := r.m.Match(e.Embedding)
	return mt.Name, mt.Distance, nil
}

// stubModels stand in for the detector and recogniser with answers that cost nothing, so
// that what is left is the daemon's own garbage per frame.
type stubModels struct{ dets []detect.Detection }

func (s *stubModels) Detect(*infer.Image) ([]detect.Detection, error) { return s.dets, nil }
func (s *stubModels) Recognize(*infer.Image, detect.Detection) (string, float32, error) {
	return Unknown, 0.9, nil
}

type nullSink struct{}

func (nullSink) PublishEvent(Event) error                   { return nil }
func (nullSink) SetPresence(string, map[string]int, string) {}

// benchParts opens the default detector (int8 MTCNN, the daemon's defaults) and the default
// embedder, one session each.
func benchParts(b *testing.B) (Detector, Recognizer) {
	b.Helper()
	def := Default()
	det, err := detect.Open(def.Detector.Model, detect.Config{
		Options:   detect.Options{Precision: infer.Int8, Threads: 0},
		MinFace:   float64(def.Thresholds.MinFace),
		Threshold: float32(def.Detector.Score),
		InputSize: def.Detector.InputSize,
	})
	require.NoError(b, err)
	b.Cleanup(det.Close)
	g, err := models.Load("face-recognition")
	require.NoError(b, err)
	emb, err := face.NewGraphEmbedder("face-api-resnet128", g, infer.Options{Precision: infer.Int8, Threads: 0})
	require.NoError(b, err)
	b.Cleanup(emb.Close)
	snap := &face.Snapshot{Model: "face-api-resnet128", Dim: emb.Dim()}
	return det, &benchRecognizer{emb: emb, m: face.NewMatcher(snap, snap.Threshold(), face.AggMin)}
}

// BenchmarkCameraFrame drives one camera's per-frame path (Camera.Run on real frames with the
// real detector and recogniser; capture's own steady state allocates nothing, see
// capture.TestSteadyStateAllocatesNothing). One op is one frame: B/op and allocs/op are the
// garbage per frame.
//
//	go test -run '^$' -bench CameraFrame -benchtime 200x ./daemon -memprofile /tmp/mem.out
//	go tool pprof -sample_index=alloc_space -top /tmp/mem.out
func BenchmarkCameraFrame(b *testing.B) {
	scenes := benchScenes(b)
	det, rec := benchParts(b)
	stub := &stubModels{dets: []detect.Detection{{Box: detect.Box{X: 200, Y: 150, W: 150, H: 150}, Score: 0.99}}}
	for _, bc := range []struct {
		name    string
		stub    bool // stubModels: the daemon's share alone
		preview bool // a /stream viewer is watching
		hub     bool
	}{
		{"daemon/nohub", true, false, false},
		{"daemon/unwatched", true, false, true},
		{"daemon/watched", true, true, true},
		{"models/nohub", false, false, false},
		{"models/unwatched", false, false, true},
		{"models/watched", false, true, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			det, rec := det, rec
			if bc.stub {
				det, rec = stub, stub
			}
			cam := &Camera{
				Name: "bench", Detector: det, Recognizer: rec, Sink: nullSink{},
				Tracker: NewTracker("bench", TrackerConfigFrom(Default().Thresholds)),
				Health:  NewHealth([]string{"bench"}, nil), Metrics: NewMetrics(func() float64 { return 0 }),
				Annotate: EncodePreview, PreviewEvery: 200 * time.Millisecond,
				MinFace: Default().Thresholds.MinFace,
			}
			if bc.hub {
				cam.Frames = NewFrameHub("bench")
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if bc.preview {
				// A viewer that keeps asking for the next JPEG, as /stream does.
				done := make(chan struct{})
				defer func() { cancel(); <-done }()
				go func() {
					defer close(done)
					var seq uint64
					for ctx.Err() == nil {
						_, seq, _ = cam.Frames.NextJPEG(ctx, "bench", seq)
					}
				}()
			}
			t0 := time.Unix(1_800_000_000, 0)
			// Warm up: buffers sized, sessions planned, tracks open.
			src := &replaySource{scenes: scenes, n: 2 * len(scenes), t0: t0}
			cam.Source = src
			require.NoError(b, cam.Run(ctx))
			src.n, src.i, src.t0 = b.N, 0, t0.Add(time.Hour)
			b.ReportAllocs()
			b.ResetTimer()
			require.NoError(b, cam.Run(ctx))
			b.StopTimer()
		})
	}
}

// BenchmarkModelsPerFrame splits BenchmarkCameraFrame/models: the detector on a whole frame,
// and the recogniser (face.EmbedFace: align, quality, embed; then match) on its one face.
// Both live outside package daemon; this is where a frame's garbage comes from.
func BenchmarkModelsPerFrame(b *testing.B) {
	scenes := benchScenes(b)
	det, rec := benchParts(b)
	var faces []detect.Detection
	for _, im := range scenes {
		ds, err := det.Detect(im)
		require.NoError(b, err)
		require.NotEmpty(b, ds)
		faces = append(faces, ds[0])
	}
	b.Run("detect", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := det.Detect(scenes[i%len(scenes)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	// What the recogniser would cost with its chip and embedding reused and without
	// MeasureQuality, whose result the daemon never reads: face.Align's steps (Template,
	// EstimateSimilarity, Warp) into a kept chip. Same embedding, checked below. This is a
	// measurement for face/ and cmd/vigil (runRecognizer), not code the daemon runs.
	br := rec.(*benchRecognizer)
	size := br.emb.InputSize()
	tpl := face.Template(size, face.ChipPadding)
	chip, embedding := infer.NewImage(size, size), make([]float32, br.emb.Dim())
	reuse := func(im *infer.Image, d detect.Detection) error {
		t, err := face.EstimateSimilarity(benchFace(d).Landmarks[:], tpl[:])
		if err != nil {
			return err
		}
		if err := face.Warp(chip, im, t); err != nil {
			return err
		}
		if err := br.emb.Embed(chip, embedding); err != nil {
			return err
		}
		br.m.Match(embedding)
		return nil
	}
	require.Len(b, faces[0].Landmarks, 5)
	want, err := face.EmbedFace(scenes[0], benchFace(faces[0]), br.emb)
	require.NoError(b, err)
	require.NoError(b, reuse(scenes[0], faces[0]))
	require.Equal(b, want.Embedding, embedding, "the same embedding as face.EmbedFace")
	b.Run("recognize-reusing-chip", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if err := reuse(scenes[i%len(scenes)], faces[i%len(faces)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("recognize", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, _, err := rec.Recognize(scenes[i%len(scenes)], faces[i%len(faces)]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
