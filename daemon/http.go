package daemon

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vigil-edge/vigil/infer"
)

// ErrUnknownCamera is returned for a camera name that is not configured.
var ErrUnknownCamera = errors.New("unknown camera")

// FrameProvider gives the preview endpoints JPEGs of the newest annotated frame per camera.
type FrameProvider interface {
	// NextJPEG returns the newest JPEG of camera whose sequence number is above after
	// (after = 0 accepts any), waiting for one until ctx ends. The slice must not be
	// modified. It returns ErrUnknownCamera for names that are not configured.
	NextJPEG(ctx context.Context, camera string, after uint64) (jpeg []byte, seq uint64, err error)
}

// FrameHub is the FrameProvider the pipeline feeds: one slot per camera holding its newest
// preview, so memory is bounded by the number of cameras whatever the number of viewers.
//
// A camera hands its preview frames over raw (PutFrame copies the pixels into the slot's
// buffer) and they are annotated and encoded only when a viewer asks, once per frame however
// many viewers share it: a daemon nobody watches encodes no JPEG, yet a snapshot still shows
// the newest preview frame at once, even of a camera that has stopped.
type FrameHub struct {
	slots map[string]*hubSlot // fixed by NewFrameHub: read without a lock
}

type hubSlot struct {
	mu      sync.Mutex
	seq     uint64 // numbers what was put, JPEGs and raw frames alike
	jpeg    []byte // the newest JPEG (Put, or the raw frame encoded)
	jpegSeq uint64
	changed chan struct{} // made by a waiter, closed on the next change; nil when none waits

	// raw is the newest frame from PutFrame, rawSeq its seq (0: none). While reading, an
	// encoder outside the lock reads it and PutFrame leaves it alone.
	raw     rawFrame
	rawSeq  uint64
	reading bool
	failed  uint64 // the rawSeq whose encoding failed: not tried again
}

// rawFrame is a preview frame waiting to be encoded; its buffers are reused.
type rawFrame struct {
	im  infer.Image
	obs []Observation
	enc Annotator
}

var _ FrameProvider = (*FrameHub)(nil)

// NewFrameHub makes slots for the named cameras.
func NewFrameHub(cameras ...string) *FrameHub {
	h := &FrameHub{slots: map[string]*hubSlot{}}
	for _, c := range cameras {
		h.slots[c] = &hubSlot{}
	}
	return h
}

// Put stores the newest JPEG of camera (the hub keeps the slice; do not modify it after).
func (h *FrameHub) Put(camera string, jpeg []byte) {
	s, ok := h.slots[camera]
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	s.jpeg, s.jpegSeq = jpeg, s.seq
	s.notify()
}

