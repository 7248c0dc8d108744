package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"gocv.io/x/gocv"

	"github.com/vigil-edge/vigil/capture"
	"github.com/vigil-edge/vigil/daemon"
	"github.com/vigil-edge/vigil/detect"
	"github.com/vigil-edge/vigil/face"
	"github.com/vigil-edge/vigil/infer"
)

func init() {
	c := &command{
		name:    "run",
		summary: "run the daemon: watch cameras, recognise faces, publish events over MQTT",
		usage: `usage: vigil run [--config FILE] [--check]

Runs the daemon described by the configuration file (see daemon/vigil.example.yaml).
The whole file is validated before any camera, model, GPIO pin or network connection is
opened; errors name the file, line and key. With --check vigil only validates and exits:
0 when the configuration is valid, 1 (with the errors on stderr) when it is not.

SIGINT and SIGTERM stop cleanly (availability "offline", queued events kept on disk);
SIGHUP re-reads the file and applies the thresholds and the gallery.`,
	}
	c.run = func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		fs := c.newFlagSet(stdout, stderr)
		path := fs.String("config", "/etc/vigil/vigil.yaml", "configuration file")
		check := fs.Bool("check", false, "validate the configuration and exit (0 valid, 1 invalid)")
		if code, done := fs.parse(args); done {
			return code
		}
		if fs.NArg() > 0 {
			return fs.usageError("unexpected argument %q", fs.Arg(0))
		}
		cfg, err := daemon.LoadConfig(*path)
		if err != nil {
			fmt.Fprintf(stderr, "vigil run: invalid configuration:\n%v\n", err)
			return exitFail
		}
		if *check {
			fmt.Fprintf(stdout, "%s: valid (device %q, %d camera(s))\n", *path, cfg.Device, len(cfg.Cameras))
			return exitOK
		}
		log := newDaemonLogger(cfg.Log, stderr)
		if err := runDaemon(ctx, *path, cfg, log); err != nil {
			log.Error("vigil run: stopped", "err", err)
			return exitFail
		}
		return exitOK
	}
	register(c)
}

func newDaemonLogger(c daemon.LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// runDaemon builds the parts that need gocv and the models, then hands over to daemon.Run.
func runDaemon(ctx context.Context, path string, cfg *daemon.Config, log *slog.Logger) error {
	prec := infer.Int8
	if cfg.Detector.Precision == "float32" {
		prec = infer.Float32
	}
	eng := &runEngine{cfg: cfg, prec: prec, log: log}
	eng.setQuality(cfg)
	defer eng.close()

	gal, err := face.OpenGallery(cfg.Gallery)
	if err != nil {
		return fmt.Errorf("gallery: %w", err)
	}
	eng.gallery = gal
	// Enrolment photographs are often tight portraits, which the small camera detectors
	// miss: enrol with the same MTCNN + tiny chain as vigil enroll.
	if eng.enrolDet, err = openFaceDetector(prec, cfg.Detector.Threads, 20); err != nil {
		return err
	}
	if eng.enrolEmb, err = openEmbedder(faceDefaultModel, prec, cfg.Detector.Threads, ""); err != nil {
		return fmt.Errorf("face embedder: %w", err)
	}
	if err := eng.rebuildMatcher(cfg); err != nil {
		return err
	}

	// Models for every camera load before any camera opens, so the first frames are not
	// dropped while they load.
	dets := map[string]daemon.Detector{}
	recs := map[string]daemon.Recognizer{}
	for _, cc := range cfg.Cameras {
		if cc.Disabled {
			continue
		}
		if dets[cc.Name], err = eng.openDetector(); err != nil {
			return err
		}
		if recs[cc.Name], err = eng.newRecognizer(); err != nil {
			return err
		}
	}

	sources := map[string]daemon.Source{}
	defer func() {
		for _, s := range sources {
			s.Close()
		}
	}()
	for _, cc := range cfg.Cameras {
		if cc.Disabled {
			continue
		}
		src, err := capture.Open(captureConfig(cc, log))
		if err != nil {
			return fmt.Errorf("camera %q: %w", cc.Name, err)
		}
		sources[cc.Name] = captureSource{src}
	}

	reload := make(chan *daemon.Config, 1)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	hupCtx, stopHup := context.WithCancel(ctx)
	defer stopHup()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-hupCtx.Done():
				return
			case <-hup:
				nc, err := daemon.LoadConfig(path)
				if err != nil {
					log.Error("SIGHUP: configuration not reloaded", "err", err)
					continue
				}
				// A configuration still waiting is stale: replace it (this is the only sender).
				select {
				case <-reload:
				default:
				}
				reload <- nc
			}
		}
	}()
	defer wg.Wait()
	defer stopHup()

	ann := newGocvAnnotator()
	defer ann.Close()
	parts := daemon.Parts{
		Sources:         sources,
		Detector:        func(name string) (daemon.Detector, error) { return dets[name], nil },
		Recognizer:      func(name string) (daemon.Recognizer, error) { return recs[name], nil },
		Gallery:         eng,
		Annotate:        ann.Annotate,
		RecognizerModel: eng.enrolEmb.Name(),
		Reload:          eng.reload,
	}
	// daemon.Run closes the sources from here on.
	owned := sources
	sources = nil
	return daemon.Run(ctx, daemon.RunOptions{Config: cfg, Parts: withSources(parts, owned), Log: log, Reload: reload})
}

