package daemon

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/daemon/mosquittotest"
	"github.com/vigil-edge/vigil/detect"
	"github.com/vigil-edge/vigil/infer"
)

// scene is a scripted camera: frame i carries i in its first pixels; who is where at frame
// i is decided by the script. It stands in for capture + detect + face, which cmd/vigil wires.
type scene struct {
	frames int
	pace   time.Duration
	// present returns the faces (name -> box) in frame i.
	present func(i int) map[string]detect.Box

	mu   sync.Mutex
	i    int
	img  infer.Image
	done bool
}

func (s *scene) Next(ctx context.Context) (Frame, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.i >= s.frames {
		return Frame{}, io.EOF
	}
	if !sleepCtx(ctx, s.pace) {
		return Frame{}, ctx.Err()
	}
	if s.img.Pix == nil {
		s.img = *infer.NewImage(64, 48)
	}
	binary.LittleEndian.PutUint32(s.img.Pix, uint32(s.i))
	s.i++
	return Frame{Seq: uint64(s.i), Time: time.Now(), Image: s.img, Detect: true}, nil
}

func (s *scene) Close() error { return nil }

func (s *scene) Detect(im *infer.Image) ([]detect.Detection, error) {
	i := int(binary.LittleEndian.Uint32(im.Pix))
	var out []detect.Detection
	for _, name := range []string{"alice", "bob", "stranger"} {
		if b, ok := s.present(i)[name]; ok {
			out = append(out, detect.Detection{Box: b, Score: 0.9})
		}
	}
	return out, nil
}

// Recognize names a face by where the script put it.
func (s *scene) Recognize(im *infer.Image, d detect.Detection) (string, float32, error) {
	i := int(binary.LittleEndian.Uint32(im.Pix))
	for name, b := range s.present(i) {
		if b == d.Box {
			if name == "stranger" {
				return Unknown, 0.9, nil
			}
			return name, 0.3, nil
		}
	}
	return Unknown, 1, nil
}

func TestRunEndToEndWithScriptedCamera(t *testing.T) {
	b := mosquittotest.Start(t)
	sub := subscribe(t, b.URL(), nil, "", "vigil/#")
	read := notifySocket(t)
	t.Setenv("WATCHDOG_USEC", "400000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))

	c := mqttTestConfig(t, b.URL(), "thresholds: {confirm: 2, absence: 300ms, min_face: 10}\n")
	c.Cameras = c.Cameras[:1]
	c.MQTT.Snapshots = true
	sc := &scene{frames: 150, pace: 10 * time.Millisecond, present: func(i int) map[string]detect.Box {
		m := map[string]detect.Box{}
		if i >= 10 && i < 40 {
			m["alice"] = detect.Box{X: 5, Y: 5, W: 20, H: 20}
		}
		if i >= 20 && i < 70 {
			m["stranger"] = detect.Box{X: 35, Y: 5, W: 20, H: 20}
		}
		return m
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, RunOptions{
			Config: c, Log: testLogger(t), HTTPListener: ln, MQTTRetry: 100 * time.Millisecond,
			Parts: Parts{
				Sources:    map[string]Source{"door": sc},
				Detector:   func(string) (Detector, error) { return sc, nil },
				Recognizer: func(string) (Recognizer, error) { return sc, nil },
				Annotate:   func(im *infer.Image, obs []Observation) ([]byte, error) { return []byte{0xFF, 0xD8}, nil },
			},
		})
	}()
	msgs := sub.waitFor(t, "all events", func(m []paho.Message) bool { e, _ := events(t, m); return len(e) >= 4 })
	evs, _ := events(t, msgs)
	var got []string
	for _, e := range evs {
		got = append(got, string(e.Type)+":"+e.Name)
	}
	assert.Equal(t, []string{"new:alice", "new:unknown", "end:alice", "end:unknown"}, got)
	assert.NotEqual(t, evs[0].ID, evs[1].ID)
	assert.Equal(t, evs[0].ID, evs[2].ID)
	p, _ := lastPayload(msgs, "vigil/dev1/door/last_name")
	assert.Equal(t, "alice", p)
	sub.waitFor(t, "snapshots on new faces", func(m []paho.Message) bool { return len(onTopic(m, "vigil/dev1/door/snapshot")) >= 2 })

	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	require.NoError(t, err)
	var rep HealthReport
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&rep))
	resp.Body.Close()
	assert.True(t, rep.MQTT.Connected)
	assert.Greater(t, rep.Cameras["door"].Frames, uint64(40), "the stranger appears at frame 20 and is confirmed after it")

	sub.waitFor(t, "stats", func(m []paho.Message) bool { return len(onTopic(m, "vigil/dev1/stats")) > 0 })
	cancel()
	require.NoError(t, <-done)
	sub.waitFor(t, "offline", func(m []paho.Message) bool { p, _ := lastPayload(m, "vigil/dev1/available"); return p == "offline" })
	notes := read()
	require.NotEmpty(t, notes)
	assert.Contains(t, notes[0], "READY=1")
	assert.Contains(t, notes, "WATCHDOG=1")
	assert.Equal(t, "STOPPING=1", notes[len(notes)-1])
	t.Logf("systemd saw %d notifications; events %v", len(notes), got)
	http.DefaultClient.CloseIdleConnections()
}

