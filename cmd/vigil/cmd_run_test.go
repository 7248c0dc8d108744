package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/daemon"
	"github.com/vigil-edge/vigil/daemon/mosquittotest"
)

func TestRunCheck(t *testing.T) {
	code, out, errOut := run("run", "--config", "../../daemon/vigil.example.yaml", "--check")
	assert.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "valid")

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("device: a/b\ncameras:\n  - {name: door, source: x, fps: -1}\nmqtt: {brokr: x}\n"), 0o600))
	code, _, errOut = run("run", "--config", bad, "--check")
	assert.Equal(t, exitFail, code)
	assert.Contains(t, errOut, bad+":4: mqtt.brokr: unknown key")
	t.Logf("vigil run --check on a bad file:\n%s", errOut)

	code, _, errOut = run("run", "--config", filepath.Join(t.TempDir(), "missing.yaml"), "--check")
	assert.Equal(t, exitFail, code)
	assert.Contains(t, errOut, "no such file")
}

// johnsPhotos lists a person's photographs in ../shared/testdata/johns.
func johnsPhotos(t *testing.T, person string) []string {
	t.Helper()
	ps, err := filepath.Glob(filepath.Join("..", "..", "..", "shared", "testdata", "johns", person, "*.jpg"))
	require.NoError(t, err)
	require.NotEmpty(t, ps, "../shared/testdata/johns/%s is missing", person)
	sort.Strings(ps)
	return ps
}

type mqttLog struct {
	mu   sync.Mutex
	msgs []paho.Message
}

func (l *mqttLog) snapshot() []paho.Message {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]paho.Message(nil), l.msgs...)
}

func (l *mqttLog) waitFor(t *testing.T, what string, cond func([]paho.Message) bool) []paho.Message {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		m := l.snapshot()
		if cond(m) {
			return m
		}
		if time.Now().After(deadline) {
			for _, x := range m {
				t.Logf("%s %s", x.Topic(), truncateForLog(x.Payload()))
			}
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func truncateForLog(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}

// subscribe connects an MQTT client to broker as id, subscribed at QoS 1 to topics, that
// records every message it receives; it disconnects when the test ends.
func subscribe(t *testing.T, broker, id string, topics ...string) (paho.Client, *mqttLog) {
	t.Helper()
	l := &mqttLog{}
	sub := paho.NewClient(paho.NewClientOptions().AddBroker(broker).SetClientID(id).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
			l.mu.Lock()
			l.msgs = append(l.msgs, m)
			l.mu.Unlock()
		}))
	require.True(t, sub.Connect().WaitTimeout(30*time.Second))
	t.Cleanup(func() { sub.Disconnect(100) })
	for _, tp := range topics {
		require.True(t, sub.Subscribe(tp, 1, nil).WaitTimeout(30*time.Second))
	}
	return sub, l
}

// enrol runs `vigil enroll --largest` into gallery with the person's first photograph (the
// tests show the others to the cameras).
func enrol(t *testing.T, gallery, person string) {
	t.Helper()
	code, out, errOut := run("enroll", "--gallery", gallery, "--largest", person, johnsPhotos(t, person)[0])
	require.Equal(t, exitOK, code, "enroll %s: %s%s", person, out, errOut)
}

// frameWriter makes the folder dir and returns a function that writes the next frame into
// it, named %04d.jpg: the order a folder camera reads them in, and ffmpeg's -i pattern.
func frameWriter(t *testing.T, dir string) func(jpg []byte) {
	require.NoError(t, os.MkdirAll(dir, 0o755))
	n := 0
	return func(jpg []byte) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("%04d.jpg", n)), jpg, 0o644))
		n++
	}
}

// runProc is a `vigil run` child process (this test binary as main).
type runProc struct {
	cmd  *exec.Cmd
	logs *syncBuffer // its stderr
	// exited is closed once the process has exited and been waited for: cmd.ProcessState
	// and err are set then.
	exited chan struct{}
	err    error // what cmd.Wait returned
}