func withSources(p daemon.Parts, s map[string]daemon.Source) daemon.Parts {
	p.Sources = s
	return p
}

func captureConfig(cc daemon.CameraConfig, log *slog.Logger) capture.Config {
	c := capture.Config{
		Name: cc.Name, Source: cc.Source, Width: cc.Width, Height: cc.Height, FPS: cc.FPS, Loop: cc.Loop,
		Logger: log.With("camera", cc.Name),
	}
	if cc.Motion.Enabled {
		m := &capture.MotionConfig{Threshold: cc.Motion.Threshold, MinArea: cc.Motion.MinArea, EveryN: cc.EveryN}
		for _, poly := range cc.Motion.Masks {
			var p capture.Polygon
			for _, pt := range poly {
				p = append(p, capture.Point{X: pt[0], Y: pt[1]})
			}
			m.Masks = append(m.Masks, p)
		}
		c.Motion = m
	}
	return c
}

// captureSource adapts capture.Source to daemon.Source (package daemon stays free of gocv).
type captureSource struct{ s *capture.Source }

var (
	_ daemon.Source       = captureSource{}
	_ daemon.SourceHealth = captureSource{}
)

func (c captureSource) Next(ctx context.Context) (daemon.Frame, error) {
	f, err := c.s.Next(ctx)
	if err != nil {
		return daemon.Frame{}, err
	}
	return daemon.Frame{Seq: f.Seq, Time: f.Time, Image: f.Image, Detect: f.Detect, Dropped: f.Dropped}, nil
}

func (c captureSource) Close() error { return c.s.Close() }

func (c captureSource) Health() (daemon.CameraState, string) {
	h := c.s.Health()
	switch h.State {
	case capture.StateRunning:
		return daemon.CameraOK, h.LastError
	case capture.StateBackoff:
		return daemon.CameraReopening, h.LastError
	case capture.StateEnded:
		return daemon.CameraEnded, ""
	default:
		return daemon.CameraStarting, h.LastError
	}
}

// runEngine owns the models and the gallery: a detector and an embedder per camera, one more
// pair for MQTT enrolment, and the matcher shared by all (replaced whole on every change).
type runEngine struct {
	cfg     *daemon.Config
	prec    infer.Precision
	log     *slog.Logger
	gallery *face.Gallery

	mu       sync.Mutex // enrolment and the lists below
	closers  []func()
	enrolDet detect.Detector
	enrolEmb *face.GraphEmbedder
	matcher  atomic.Pointer[face.Matcher]
	// quality is the minimum a face must meet to be recognised (thresholds.min_sharpness
	// and max_yaw; the size gate is the pipeline's min_face): SIGHUP replaces it.
	quality atomic.Pointer[face.QualityMin]
}

