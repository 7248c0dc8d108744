package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/daemon"
	"github.com/vigil-edge/vigil/daemon/mosquittotest"
)

// cameraFrames reads vigil_frames_total{camera="NAME"} from /metrics.
func cameraFrames(t *testing.T, addr, camera string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	prefix := fmt.Sprintf(`vigil_frames_total{camera=%q} `, camera)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			var f float64
			_, err := fmt.Sscan(v, &f)
			require.NoError(t, err, sc.Text())
			return f
		}
	}
	t.Fatalf("no %s... in /metrics", prefix)
	return 0
}

type healthReport struct {
	code int
	daemon.HealthReport
}

func getHealth(t *testing.T, addr string) healthReport {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/healthz")
	require.NoError(t, err)
	defer resp.Body.Close()
	var h healthReport
	h.code = resp.StatusCode
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&h.HealthReport))
	return h
}

// TestRunCameraSourceVanishes runs `vigil run` with two cameras against a real mosquitto:
// "a" on a folder of photographs and "b" on another folder (subtest folder) or on a video
// file (subtest video). b's source is deleted mid-stream: /healthz turns 503 with b
// reopening (degraded) while camera a keeps producing frames; the source is written back:
// b recovers by itself, health is 200 again, and the process is the same one throughout
// (never exited, same start time).
func TestRunCameraSourceVanishes(t *testing.T) {
	t.Run("folder", func(t *testing.T) { cameraSourceVanishes(t, false) })
	t.Run("video", func(t *testing.T) { cameraSourceVanishes(t, true) })
}

func cameraSourceVanishes(t *testing.T, video bool) {
	dir := t.TempDir()
	var shots [][]byte
	for _, p := range append(johnsPhotos(t, "John_Salley")[:2], johnsPhotos(t, "John_Savage")[:2]...) {
		shots = append(shots, sceneJPEG(t, loadPhoto(t, p), 320, 240, image.Rect(100, 60, 220, 180)))
	}
	writeFolder := func(d string) {
		add := frameWriter(t, d)
		for _, b := range shots {
			add(b)
		}
	}
	camA, camB := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	writeFolder(camA)
	removeB := func() { require.NoError(t, os.RemoveAll(camB)) }
	restoreB := func() { writeFolder(camB) }
	if video {
		// The same pictures twice over as Motion JPEG in AVI (OpenCV's FFmpeg backend).
		frames := filepath.Join(dir, "frames")
		add := frameWriter(t, frames)
		for i := range 2 * len(shots) {
			add(shots[i%len(shots)])
		}
		camB = filepath.Join(dir, "b.avi")
		out, err := exec.Command("ffmpeg", "-y", "-loglevel", "error", "-framerate", "5", "-i", filepath.Join(frames, "%04d.jpg"), "-c:v", "mjpeg", "-q:v", "3", camB).CombinedOutput()
		require.NoError(t, err, "ffmpeg (scripts/setup.sh installs it): %s", out)
		avi, err := os.ReadFile(camB)
		require.NoError(t, err)
		removeB = func() { require.NoError(t, os.Remove(camB)) }
		restoreB = func() { require.NoError(t, os.WriteFile(camB, avi, 0o644)) }
	} else {
		writeFolder(camB)
	}

	b := mosquittotest.Start(t)
	addr := fmt.Sprintf("127.0.0.1:%d", mosquittotest.FreePort(t))
	cfg := filepath.Join(dir, "vigil.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`device: faults
mqtt: {broker: %q, queue: {dir: %q}}
gallery: %q
http: {listen: %q}
cameras:
  - {name: a, source: %q, fps: 5, loop: true}
  - {name: b, source: %q, fps: 5, loop: true}
log: {level: info}
`, b.URL(), filepath.Join(dir, "queue"), filepath.Join(dir, "gallery"), addr, camA, camB)), 0o600))

	p := startRun(t, cfg)
	alive := func() {
		t.Helper()
		if !p.running() {
			t.Fatalf("vigil exited: %v", p.cmd.ProcessState)
		}
	}
	wait := func(what string, cond func(h healthReport) bool) healthReport {
		t.Helper()
		deadline := time.Now().Add(45 * time.Second)
		for {
			alive()
			var h healthReport
			if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
				h.code = resp.StatusCode
				err = json.NewDecoder(resp.Body).Decode(&h.HealthReport)
				resp.Body.Close()
				if err == nil && cond(h) {
					return h
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; last /healthz: %d %+v", what, h.code, h.HealthReport)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	wait("both cameras and MQTT up", func(h healthReport) bool {
		return h.code == http.StatusOK && h.Cameras["a"].Frames > 0 && h.Cameras["b"].Frames > 0
	})
	start0 := scrapeMetric(t, addr, "process_start_time_seconds")
	a0, b0 := cameraFrames(t, addr, "a"), cameraFrames(t, addr, "b")

	// The source vanishes mid-stream.
	removeB()
	removed := time.Now()
	h := wait("camera b degraded", func(h healthReport) bool {
		return h.code == http.StatusServiceUnavailable && h.Cameras["b"].State == daemon.CameraReopening
	})
	detected := time.Since(removed)
	assert.Equal(t, "degraded", h.Status)
	assert.Equal(t, daemon.CameraOK, h.Cameras["a"].State, "the other camera is unaffected")
	assert.True(t, h.MQTT.Connected)
	t.Logf("camera b degraded %s after its source was deleted: error %q", detected.Round(10*time.Millisecond), h.Cameras["b"].Error)

	// Camera a keeps producing frames while b is down.
	aDown, bDown := cameraFrames(t, addr, "a"), cameraFrames(t, addr, "b")
	wait("camera a producing frames while b is down", func(h healthReport) bool {
		return float64(h.Cameras["a"].Frames) >= aDown+10
	})
	h = getHealth(t, addr)
	assert.Equal(t, daemon.CameraReopening, h.Cameras["b"].State, "b stays degraded while its source is gone")
	aDown2, bDown2 := cameraFrames(t, addr, "a"), cameraFrames(t, addr, "b")
	assert.Greater(t, aDown2, aDown, "vigil_frames_total{camera=a} keeps increasing")
	assert.Equal(t, bDown, bDown2, "no frames from a camera without a source")

	// The source comes back (the same bytes): b reopens by itself (backoff) and health is 200 again.
	restoreB()
	restored := time.Now()
	wait("camera b recovered", func(h healthReport) bool {
		return h.code == http.StatusOK && h.Cameras["b"].State == daemon.CameraOK && float64(h.Cameras["b"].Frames) > bDown2
	})
	recovered := time.Since(restored)
	wait("camera b producing frames again", func(h healthReport) bool { return float64(h.Cameras["b"].Frames) >= bDown2+5 })
	a1, b1 := cameraFrames(t, addr, "a"), cameraFrames(t, addr, "b")
	assert.Greater(t, b1, bDown2)
	assert.Greater(t, a1, aDown2)

	alive()
	assert.Equal(t, start0, scrapeMetric(t, addr, "process_start_time_seconds"), "the process never restarted")
	t.Logf("camera a frames: %.0f at start, %.0f -> %.0f while b was down, %.0f at end; camera b frames: %.0f at start, %.0f while down (unchanged: %.0f), %.0f at end; b recovered %s after its source came back; one process (pid %d) throughout",
		a0, aDown, aDown2, a1, b0, bDown, bDown2, b1, recovered.Round(10*time.Millisecond), p.cmd.Process.Pid)
}

// syncBuffer is a bytes.Buffer safe for the child's stderr copier and the test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