// flaky is a camera that disappears (Next fails, Health says reopening) until back is set.
type flaky struct {
	back atomic.Bool
	seq  atomic.Uint64
	img  *infer.Image
}

func (f *flaky) Next(ctx context.Context) (Frame, error) {
	if !sleepCtx(ctx, 10*time.Millisecond) {
		return Frame{}, ctx.Err()
	}
	if !f.back.Load() {
		return Frame{}, errors.New("camera unplugged")
	}
	return Frame{Seq: f.seq.Add(1), Time: time.Now(), Image: *f.img, Detect: true}, nil
}
func (f *flaky) Close() error { return nil }
func (f *flaky) Health() (CameraState, string) {
	if f.back.Load() {
		return CameraOK, ""
	}
	return CameraReopening, "camera unplugged"
}

// TestRunCameraFailureIsDegradedNotFatal: one camera fails and comes back while the other
// keeps producing events; health says degraded meanwhile, and the process never stops.
func TestRunCameraFailureIsDegradedNotFatal(t *testing.T) {
	b := mosquittotest.Start(t)
	sub := subscribe(t, b.URL(), nil, "", "vigil/dev1/events")
	c := mqttTestConfig(t, b.URL(), "thresholds: {confirm: 1, absence: 100ms, min_face: 10}\n")
	yard := &flaky{img: infer.NewImage(32, 32)}
	door := &scene{frames: 1 << 30, pace: 10 * time.Millisecond, present: func(i int) map[string]detect.Box {
		if (i/20)%2 == 1 {
			return map[string]detect.Box{"alice": {X: 5, Y: 5, W: 20, H: 20}}
		}
		return nil
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	reload := make(chan *Config)
	reloaded := make(chan *Config, 1)
	go func() {
		done <- Run(ctx, RunOptions{
			Config: c, Log: testLogger(t), HTTPListener: ln, MQTTRetry: 100 * time.Millisecond, Notifier: NewNotifier(nil),
			Reload: reload,
			Parts: Parts{
				Sources: map[string]Source{"door": door, "yard": yard},
				// The yard frames are blank: the scene's script finds nobody in them.
				Detector:   func(string) (Detector, error) { return door, nil },
				Recognizer: func(string) (Recognizer, error) { return door, nil },
				Reload:     func(nc *Config) error { reloaded <- nc; return nil },
			},
		})
	}()
	healthz := func() (int, HealthReport) {
		resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
		require.NoError(t, err)
		defer resp.Body.Close()
		var rep HealthReport
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&rep))
		return resp.StatusCode, rep
	}
	require.Eventually(t, func() bool {
		code, rep := healthz()
		return code == http.StatusServiceUnavailable && rep.Cameras["yard"].State == CameraReopening && rep.Cameras["door"].State == CameraOK
	}, wait, 20*time.Millisecond)
	_, rep := healthz()
	assert.Equal(t, "camera unplugged", rep.Cameras["yard"].Error)
	sub.waitFor(t, "events from the working camera meanwhile", func(m []paho.Message) bool { e, _ := events(t, m); return len(e) >= 2 })
	yard.back.Store(true)
	require.Eventually(t, func() bool {
		code, rep := healthz()
		return code == http.StatusOK && rep.Cameras["yard"].Frames > 0
	}, wait, 20*time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Run returned while a camera failed: %v", err)
	default:
	}
	// SIGHUP: cmd/vigil re-reads the file and hands it over.
	nc := *c
	nc.Thresholds.Confirm = 5
	reload <- &nc
	assert.Equal(t, 5, (<-reloaded).Thresholds.Confirm)
	cancel()
	require.NoError(t, <-done)
	http.DefaultClient.CloseIdleConnections()
}