// setQuality takes the recognition quality minimum from c.
func (e *runEngine) setQuality(c *daemon.Config) {
	e.quality.Store(&face.QualityMin{Sharpness: c.Thresholds.MinSharpness, MaxYaw: c.Thresholds.MaxYaw})
}

func (e *runEngine) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.closers {
		c()
	}
	if e.enrolDet != nil {
		e.enrolDet.Close()
	}
	if e.enrolEmb != nil {
		e.enrolEmb.Close()
	}
}

func (e *runEngine) openDetector() (detect.Detector, error) {
	c := detect.Config{
		Options:   detect.Options{Precision: e.prec, Threads: e.cfg.Detector.Threads},
		MinFace:   float64(e.cfg.Thresholds.MinFace),
		Threshold: float32(e.cfg.Detector.Score),
		InputSize: e.cfg.Detector.InputSize,
	}
	d, err := detect.Open(e.cfg.Detector.Model, c)
	if errors.Is(err, detect.ErrNeedCalibration) {
		e.log.Warn("detector: no int8 ranges for this model; running it in float32", "model", e.cfg.Detector.Model)
		c.Precision = infer.Float32
		d, err = detect.Open(e.cfg.Detector.Model, c)
	}
	if err != nil {
		return nil, fmt.Errorf("detector.model %q: %w", e.cfg.Detector.Model, err)
	}
	if e.enrolDet != nil { // per-camera detectors are closed with the engine
		e.mu.Lock()
		e.closers = append(e.closers, d.Close)
		e.mu.Unlock()
	}
	return d, nil
}

func (e *runEngine) newRecognizer() (daemon.Recognizer, error) {
	emb, err := openEmbedder(faceDefaultModel, e.prec, e.cfg.Detector.Threads, "")
	if err != nil {
		return nil, fmt.Errorf("face embedder: %w", err)
	}
	e.mu.Lock()
	e.closers = append(e.closers, emb.Close)
	e.mu.Unlock()
	return &runRecognizer{emb: emb, m: &e.matcher, q: &e.quality}, nil
}

func (e *runEngine) rebuildMatcher(c *daemon.Config) error {
	snap := e.gallery.Snapshot()
	if len(snap.Identities) > 0 && (snap.Model != e.enrolEmb.Name() || snap.Dim != e.enrolEmb.Dim()) {
		return fmt.Errorf("gallery %s holds %d-d embeddings of %q but the embedder is %d-d %q", c.Gallery, snap.Dim, snap.Model, e.enrolEmb.Dim(), e.enrolEmb.Name())
	}
	th := float32(c.Thresholds.Distance)
	if th <= 0 {
		th = snap.Threshold()
	}
	e.matcher.Store(face.NewMatcher(snap, th, face.AggMin))
	names := make([]string, 0, len(snap.Identities))
	for _, id := range snap.Identities {
		names = append(names, id.Name)
	}
	sort.Strings(names)
	e.log.Info("gallery loaded", "identities", len(names), "names", strings.Join(names, ","), "threshold", th)
	return nil
}

// reload applies a configuration re-read on SIGHUP: the gallery from disk and the distance.
// From then on enrolments and removals rebuild the matcher with it, not with the file the
// daemon started with (which would undo a reloaded thresholds.distance).
func (e *runEngine) reload(nc *daemon.Config) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.gallery.Reload(); err != nil {
		return err
	}
	if err := e.rebuildMatcher(nc); err != nil {
		return err
	}
	e.setQuality(nc)
	e.cfg = nc
	return nil
}

