package daemon

import (
	"cmp"
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-edge/vigil/detect"
	"github.com/vigil-edge/vigil/infer"
)

// Frame is one picture handed to the pipeline.
type Frame struct {
	// Seq numbers frames from the source, from 1.
	Seq uint64
	// Time is when the frame was captured; tracks and events use it.
	Time time.Time
	// Image is 8-bit RGB, valid until the next call to Next.
	Image infer.Image
	// Detect says whether to run detection (motion, or the every_n counter).
	Detect bool
	// Dropped counts frames replaced by newer ones before this one was taken.
	Dropped uint64
}

// Source yields a camera's newest frame. capture.Source satisfies it through a thin adapter
// in cmd/vigil (package daemon does not import gocv).
type Source interface {
	// Next blocks until a frame newer than the last one returned is available or ctx ends.
	// io.EOF means the stream ended for good (a file without loop). A source reopens a
	// failing camera itself; Next just waits meanwhile.
	Next(ctx context.Context) (Frame, error)
	Close() error
}

// SourceHealth is optionally implemented by a Source to explain why no frames come.
type SourceHealth interface {
	// Health returns the source's state and its latest error ("" if none).
	Health() (CameraState, string)
}

// Detector finds faces: boxes in frame pixels, scores in [0, 1], landmarks when the model
// gives them. detect.Detector satisfies it.
type Detector interface {
	Detect(im *infer.Image) ([]detect.Detection, error)
}

// Recognizer names a detected face: an identity or Unknown, and the embedding distance to
// the nearest identity (+Inf with an empty gallery).
type Recognizer interface {
	Recognize(im *infer.Image, d detect.Detection) (name string, distance float32, err error)
}

// EventSink receives what the cameras produce; *MQTT is one.
type EventSink interface {
	PublishEvent(Event) error
	SetPresence(camera string, counts map[string]int, last string)
}

// Annotator draws boxes and names on a frame and encodes it as JPEG for the preview.
type Annotator func(im *infer.Image, obs []Observation) ([]byte, error)

// Camera is one camera's loop: source -> gate -> detector -> recogniser -> tracker -> events.
type Camera struct {
	Name       string
	Source     Source
	Detector   Detector
	Recognizer Recognizer // nil: every face is Unknown
	Sink       EventSink
	Tracker    *Tracker
	Gate       Gate // nil: AlwaysOpen
	Health     *Health
	Metrics    *Metrics
	Frames     *FrameHub
	Annotate   Annotator
	// PreviewEvery is the least time between two preview frames handed to Frames (which
	// encodes them only for viewers): a bound on the viewers' CPU.
	PreviewEvery time.Duration
	// MinFace is the smallest face side, in pixels, passed to the recogniser.
	MinFace int
	// DetectorModel and RecognizerModel label vigil_inference_seconds (default "detector"
	// and "recognizer").
	DetectorModel, RecognizerModel string
	// OnPresence is called with this camera's counts after every change (GPIO output).
	OnPresence func(camera string, counts map[string]int)
	// Snapshot, when set, receives an annotated JPEG of the frame on "new" events and on
	// identity changes (mqtt.snapshots).
	Snapshot func(camera string, jpeg []byte)
	Log      *slog.Logger

	disabled  atomic.Bool // set by SetEnabled(false); read by the loop
	heartbeat atomic.Int64
	trMu      sync.Mutex
	newTh     *Thresholds
}

// pollNext bounds one wait for a frame so the loop keeps beating while a camera is silent.
const pollNext = time.Second

// SetEnabled starts or stops processing (command camera/<name>); frames are still read.
func (c *Camera) SetEnabled(on bool) { c.disabled.Store(!on) }

// SetThresholds applies new thresholds at the next frame (SIGHUP); safe from any goroutine.
func (c *Camera) SetThresholds(t Thresholds) {
	c.trMu.Lock()
	c.newTh = &t
	c.trMu.Unlock()
}

// Heartbeat is when the loop last made progress (a frame, a timeout, an error handled).
func (c *Camera) Heartbeat() time.Time { return time.Unix(0, c.heartbeat.Load()) }

func (c *Camera) beat() { c.heartbeat.Store(time.Now().UnixNano()) }