// PutFrame stores a copy of im and obs as camera's newest preview, to be drawn and encoded by
// enc when a viewer asks for it; im and obs are not used after PutFrame returns. It returns
// false, storing nothing, while a viewer's encoding is reading the previous frame (try again
// with the next one). In the steady state it allocates nothing.
func (h *FrameHub) PutFrame(camera string, im *infer.Image, obs []Observation, enc Annotator) bool {
	s, ok := h.slots[camera]
	if !ok {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reading {
		return false
	}
	r := &s.raw
	n := len(im.Pix)
	if cap(r.im.Pix) < n {
		r.im.Pix = make([]uint8, n)
	}
	r.im.W, r.im.H, r.im.Pix = im.W, im.H, r.im.Pix[:n]
	copy(r.im.Pix, im.Pix)
	r.obs = append(r.obs[:0], obs...)
	r.enc = enc
	s.seq++
	s.rawSeq = s.seq
	s.notify()
	return true
}

// encode encodes the raw frame outside the lock and keeps the JPEG; s.mu is held on entry
// and on return. When the annotator panics, the slot is unmarked and unlocked before the
// panic goes on (net/http recovers handlers' panics: the slot must stay usable).
func (s *hubSlot) encode() (j []byte, err error) {
	seq, r := s.rawSeq, s.raw
	s.reading = true
	s.mu.Unlock()
	returned := false
	defer func() {
		s.mu.Lock()
		s.reading = false
		if err != nil || !returned {
			s.failed = seq
		} else if seq > s.jpegSeq {
			s.jpeg, s.jpegSeq = j, seq
		}
		s.notify()
		if !returned {
			s.mu.Unlock()
		}
	}()
	j, err = r.enc(&r.im, r.obs)
	if err == nil && len(j) == 0 {
		err = errors.New("preview: the annotator returned no JPEG")
	}
	returned = true
	return j, err
}

// notify wakes the waiters; s.mu is held.
func (s *hubSlot) notify() {
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
}

// NextJPEG implements FrameProvider. When the newest preview is a raw frame, the caller
// encodes it (others asking meanwhile wait for that JPEG rather than encode it again).
func (h *FrameHub) NextJPEG(ctx context.Context, camera string, after uint64) ([]byte, uint64, error) {
	s, ok := h.slots[camera]
	if !ok {
		return nil, 0, fmt.Errorf("%w %q", ErrUnknownCamera, camera)
	}
	s.mu.Lock()
	for {
		if s.seq > after {
			if s.jpegSeq == s.seq && s.jpeg != nil {
				j, seq := s.jpeg, s.seq
				s.mu.Unlock()
				return j, seq, nil
			}
			// The newest is a raw frame (Put sets jpegSeq = seq).
			if !s.reading && s.failed != s.rawSeq {
				seq := s.rawSeq
				j, err := s.encode()
				if err == nil {
					s.mu.Unlock()
					return j, seq, nil
				}
				continue
			}
			if !s.reading && s.jpeg != nil && s.jpegSeq > after {
				// The newest frame could not be encoded: the JPEG before it is the newest there is.
				j, seq := s.jpeg, s.jpegSeq
				s.mu.Unlock()
				return j, seq, nil
			}
		}
		if s.changed == nil {
			s.changed = make(chan struct{})
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		case <-ch:
		}
		s.mu.Lock()
	}
}

// CameraState is a camera's condition as /healthz reports it.
type CameraState string

// Camera states. Only CameraOK and CameraDisabled count as healthy.
const (
	CameraStarting  CameraState = "starting"
	CameraOK        CameraState = "ok"
	CameraReopening CameraState = "reopening" // failed; being reopened with backoff
	CameraEnded     CameraState = "ended"     // a file without loop reached its end
	CameraDisabled  CameraState = "disabled"
)

// CameraHealth is one camera in the /healthz report.
type CameraHealth struct {
	State   CameraState `json:"state"`
	Frames  uint64      `json:"frames"`
	Dropped uint64      `json:"dropped"`
	// InferenceMS is a moving average of the detector's time per frame, in milliseconds.
	InferenceMS float64    `json:"inference_ms"`
	LastFrame   *time.Time `json:"last_frame,omitempty"`
	Error       string     `json:"error,omitempty"`
}

// HealthReport is the /healthz body.
type HealthReport struct {
	Status  string                  `json:"status"` // ok or degraded
	Uptime  string                  `json:"uptime"`
	MQTT    MQTTStatus              `json:"mqtt"`
	Cameras map[string]CameraHealth `json:"cameras"`
}

// Health collects state from the camera loops and the MQTT client.
type Health struct {
	mu      sync.Mutex
	start   time.Time
	cameras map[string]*CameraHealth
	mqtt    func() MQTTStatus
}

// NewHealth tracks the named cameras; mqtt may be nil before the client exists.
func NewHealth(cameras []string, mqtt func() MQTTStatus) *Health {
	h := &Health{start: time.Now(), cameras: map[string]*CameraHealth{}, mqtt: mqtt}
	for _, c := range cameras {
		h.cameras[c] = &CameraHealth{State: CameraStarting}
	}
	return h
}

// SetCamera records a camera's state and the error that caused it (nil clears it).
func (h *Health) SetCamera(name string, st CameraState, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.cameras[name]
	if !ok {
		return
	}
	c.State = st
	c.Error = ""
	if err != nil {
		c.Error = err.Error()
	}
}

// Frame counts a frame from camera taken at t, and the frames dropped before it.
func (h *Health) Frame(name string, t time.Time, dropped uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c, ok := h.cameras[name]; ok {
		c.Frames++
		c.Dropped += dropped
		if c.LastFrame == nil {
			c.LastFrame = new(time.Time)
		}
		*c.LastFrame = t // in place: Report copies it, and a frame then costs no allocation
		if c.State == CameraStarting || c.State == CameraReopening {
			c.State, c.Error = CameraOK, ""
		}
	}
}

// Inference records one detector run on camera (an exponential moving average, 1/16 weight).
func (h *Health) Inference(name string, d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c, ok := h.cameras[name]; ok {
		ms := float64(d) / float64(time.Millisecond)
		if c.InferenceMS == 0 {
			c.InferenceMS = ms
		} else {
			c.InferenceMS += (ms - c.InferenceMS) / 16
		}
	}
}

// Report returns the current state; Status is "ok" only when MQTT is connected and every
// camera is ok or disabled.
func (h *Health) Report() HealthReport {
	r := HealthReport{Status: "ok", Cameras: map[string]CameraHealth{}, Uptime: time.Since(h.start).Round(time.Second).String()}
	if h.mqtt != nil {
		r.MQTT = h.mqtt()
	}
	if !r.MQTT.Connected {
		r.Status = "degraded"
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for name, c := range h.cameras {
		cc := *c
		if cc.LastFrame != nil {
			t := *cc.LastFrame
			cc.LastFrame = &t
		}
		r.Cameras[name] = cc
		if c.State != CameraOK && c.State != CameraDisabled {
			r.Status = "degraded"
		}
	}
	return r
}

// MaxStreams bounds concurrent /stream viewers; more get 503.
const MaxStreams = 4

// HTTPHandler serves /healthz, /metrics, /snapshot/<camera>.jpg and /stream/<camera>.
// With a non-empty token every request needs "Authorization: Bearer TOKEN" or ?token=TOKEN.
func HTTPHandler(token string, m *Metrics, h *Health, frames FrameProvider, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		rep := h.Report()
		w.Header().Set("Content-Type", "application/json")
		if rep.Status != "ok" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(rep)
	})
	if m != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	}
	mux.HandleFunc("GET /snapshot/{file}", func(w http.ResponseWriter, r *http.Request) {
		cam, ok := strings.CutSuffix(r.PathValue("file"), ".jpg")
		if !ok {
			http.Error(w, "want /snapshot/CAMERA.jpg", http.StatusNotFound)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		j, _, err := frames.NextJPEG(ctx, cam, 0)
		if err != nil {
			httpFrameError(w, cam, err)
			return
		}
		w.Header().Set("Content-Type", "image/jpeg")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Length", strconv.Itoa(len(j)))
		_, _ = w.Write(j)
	})
	streams := make(chan struct{}, MaxStreams)
	mux.HandleFunc("GET /stream/{camera}", func(w http.ResponseWriter, r *http.Request) {
		select {
		case streams <- struct{}{}:
			defer func() { <-streams }()
		default:
			http.Error(w, fmt.Sprintf("at most %d streams at a time", MaxStreams), http.StatusServiceUnavailable)
			return
		}
		cam := r.PathValue("camera")
		ctx := r.Context()
		var seq uint64
		j, seq, err := frames.NextJPEG(ctx, cam, seq)
		if err != nil {
			httpFrameError(w, cam, err)
			return
		}
		const boundary = "vigilframe"
		w.Header().Set("Content-Type", "multipart/x-mixed-replace; boundary="+boundary)
		w.Header().Set("Cache-Control", "no-store")
		rc := http.NewResponseController(w)
		for {
			_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second)) // a stalled viewer is dropped
			if _, err := fmt.Fprintf(w, "--%s\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n", boundary, len(j)); err != nil {
				return
			}
			if _, err := w.Write(j); err != nil {
				return
			}
			if _, err := w.Write([]byte("\r\n")); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
			if j, seq, err = frames.NextJPEG(ctx, cam, seq); err != nil {
				return
			}
		}
	})
	if token == "" {
		return mux
	}
	want := []byte(token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if got == "" {
			got = r.URL.Query().Get("token")
		}
		if subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			log.Warn("http: request without a valid token", "remote", r.RemoteAddr, "path", r.URL.Path)
			w.Header().Set("WWW-Authenticate", `Bearer realm="vigil"`)
			http.Error(w, "token required", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func httpFrameError(w http.ResponseWriter, cam string, err error) {
	switch {
	case errors.Is(err, ErrUnknownCamera):
		http.Error(w, fmt.Sprintf("no camera named %q", cam), http.StatusNotFound)
	case errors.Is(err, context.DeadlineExceeded):
		http.Error(w, fmt.Sprintf("camera %q has no frame yet", cam), http.StatusServiceUnavailable)
	default:
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
	}
}

// ServeHTTP serves h on ln until ctx ends, then shuts down (streams are cut).
func ServeHTTP(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	<-errc
	return nil
}
