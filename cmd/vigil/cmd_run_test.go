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
func TestRunEndToEnd(t *testing.T) {
	dir := t.TempDir()
	gallery := filepath.Join(dir, "gallery")
	salley, savage, schneider := johnsPhotos(t, "John_Salley"), johnsPhotos(t, "John_Savage"), johnsPhotos(t, "John_Schneider")
	for name, photo := range map[string]string{"John_Salley": salley[0], "John_Savage": savage[0]} {
		code, out, errOut := run("enroll", "--gallery", gallery, "--largest", name, photo)
		require.Equal(t, exitOK, code, "enroll %s: %s%s", name, out, errOut)
	}

	// The "video": a 480x360 scene where each person (a photograph pasted in, drifting a few
	// pixels a frame) stays 15 frames, then 10 empty frames so the track ends.
	frames := filepath.Join(dir, "frames")
	require.NoError(t, os.MkdirAll(frames, 0o755))
	n := 0
	add := func(photo image.Image, x int) {
		canvas := image.NewRGBA(image.Rect(0, 0, 480, 360))
		draw.Draw(canvas, canvas.Bounds(), image.NewUniform(color.RGBA{90, 100, 110, 255}), image.Point{}, draw.Src)
		if photo != nil {
			draw.Draw(canvas, image.Rect(x, 100, x+150, 250), photo, image.Point{}, draw.Src)
		}
		var buf bytes.Buffer
		require.NoError(t, jpeg.Encode(&buf, canvas, &jpeg.Options{Quality: 90}))
		require.NoError(t, os.WriteFile(filepath.Join(frames, fmt.Sprintf("%04d.jpg", n)), buf.Bytes(), 0o644))
		n++
	}
	for _, path := range []string{salley[1], savage[1], schneider[1]} {
		f, err := os.Open(path)
		require.NoError(t, err)
		photo, err := jpeg.Decode(f)
		f.Close()
		require.NoError(t, err)
		for i := range 15 {
			add(photo, 120+2*i)
		}
		for range 10 {
			add(nil, 0)
		}
	}

	b := mosquittotest.Start(t)
	log := &mqttLog{}
	sub := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID("e2e-sub").
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
			log.mu.Lock()
			log.msgs = append(log.msgs, m)
			log.mu.Unlock()
		}))
	require.True(t, sub.Connect().WaitTimeout(30*time.Second))
	defer sub.Disconnect(100)
	for _, tp := range []string{"vigil/#", "homeassistant/#"} {
		require.True(t, sub.Subscribe(tp, 1, nil).WaitTimeout(30*time.Second))
	}

	cfg := filepath.Join(dir, "vigil.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`device: e2e
mqtt: {broker: %q, queue: {dir: %q}, stats_interval: 1s}
gallery: %q
http: {listen: "127.0.0.1:0"}
cameras:
  - {name: door, source: %q, fps: 10, motion: {enabled: false}}
detector: {model: tiny, precision: float32}
thresholds: {confirm: 2, absence: 400ms, min_face: 20}
log: {level: info}
`, b.URL(), filepath.Join(dir, "queue"), gallery, frames)), 0o600))

	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe, "run", "--config", cfg)
	cmd.Env = append(os.Environ(), envRunMain+"=1")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var logs bytes.Buffer
	var logMu sync.Mutex
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logMu.Lock()
			logs.WriteString(sc.Text() + "\n")
			logMu.Unlock()
		}
	}()
	defer func() {
		if t.Failed() {
			logMu.Lock()
			t.Logf("vigil log:\n%s", logs.String())
			logMu.Unlock()
		}
	}()

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

	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	<-logDone
	log.waitFor(t, "last will after SIGKILL", func(m []paho.Message) bool { return lastOn(m, "vigil/e2e/available") == "offline" })
	_ = io.Discard
	_ = strings.TrimSpace
}