// Run processes frames until ctx ends or the source ends; on return every open track has
// been ended with an "end" event.
func (c *Camera) Run(ctx context.Context) error {
	if c.Gate == nil {
		c.Gate = AlwaysOpen{}
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	log := c.Log.With("camera", c.Name)
	c.beat()
	var lastPreview time.Time
	var obs []Observation
	last := ""
	finish := func(now time.Time) {
		c.emit(log, c.Tracker.EndAll(now), &last)
	}
	wasDisabled := false
	lastErr := ""
	// One Frame for the whole loop: &f.Image goes to the detector and recogniser
	// (interfaces), so a Frame per iteration would be a heap allocation per frame.
	var f Frame
	for {
		c.beat()
		if ctx.Err() != nil {
			finish(time.Now())
			return nil
		}
		nctx, cancel := context.WithTimeout(ctx, pollNext)
		var err error
		f, err = c.Source.Next(nctx)
		cancel()
		switch {
		case err == nil:
		case ctx.Err() != nil:
			finish(time.Now())
			return nil
		case errors.Is(err, context.DeadlineExceeded):
			if sh, ok := c.Source.(SourceHealth); ok && c.Health != nil {
				st, msg := sh.Health()
				var e error
				if msg != "" {
					e = errors.New(msg)
				}
				if st != CameraOK {
					c.Health.SetCamera(c.Name, st, e)
				}
			}
			// Nothing seen: let tracks of faces that left end on time.
			c.emit(log, c.Tracker.Update(time.Now(), nil), &last)
			continue
		case errors.Is(err, io.EOF):
			log.Info("camera: end of stream")
			if c.Health != nil {
				c.Health.SetCamera(c.Name, CameraEnded, nil)
			}
			finish(time.Now())
			return nil
		default:
			if msg := err.Error(); msg != lastErr {
				// Once per distinct error: a camera unplugged for a day must not flood the journal.
				log.Warn("camera: read failed", "err", err)
				lastErr = msg
			}
			if c.Health != nil {
				c.Health.SetCamera(c.Name, CameraReopening, err)
			}
			if !sleepCtx(ctx, pollNext) {
				finish(time.Now())
				return nil
			}
			continue
		}
		if lastErr != "" {
			log.Info("camera: frames again")
			lastErr = ""
		}
		if c.Health != nil {
			c.Health.Frame(c.Name, f.Time, f.Dropped)
		}
		if c.Metrics != nil {
			c.Metrics.Frames.WithLabelValues(c.Name).Inc()
			if f.Dropped > 0 {
				c.Metrics.FramesDropped.WithLabelValues(c.Name).Add(float64(f.Dropped))
			}
		}
		c.trMu.Lock()
		if c.newTh != nil {
			c.Tracker.cfg = TrackerConfigFrom(*c.newTh)
			c.MinFace = c.newTh.MinFace
			c.newTh = nil
		}
		c.trMu.Unlock()
		if c.disabled.Load() {
			if !wasDisabled {
				log.Info("camera: disabled")
				finish(f.Time)
				if c.Health != nil {
					c.Health.SetCamera(c.Name, CameraDisabled, nil)
				}
			}
			wasDisabled = true
			continue
		}
		if wasDisabled {
			log.Info("camera: enabled")
			wasDisabled = false
			if c.Health != nil {
				c.Health.SetCamera(c.Name, CameraOK, nil)
			}
		}
		obs = obs[:0]
		ran := false
		if f.Detect && c.Gate.Open() {
			ran = true
			obs, err = c.observe(&f.Image, obs)
			if err != nil {
				log.Warn("camera: detection failed; frame skipped", "err", err)
				continue
			}
		}
		if ran || len(c.Tracker.tracks) > 0 {
			evs := c.Tracker.Update(f.Time, obs)
			c.emit(log, evs, &last)
			if c.Snapshot != nil && c.Annotate != nil && hasIdentityChange(evs) {
				if j, err := c.Annotate(&f.Image, obs); err == nil {
					c.Snapshot(c.Name, j)
				}
			}
		}
		// The preview is copied, not encoded: the hub encodes it when a viewer asks.
		if c.Frames != nil && c.Annotate != nil && f.Time.Sub(lastPreview) >= c.PreviewEvery &&
			c.Frames.PutFrame(c.Name, &f.Image, obs, c.Annotate) {
			lastPreview = f.Time
		}
	}
}

func (c *Camera) observe(im *infer.Image, obs []Observation) ([]Observation, error) {
	start := time.Now()
	dets, err := c.Detector.Detect(im)
	took := time.Since(start)
	if c.Metrics != nil {
		c.Metrics.Inference.WithLabelValues(cmp.Or(c.DetectorModel, "detector")).Observe(took.Seconds())
	}
	if c.Health != nil {
		c.Health.Inference(c.Name, took)
	}
	if err != nil {
		return obs, err
	}
	for _, d := range dets {
		o := Observation{Box: d.Box, Score: d.Score}
		if c.Recognizer != nil && int(min(d.Box.W, d.Box.H)) >= c.MinFace {
			start := time.Now()
			name, dist, err := c.Recognizer.Recognize(im, d)
			if c.Metrics != nil {
				c.Metrics.Inference.WithLabelValues(cmp.Or(c.RecognizerModel, "recognizer")).Observe(time.Since(start).Seconds())
			}
			if err == nil {
				o.Name, o.Distance = name, dist
			}
		}
		obs = append(obs, o)
	}
	return obs, nil
}

// emit hands events to the sink (which never blocks on the network) and updates presence.
func (c *Camera) emit(log *slog.Logger, evs []Event, last *string) {
	if len(evs) == 0 {
		return
	}
	for _, e := range evs {
		if err := c.Sink.PublishEvent(e); err != nil {
			log.Debug("camera: event not queued", "err", err)
		}
		if e.Type != EventEnd && e.Name != Unknown {
			*last = e.Name
		}
	}
	counts := c.Tracker.Counts()
	c.Sink.SetPresence(c.Name, counts, *last)
	if c.OnPresence != nil {
		c.OnPresence(c.Name, counts)
	}
}

func hasIdentityChange(evs []Event) bool {
	for _, e := range evs {
		if e.Type == EventNew || e.Type == EventUpdate {
			return true
		}
	}
	return false
}
