package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/vigil-edge/vigil/daemon/mqttq"
)

// GalleryEditor enrols and removes identities for the MQTT commands.
type GalleryEditor interface {
	Enrol(ctx context.Context, name string, jpeg []byte) error
	Remove(ctx context.Context, name string) error
}

// Parts are what cmd/vigil builds from the configuration with the packages that need cgo or
// model files (capture, detect, face). Run owns them from then on and closes the sources.
type Parts struct {
	// Sources holds one opened source per enabled camera, by name.
	Sources map[string]Source
	// Detector returns a detector for one camera (each camera loop runs its own session).
	Detector func(camera string) (Detector, error)
	// Recognizer returns the recogniser for one camera; nil names every face Unknown.
	Recognizer func(camera string) (Recognizer, error)
	// Gallery serves enrol/remove commands; nil answers them with an error.
	Gallery GalleryEditor
	// Annotate renders previews for /snapshot and /stream; nil disables them.
	Annotate Annotator
	// RecognizerModel names the embedding model in vigil_inference_seconds{model}.
	RecognizerModel string
	// Reload is called on SIGHUP with the new, validated configuration (gallery reload).
	Reload func(*Config) error
}

// RunOptions configures Run.
type RunOptions struct {
	Config   *Config
	Parts    Parts
	Log      *slog.Logger
	Notifier *Notifier // nil: NewNotifier from the environment
	// HTTPListener overrides http.listen (tests use a port chosen by the kernel).
	HTTPListener net.Listener
	// Reload delivers configurations re-read on SIGHUP.
	Reload <-chan *Config
	// MQTTRetry and AckTimeout tune the MQTT client (tests); 0 keeps the defaults.
	MQTTRetry, AckTimeout time.Duration
	// ReadyTimeout is how long READY waits for the broker before it is sent anyway.
	ReadyTimeout time.Duration
}