// startRun starts `vigil run --config cfg`. When the test ends, the process is sent SIGTERM
// (and killed if it has not stopped 30 s later) unless it has exited already, and its log is
// printed if the test failed.
func startRun(t *testing.T, cfg string) *runProc {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	p := &runProc{cmd: exec.Command(exe, "run", "--config", cfg), logs: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), envRunMain+"=1")
	p.cmd.Stderr = p.logs
	require.NoError(t, p.cmd.Start())
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM) // os.ErrProcessDone once it has exited
		select {
		case <-p.exited:
		case <-time.After(30 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("vigil log:\n%s", p.logs.String())
		}
		http.DefaultClient.CloseIdleConnections()
	})
	return p
}

// running tells whether the process has not exited yet.
func (p *runProc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

func lastOn(msgs []paho.Message, topic string) string {
	p := ""
	for _, m := range msgs {
		if m.Topic() == topic {
			p = string(m.Payload())
		}
	}
	return p
}

// TestRunEndToEnd runs the real vigil binary (this test binary as main) on a folder of
// photographs of three people, two of them enrolled from another photograph, against a real
// mosquitto, and checks what a subscriber sees, up to the last will after SIGKILL.
// loadPhoto decodes a JPEG photograph.
func loadPhoto(t *testing.T, path string) image.Image {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	photo, err := jpeg.Decode(f)
	require.NoError(t, err)
	return photo
}

// sceneJPEG is a w x h grey scene, as a camera would see it, with photo (if not nil) pasted
// into at, encoded as JPEG.
func sceneJPEG(t *testing.T, photo image.Image, w, h int, at image.Rectangle) []byte {
	canvas := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(canvas, canvas.Bounds(), image.NewUniform(color.RGBA{90, 100, 110, 255}), image.Point{}, draw.Src)
	if photo != nil {
		draw.Draw(canvas, at, photo, image.Point{}, draw.Src)
	}
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, canvas, &jpeg.Options{Quality: 90}))
	return buf.Bytes()
}