// Enrol implements daemon.GalleryEditor: the largest face of the JPEG becomes a sample.
func (e *runEngine) Enrol(ctx context.Context, name string, jpeg []byte) error {
	if err := face.ValidateName(name); err != nil {
		return err
	}
	img, err := face.DecodeChip(jpeg)
	if err != nil {
		return fmt.Errorf("enrol %q: %w", name, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	dets, err := e.enrolDet.Detect(img)
	if err != nil {
		return fmt.Errorf("enrol %q: detect: %w", name, err)
	}
	if len(dets) == 0 {
		return fmt.Errorf("enrol %q: no face found in the picture", name)
	}
	best := dets[0]
	for _, d := range dets[1:] {
		if d.Box.Area() > best.Box.Area() {
			best = d
		}
	}
	f, err := face.EmbedFace(img, faceOf(best), e.enrolEmb)
	if err != nil {
		return fmt.Errorf("enrol %q: %w", name, err)
	}
	if _, err := e.gallery.Enroll(name, e.enrolEmb.Name(), face.NewSample{Embedding: f.Embedding, Source: "mqtt"}); err != nil {
		return fmt.Errorf("enrol %q: %w", name, err)
	}
	return e.rebuildMatcher(e.cfg)
}

// Remove implements daemon.GalleryEditor.
func (e *runEngine) Remove(ctx context.Context, name string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.gallery.Remove(name); err != nil {
		return err
	}
	return e.rebuildMatcher(e.cfg)
}

// runRecognizer embeds a face with its camera's own embedder and matches it against the
// current gallery.
type runRecognizer struct {
	emb *face.GraphEmbedder
	m   *atomic.Pointer[face.Matcher]
	q   *atomic.Pointer[face.QualityMin]
	buf face.Embedded // chip and embedding reused frame after frame (one camera, one goroutine)
}

// Recognize embeds and matches one detected face. A face below the quality minimum (too
// blurred or turned away) is not recognised: the error says why, and the pipeline records
// no vote for that frame.
func (r *runRecognizer) Recognize(im *infer.Image, d detect.Detection) (string, float32, error) {
	m := r.m.Load()
	var min face.QualityMin
	if q := r.q.Load(); q != nil {
		min = *q
	}
	if err := face.EmbedFaceInto(&r.buf, im, faceOf(d), r.emb, min); err != nil {
		return "", 0, err
	}
	if m == nil {
		return daemon.Unknown, float32(math.Inf(1)), nil
	}
	mt := m.Match(r.buf.Embedding)
	return mt.Name, mt.Distance, nil
}

// gocvAnnotator draws boxes, names and track ids with OpenCV for /snapshot, /stream and MQTT
// snapshots. Its Mats are made once and reused; one mutex serves all cameras (previews are
// rate-limited, so contention is negligible).
type gocvAnnotator struct {
	mu  sync.Mutex
	bgr gocv.Mat
}

func newGocvAnnotator() *gocvAnnotator { return &gocvAnnotator{bgr: gocv.NewMat()} }

func (a *gocvAnnotator) Close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.bgr.Close()
}

func (a *gocvAnnotator) Annotate(im *infer.Image, obs []daemon.Observation) ([]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	rgb, err := gocv.NewMatFromBytes(im.H, im.W, gocv.MatTypeCV8UC3, im.Pix)
	if err != nil {
		return nil, err
	}
	gocv.CvtColor(rgb, &a.bgr, gocv.ColorBGRToRGB) // the same channel swap either way
	rgb.Close()
	for _, o := range obs {
		c := color.RGBA{230, 200, 0, 255} // not recognised (yet)
		label := fmt.Sprintf("#%d", o.Track)
		switch {
		case o.Name == daemon.Unknown:
			c = color.RGBA{220, 0, 0, 255}
			label = "unknown " + label
		case o.Name != "":
			c = color.RGBA{0, 200, 0, 255}
			label = o.Name + " " + label
		}
		b := o.Box
		if math.IsNaN(float64(b.X + b.Y + b.W + b.H)) {
			continue
		}
		r := image.Rect(int(b.X), int(b.Y), int(b.X+b.W), int(b.Y+b.H))
		gocv.Rectangle(&a.bgr, r, c, 2)
		gocv.PutText(&a.bgr, label, image.Pt(r.Min.X, max(r.Min.Y-6, 12)), gocv.FontHersheySimplex, 0.5, c, 1)
	}
	buf, err := gocv.IMEncodeWithParams(gocv.JPEGFileExt, a.bgr, []int{gocv.IMWriteJpegQuality, 75})
	if err != nil {
		return nil, err
	}
	defer buf.Close()
	return bytes.Clone(buf.GetBytes()), nil
}