// Run is `vigil run` after the configuration was validated and the parts were built: it
// opens the queue, GPIO, MQTT and HTTP, runs a loop per camera, notifies systemd, and
// returns when ctx ends (nil) or something it cannot run without fails.
func Run(ctx context.Context, o RunOptions) error {
	c := o.Config
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	notify := o.Notifier
	if notify == nil {
		notify = NewNotifier(log)
	}
	closeSources := func() {
		for _, s := range o.Parts.Sources {
			_ = s.Close()
		}
	}
	defer closeSources()

	q, err := mqttq.Open(c.MQTT.Queue.Dir, c.MQTT.Queue.MaxEvents, log.With("component", "queue"))
	if err != nil {
		return fmt.Errorf("mqtt.queue.dir %q: %w", c.MQTT.Queue.Dir, err)
	}
	defer q.Close()
	if n := q.Len(); n > 0 {
		log.Info("queue: events from a previous run waiting for the broker", "events", n)
	}

	gin, gout, err := OpenGPIO(c.GPIO, log.With("component", "gpio"))
	if err != nil {
		return err
	}

	var names []string
	for _, cam := range c.Cameras {
		names = append(names, cam.Name)
	}
	metrics := NewMetrics(func() float64 { return float64(q.Len()) })
	var mq *MQTT
	health := NewHealth(names, func() MQTTStatus { return mq.Status() })
	for _, cam := range c.Cameras {
		if cam.Disabled {
			health.SetCamera(cam.Name, CameraDisabled, nil)
		}
	}
	hub := NewFrameHub(names...)

	cams := map[string]*Camera{}
	cmd := &commander{cams: cams, gallery: o.Parts.Gallery}
	start := time.Now()
	mq, err = NewMQTT(MQTTOptions{
		Config: c, Queue: q, Commands: cmd, Metrics: metrics, Log: log,
		Stats:         newStats(start, health, q),
		RetryInterval: o.MQTTRetry, AckTimeout: o.AckTimeout,
	})
	if err != nil {
		return err
	}

	var ln net.Listener
	if o.HTTPListener != nil {
		ln = o.HTTPListener
	} else if c.HTTP.Listen != "" {
		ln, err = net.Listen("tcp", c.HTTP.Listen)
		if err != nil {
			return fmt.Errorf("http.listen %q: %w", c.HTTP.Listen, err)
		}
	}

	// Presence across cameras drives the GPIO output.
	var presMu sync.Mutex
	presence := map[string]map[string]int{}
	onPresence := func(camera string, counts map[string]int) {
		if gout == nil {
			return
		}
		presMu.Lock()
		presence[camera] = counts
		known, unknown := 0, 0
		for _, cc := range presence {
			for name, n := range cc {
				if name == Unknown {
					unknown += n
				} else {
					known += n
				}
			}
		}
		presMu.Unlock()
		if err := gout.Update(known, unknown); err != nil {
			log.Warn("gpio: output", "err", err)
		}
	}

	var gate Gate = AlwaysOpen{}
	if gin != nil {
		gate = gin
	}
	for _, cc := range c.Cameras {
		if cc.Disabled {
			continue
		}
		src, ok := o.Parts.Sources[cc.Name]
		if !ok {
			return fmt.Errorf("camera %q: no source was opened for it", cc.Name)
		}
		det, err := o.Parts.Detector(cc.Name)
		if err != nil {
			return fmt.Errorf("camera %q: detector: %w", cc.Name, err)
		}
		var rec Recognizer
		if o.Parts.Recognizer != nil {
			if rec, err = o.Parts.Recognizer(cc.Name); err != nil {
				return fmt.Errorf("camera %q: recogniser: %w", cc.Name, err)
			}
		}
		cams[cc.Name] = &Camera{
			Name: cc.Name, Source: src, Detector: det, Recognizer: rec, Sink: mq,
			Tracker: NewTracker(cc.Name, TrackerConfigFrom(c.Thresholds)),
			Gate:    gate, Health: health, Metrics: metrics, Frames: hub, Annotate: o.Parts.Annotate,
			PreviewEvery: 200 * time.Millisecond, MinFace: c.Thresholds.MinFace,
			OnPresence: onPresence, Log: log,
			DetectorModel: c.Detector.Model, RecognizerModel: o.Parts.RecognizerModel,
		}
		if c.MQTT.Snapshots {
			cams[cc.Name].Snapshot = mq.PublishSnapshot
		}
	}

	// Everything is validated and opened; start the goroutines.
	mqttCtx, stopMQTT := context.WithCancel(context.Background())
	defer stopMQTT()
	camCtx, stopCams := context.WithCancel(ctx)
	defer stopCams()
	var wg, camWG sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = mq.Run(mqttCtx) }()
	httpErr := make(chan error, 1)
	if ln != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			httpErr <- ServeHTTP(camCtx, ln, HTTPHandler(c.HTTP.Token, metrics, health, hub, log), log)
		}()
		log.Info("http: listening", "addr", ln.Addr().String())
	}
	if gin != nil {
		wg.Add(1)
		go func() { defer wg.Done(); _ = gin.Run(camCtx) }()
	}
	running := map[string]bool{}
	var runMu sync.Mutex
	for name, cam := range cams {
		running[name] = true
		camWG.Add(1)
		go func() {
			defer camWG.Done()
			_ = cam.Run(camCtx)
			runMu.Lock()
			delete(running, name)
			runMu.Unlock()
		}()
	}

	// READY once the cameras run and the broker answered, or after ReadyTimeout: a broker
	// that is down must not keep the service from starting (events are queued).
	readyWait := o.ReadyTimeout
	if readyWait == 0 {
		readyWait = 15 * time.Second
	}
	deadline := time.After(readyWait)
	tick := time.NewTicker(50 * time.Millisecond)