func TestRunEndToEnd(t *testing.T) {
	dir := t.TempDir()
	gallery := filepath.Join(dir, "gallery")
	salley, savage, schneider := johnsPhotos(t, "John_Salley"), johnsPhotos(t, "John_Savage"), johnsPhotos(t, "John_Schneider")
	enrol(t, gallery, "John_Salley")
	enrol(t, gallery, "John_Savage")

	// The "video": a 480x360 scene where each person (a photograph pasted in, drifting a few
	// pixels a frame) stays 15 frames, then 10 empty frames so the track ends.
	frames := filepath.Join(dir, "frames")
	add := frameWriter(t, frames)
	empty := sceneJPEG(t, nil, 480, 360, image.Rectangle{})
	for _, path := range []string{salley[1], savage[1], schneider[1]} {
		photo := loadPhoto(t, path)
		for i := range 15 {
			x := 120 + 2*i
			add(sceneJPEG(t, photo, 480, 360, image.Rect(x, 100, x+150, 250)))
		}
		for range 10 {
			add(empty)
		}
	}

	// The camera is a real video file: the frames encoded by ffmpeg (Motion JPEG in AVI, which
	// Debian's OpenCV reads through its FFmpeg backend).
	video := filepath.Join(dir, "door.avi")
	ff := exec.Command("ffmpeg", "-y", "-loglevel", "error", "-framerate", "10", "-i", filepath.Join(frames, "%04d.jpg"), "-c:v", "mjpeg", "-q:v", "3", video)
	out, err := ff.CombinedOutput()
	require.NoError(t, err, "ffmpeg (scripts/setup.sh installs it): %s", out)

	b := mosquittotest.Start(t)
	_, log := subscribe(t, b.URL(), "e2e-sub", "vigil/#", "homeassistant/#")

	cfg := filepath.Join(dir, "vigil.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`device: e2e
mqtt: {broker: %q, queue: {dir: %q}, stats_interval: 1s}
gallery: %q
http: {listen: "127.0.0.1:0"}
cameras:
  - {name: door, source: %q, fps: 10, motion: {enabled: false}}
thresholds: {confirm: 2, absence: 400ms, min_face: 20}
log: {level: info}
`, b.URL(), filepath.Join(dir, "queue"), gallery, video)), 0o600))

	p := startRun(t, cfg)

	events := func(msgs []paho.Message) []daemon.Event {
		var out []daemon.Event
		for _, m := range msgs {
			if m.Topic() == "vigil/e2e/events" {
				var e daemon.Event
				require.NoError(t, json.Unmarshal(m.Payload(), &e))
				out = append(out, e)
			}
		}
		return out
	}
	msgs := log.waitFor(t, "three people come and go", func(m []paho.Message) bool {
		ends := 0
		for _, e := range events(m) {
			if e.Type == daemon.EventEnd {
				ends++
			}
		}
		return ends >= 3
	})
	var seen []string
	for _, e := range events(msgs) {
		seen = append(seen, string(e.Type)+":"+e.Name)
	}
	t.Logf("events: %v", seen)
	var news []string
	for _, e := range events(msgs) {
		if e.Type == daemon.EventNew || e.Type == daemon.EventUpdate {
			news = append(news, e.Name)
		}
	}
	assert.Equal(t, []string{"John_Salley", "John_Savage", "unknown"}, news)
	assert.Equal(t, "online", lastOn(msgs, "vigil/e2e/available"))
	msgs = log.waitFor(t, "stats and discovery", func(m []paho.Message) bool {
		return lastOn(m, "vigil/e2e/stats") != "" && lastOn(m, "homeassistant/binary_sensor/vigil_e2e_door_face/config") != "" &&
			lastOn(m, "homeassistant/sensor/vigil_e2e_door_last_name/config") != ""
	})
	t.Logf("stats: %s", lastOn(msgs, "vigil/e2e/stats"))
	assert.Equal(t, "John_Savage", lastOn(msgs, "vigil/e2e/door/last_name"))
	assert.Equal(t, "0", lastOn(msgs, "vigil/e2e/door/face/John_Salley"))

	// The HTTP side, on the port the kernel chose (logged at start).
	addr := ""
	for _, line := range strings.Split(p.logs.String(), "\n") {
		if i := strings.Index(line, `msg="http: listening" addr=`); i >= 0 {
			addr = strings.TrimSpace(line[i+len(`msg="http: listening" addr=`):])
		}
	}
	require.NotEmpty(t, addr, "http address in the log")
	resp, err := http.Get("http://" + addr + "/snapshot/door.jpg")
	require.NoError(t, err)
	snap, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	img, err := jpeg.Decode(bytes.NewReader(snap))
	require.NoError(t, err)
	assert.Equal(t, 480, img.Bounds().Dx())
	resp, err = http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(metrics), "vigil_events_published_total 6")
	assert.Contains(t, string(metrics), `vigil_inference_seconds_count{model="mtcnn"}`)
	http.DefaultClient.CloseIdleConnections()

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	<-p.exited
	log.waitFor(t, "last will after SIGKILL", func(m []paho.Message) bool { return lastOn(m, "vigil/e2e/available") == "offline" })
}

// TestRunCommandsAndSIGTERM enrols and removes people over MQTT with the real models and
// gallery, then stops the daemon with SIGTERM: exit 0, availability "offline", private files.
func TestRunCommandsAndSIGTERM(t *testing.T) {
	dir := t.TempDir()
	gallery := filepath.Join(dir, "gallery")
	enrol(t, gallery, "John_Salley")

	frames := filepath.Join(dir, "frames")
	add := frameWriter(t, frames)
	var blank bytes.Buffer
	require.NoError(t, jpeg.Encode(&blank, image.NewRGBA(image.Rect(0, 0, 320, 240)), nil))
	for range 3 {
		add(blank.Bytes())
	}

	b := mosquittotest.Start(t)
	sub, log := subscribe(t, b.URL(), "cmd-sub", "vigil/#")

	queue := filepath.Join(dir, "queue")
	cfg := filepath.Join(dir, "vigil.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`device: cmdtest
mqtt: {broker: %q, queue: {dir: %q}}
gallery: %q
http: {listen: ""}
cameras:
  - {name: door, source: %q, fps: 5, loop: true}
detector: {precision: float32}
commands: {enabled: true, max_payload: 200000}
`, b.URL(), queue, gallery, frames)), 0o600))

	p := startRun(t, cfg)
	log.waitFor(t, "online", func(m []paho.Message) bool { return lastOn(m, "vigil/cmdtest/available") == "online" })

	photo, err := os.ReadFile(johnsPhotos(t, "John_Schneider")[0])
	require.NoError(t, err)
	replies := 0
	send := func(topic string, payload []byte) daemon.CommandReply {
		t.Helper()
		require.True(t, sub.Publish(topic, 1, false, payload).WaitTimeout(30*time.Second))
		replies++
		msgs := log.waitFor(t, "reply to "+topic, func(m []paho.Message) bool {
			n := 0
			for _, x := range m {
				if x.Topic() == "vigil/cmdtest/reply" {
					n++
				}
			}
			return n == replies
		})
		var r daemon.CommandReply
		require.NoError(t, json.Unmarshal([]byte(lastOn(msgs, "vigil/cmdtest/reply")), &r))
		return r
	}
	r := send("vigil/cmdtest/cmd/enrol/John_Schneider", photo)
	assert.True(t, r.OK, "%+v", r)
	r = send("vigil/cmdtest/cmd/enrol/Blank", blank.Bytes())
	assert.False(t, r.OK)
	assert.Contains(t, r.Error, "no face")
	r = send("vigil/cmdtest/cmd/enrol/Garbage", []byte("\xff\xd8\xff garbage"))
	assert.False(t, r.OK)
	r = send("vigil/cmdtest/cmd/remove/John_Salley", nil)
	assert.True(t, r.OK, "%+v", r)
	r = send("vigil/cmdtest/cmd/remove/nobody", nil)
	assert.False(t, r.OK)
	r = send("vigil/cmdtest/cmd/camera/door", []byte("disable"))
	assert.True(t, r.OK, "%+v", r)

	start := time.Now()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.exited:
		require.NoError(t, p.err, "exit status after SIGTERM")
	case <-time.After(60 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Fatal("vigil did not stop after SIGTERM")
	}
	t.Logf("stopped %s after SIGTERM", time.Since(start).Round(time.Millisecond))
	log.waitFor(t, "offline", func(m []paho.Message) bool { return lastOn(m, "vigil/cmdtest/available") == "offline" })

	code, out, errOut := run("gallery", "list", "--gallery", gallery)
	if code == exitOK {
		assert.Contains(t, out, "John_Schneider")
		assert.NotContains(t, out, "John_Salley")
	} else {
		t.Logf("vigil gallery list unavailable (%d): %s", code, errOut)
	}
	// Biometric data and queued events are private to the service user.
	for _, root := range []string{gallery, queue} {
		require.NoError(t, filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			require.NoError(t, err)
			info, err := d.Info()
			require.NoError(t, err)
			if d.IsDir() {
				assert.Equal(t, os.FileMode(0o700), info.Mode().Perm(), p)
			} else {
				assert.Equal(t, os.FileMode(0o600), info.Mode().Perm()&0o077|0o600, p)
				assert.Zero(t, info.Mode().Perm()&0o077, "%s is readable by others", p)
			}
			return nil
		}))
	}
}

func scrapeMetric(t *testing.T, addr, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	total := 0.0
	found := false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name+" ") || strings.HasPrefix(line, name+"{") {
			var v float64
			_, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v)
			require.NoError(t, err, line)
			total += v
			found = true
		}
	}
	require.True(t, found, "metric %s", name)
	return total
}

// TestRunLoad runs three cameras on looping folders of photographs (at their natural 10 fps)
// for a bounded time and reports frames processed, drops, goroutines and RSS. Set
// VIGIL_LOAD_SECONDS for a longer (soak) run.
func TestRunLoad(t *testing.T) {
	seconds := 8
	if s := os.Getenv("VIGIL_LOAD_SECONDS"); s != "" {
		fmt.Sscan(s, &seconds)
	}
	if testing.Short() {
		seconds = 4
	}
	dir := t.TempDir()
	frames := filepath.Join(dir, "frames")
	add := frameWriter(t, frames)
	for _, p := range append(johnsPhotos(t, "John_Salley")[:4], johnsPhotos(t, "John_Schneider")[:4]...) {
		add(sceneJPEG(t, loadPhoto(t, p), 640, 480, image.Rect(200, 150, 350, 300)))
	}
	b := mosquittotest.Start(t)
	port := mosquittotest.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := filepath.Join(dir, "vigil.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`device: load
mqtt: {broker: %q, queue: {dir: %q}}
gallery: %q
http: {listen: %q}
cameras:
  - {name: a, source: %q, fps: 10, loop: true}
  - {name: b, source: %q, fps: 10, loop: true}
  - {name: c, source: %q, fps: 10, loop: true}
log: {level: warn}
`, b.URL(), filepath.Join(dir, "queue"), filepath.Join(dir, "gallery"), addr, frames, frames, frames)), 0o600))
	startRun(t, cfg)
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 60*time.Second, 100*time.Millisecond, "all cameras and MQTT up")
	// A soak (VIGIL_LOAD_SECONDS of 10 minutes or more) warms up for two minutes so that RSS
	// at the start is the steady state, and then holds RSS growth under 5% (issue 7). A
	// 10-minute soak on 2 cores measured RSS still rising 3% in the second minute, then flat
	// within +-1% for the next eight.
	soak := seconds >= 600
	warmup := 2 * time.Second
	if soak {
		warmup = 2 * time.Minute
	}
	time.Sleep(warmup)
	f0, d0 := scrapeMetric(t, addr, "vigil_frames_total"), scrapeMetric(t, addr, "vigil_frames_dropped_total")
	g0, rss0 := scrapeMetric(t, addr, "go_goroutines"), scrapeMetric(t, addr, "process_resident_memory_bytes")
	heap0 := scrapeMetric(t, addr, "go_memstats_heap_inuse_bytes")
	alloc0 := scrapeMetric(t, addr, "go_memstats_alloc_bytes_total") // cumulative: the GC's workload
	t0 := time.Now()
	end := t0.Add(time.Duration(seconds) * time.Second)
	fPrev, dPrev, tPrev := f0, d0, t0
	for time.Now().Before(end) {
		// Long runs print a line a minute, so a soak shows its trend and not only its ends.
		time.Sleep(min(time.Until(end), time.Minute))
		if !time.Now().Before(end) || seconds < 120 {
			continue
		}
		f, d := scrapeMetric(t, addr, "vigil_frames_total"), scrapeMetric(t, addr, "vigil_frames_dropped_total")
		g, rss := scrapeMetric(t, addr, "go_goroutines"), scrapeMetric(t, addr, "process_resident_memory_bytes")
		heap := scrapeMetric(t, addr, "go_memstats_heap_inuse_bytes") // Go's share of RSS; the rest is OpenCV and C
		el := time.Since(tPrev).Seconds()
		t.Logf("load at %4.0f s: %.1f frames/s processed, %.1f frames/s dropped; goroutines %.0f; RSS %.1f MiB (%+.1f%%), Go heap in use %.1f MiB",
			time.Since(t0).Seconds(), (f-fPrev)/el, (d-dPrev)/el, g, rss/(1<<20), 100*(rss-rss0)/rss0, heap/(1<<20))
		fPrev, dPrev, tPrev = f, d, time.Now()
	}
	f1, d1 := scrapeMetric(t, addr, "vigil_frames_total"), scrapeMetric(t, addr, "vigil_frames_dropped_total")
	g1, rss1 := scrapeMetric(t, addr, "go_goroutines"), scrapeMetric(t, addr, "process_resident_memory_bytes")
	el := time.Since(t0).Seconds()
	ev := scrapeMetric(t, addr, "vigil_events_total")
	heap1 := scrapeMetric(t, addr, "go_memstats_heap_inuse_bytes")
	alloc1 := scrapeMetric(t, addr, "go_memstats_alloc_bytes_total")
	if f1 > f0 {
		t.Logf("load: Go allocation %.2f MB/s, %.1f KB per processed frame", (alloc1-alloc0)/el/1e6, (alloc1-alloc0)/(f1-f0)/1e3)
	}
	t.Logf("load: 3 cameras x 10 fps for %.1f s: %.1f frames/s processed, %.1f frames/s dropped (%.0f frames, %.0f dropped), %.0f events; goroutines %.0f -> %.0f; RSS %.1f -> %.1f MiB (%+.1f%%); Go heap in use %.1f -> %.1f MiB",
		el, (f1-f0)/el, (d1-d0)/el, f1-f0, d1-d0, ev, g0, g1, rss0/(1<<20), rss1/(1<<20), 100*(rss1-rss0)/rss0, heap0/(1<<20), heap1/(1<<20))
	assert.Greater(t, f1, f0, "frames keep flowing")
	// A leak grows the count; one fewer at the end is a transient goroutine (an HTTP
	// connection of the health poll, an on-demand preview encode) that had not yet ended.
	assert.LessOrEqual(t, g1, g0, "no goroutine leak in the steady state")
	if soak {
		assert.Less(t, (rss1-rss0)/rss0, 0.05, "RSS growth after warm-up must stay under 5%")
	}
}
