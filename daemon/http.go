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

// FrameHub is the FrameProvider the pipeline feeds: one slot per camera holding the newest
// JPEG, so memory is bounded by the number of cameras whatever the number of viewers.
type FrameHub struct {
	mu    sync.Mutex
	slots map[string]*hubSlot
}

type hubSlot struct {
	jpeg    []byte
	seq     uint64
	changed chan struct{} // closed and replaced on every Put
}

var _ FrameProvider = (*FrameHub)(nil)

// NewFrameHub makes slots for the named cameras.
func NewFrameHub(cameras ...string) *FrameHub {
	h := &FrameHub{slots: map[string]*hubSlot{}}
	for _, c := range cameras {
		h.slots[c] = &hubSlot{changed: make(chan struct{})}
	}
	return h
}

// Put stores the newest JPEG of camera (the hub keeps the slice; do not modify it after).
func (h *FrameHub) Put(camera string, jpeg []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.slots[camera]
	if !ok {
		return
	}
	s.jpeg = jpeg
	s.seq++
	close(s.changed)
	s.changed = make(chan struct{})
}

// NextJPEG implements FrameProvider.
func (h *FrameHub) NextJPEG(ctx context.Context, camera string, after uint64) ([]byte, uint64, error) {
	for {
		h.mu.Lock()
		s, ok := h.slots[camera]
		if !ok {
			h.mu.Unlock()
			return nil, 0, fmt.Errorf("%w %q", ErrUnknownCamera, camera)
		}
		if s.seq > after && s.jpeg != nil {
			j, seq := s.jpeg, s.seq
			h.mu.Unlock()
			return j, seq, nil
		}
		ch := s.changed
		h.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		case <-ch:
		}
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
		c.LastFrame = &t
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