wait:
	for !mq.Status().Connected {
		select {
		case <-ctx.Done():
			break wait
		case <-deadline:
			break wait
		case <-tick.C:
		}
	}
	tick.Stop()
	status := fmt.Sprintf("watching %d camera(s); MQTT %s", len(cams), map[bool]string{true: "connected", false: "not connected (events are queued)"}[mq.Status().Connected])
	notify.Ready(status)
	log.Info("vigil: running", "cameras", len(cams), "mqtt_connected", mq.Status().Connected)

	// The watchdog is fed from here only while every camera loop keeps beating: a hung loop
	// (stuck in a driver or a model) stops the feeding and systemd restarts the service.
	var wdTick <-chan time.Time
	if iv := notify.WatchdogInterval(); iv > 0 {
		t := time.NewTicker(iv / 4)
		defer t.Stop()
		wdTick = t.C
	}
	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-httpErr:
			if err != nil {
				runErr = err
				break loop
			}
		case nc := <-o.Reload:
			if nc == nil {
				continue
			}
			for _, cam := range cams {
				cam.SetThresholds(nc.Thresholds)
			}
			if o.Parts.Reload != nil {
				if err := o.Parts.Reload(nc); err != nil {
					log.Error("reload failed; keeping the previous gallery", "err", err)
					continue
				}
			}
			log.Info("reloaded thresholds and gallery")
		case <-wdTick:
			alive := true
			runMu.Lock()
			for name := range running {
				if time.Since(cams[name].Heartbeat()) > notify.WatchdogInterval()/2 {
					alive = false
					log.Warn("watchdog: camera loop is not making progress", "camera", name)
				}
			}
			runMu.Unlock()
			if alive {
				notify.Kick()
			}
		}
	}

	notify.Stopping()
	log.Info("vigil: stopping")
	stopCams()
	camWG.Wait() // the cameras' "end" events are queued now
	// Give the broker a moment to take what is queued; the rest stays on disk.
	drain := time.After(3 * time.Second)
	for q.Len() > 0 && mq.Status().Connected {
		select {
		case <-drain:
			goto done
		case <-time.After(20 * time.Millisecond):
		}
	}
done:
	stopMQTT()
	wg.Wait()
	if gout != nil {
		_ = gout.Off()
	}
	if n := q.Len(); n > 0 {
		log.Info("queue: events kept on disk for the next start", "events", n)
	}
	return runErr
}

// commander implements Commander over the cameras and the gallery.
type commander struct {
	cams    map[string]*Camera
	gallery GalleryEditor
}

var errNoGallery = errors.New("enrolment is not available: no gallery is configured")

func (c *commander) Enrol(ctx context.Context, name string, jpeg []byte) error {
	if c.gallery == nil {
		return errNoGallery
	}
	return c.gallery.Enrol(ctx, name, jpeg)
}

func (c *commander) Remove(ctx context.Context, name string) error {
	if c.gallery == nil {
		return errNoGallery
	}
	return c.gallery.Remove(ctx, name)
}

func (c *commander) SetCameraEnabled(_ context.Context, camera string, on bool) error {
	cam, ok := c.cams[camera]
	if !ok {
		return fmt.Errorf("camera %q is disabled in the configuration", camera)
	}
	cam.SetEnabled(on)
	return nil
}

// Stats is the body of <prefix>/<device>/stats.
type Stats struct {
	Uptime       float64                `json:"uptime_s"`
	Queue        int                    `json:"queue"`
	QueueDropped uint64                 `json:"queue_dropped"`
	Cameras      map[string]CameraStats `json:"cameras"`
}

// CameraStats is one camera in Stats; FPS is measured since the previous stats message.
type CameraStats struct {
	State       CameraState `json:"state"`
	Frames      uint64      `json:"frames"`
	Dropped     uint64      `json:"dropped"`
	FPS         float64     `json:"fps"`
	InferenceMS float64     `json:"inference_ms"`
}

func newStats(start time.Time, h *Health, q *mqttq.Queue) func() any {
	type sample struct {
		frames uint64
		at     time.Time
	}
	var mu sync.Mutex
	prev := map[string]sample{}
	return func() any {
		rep := h.Report()
		s := Stats{Uptime: time.Since(start).Seconds(), Queue: q.Len(), QueueDropped: q.Dropped(), Cameras: map[string]CameraStats{}}
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		for name, ch := range rep.Cameras {
			cs := CameraStats{State: ch.State, Frames: ch.Frames, Dropped: ch.Dropped, InferenceMS: ch.InferenceMS}
			if p, ok := prev[name]; ok && now.After(p.at) && ch.Frames >= p.frames {
				cs.FPS = float64(ch.Frames-p.frames) / now.Sub(p.at).Seconds()
			}
			prev[name] = sample{ch.Frames, now}
			s.Cameras[name] = cs
		}
		return s
	}
}
