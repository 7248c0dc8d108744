package main

import (
	"encoding/json"
	"fmt"
	"image"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/daemon"
	"github.com/vigil-edge/vigil/daemon/mosquittotest"
)

// TestRunSIGHUP drives the reload path of the real `vigil run` (this test binary as main)
// against a real mosquitto, on a looping folder where John_Salley (left) and John_Schneider
// (right) come and go in turn:
//
//  1. the file rewritten with an unknown key + SIGHUP: the daemon logs that the
//     configuration was not reloaded, naming the key, and keeps running (health 200, new
//     events still published, Salley still "unknown" under the tight distance);
//  2. the tight thresholds.distance dropped + SIGHUP: "reloaded thresholds and gallery",
//     and Salley's new tracks are named;
//  3. John_Schneider enrolled with `vigil enroll` into the live gallery + SIGHUP: his new
//     tracks are named too;
//  4. an MQTT enrolment afterwards keeps the reloaded distance (both still named);
//  5. SIGTERM: exit status 0 and availability "offline".
func TestRunSIGHUP(t *testing.T) {
	dir := t.TempDir()
	gallery := filepath.Join(dir, "gallery")
	salley, schneider := johnsPhotos(t, "John_Salley"), johnsPhotos(t, "John_Schneider")
	enrol(t, gallery, "John_Salley")

	// 480x360 scenes at 10 fps: Salley on the left for 5 frames, 4 empty frames (the track
	// ends), Schneider on the right for 5 frames, 4 empty frames; looped, so every pass
	// starts new tracks.
	frames := filepath.Join(dir, "frames")
	add := frameWriter(t, frames)
	empty := sceneJPEG(t, nil, 480, 360, image.Rectangle{})
	for _, p := range []struct {
		photo string
		x     int
	}{{salley[1], 30}, {schneider[1], 290}} {
		photo := loadPhoto(t, p.photo)
		for i := range 5 {
			x := p.x + 2*i
			add(sceneJPEG(t, photo, 480, 360, image.Rect(x, 100, x+150, 250)))
		}
		for range 4 {
			add(empty)
		}
	}
	// left tells which person an event is about: Salley is pasted left of the middle.
	left := func(e daemon.Event) bool { return e.Box[0]+e.Box[2]/2 < 240 }

	b := mosquittotest.Start(t)
	sub, msgs := subscribe(t, b.URL(), "sighup-sub", "vigil/#")

	addr := fmt.Sprintf("127.0.0.1:%d", mosquittotest.FreePort(t))
	cfg := filepath.Join(dir, "vigil.yaml")
	writeConfig := func(thresholds string) {
		t.Helper()
		require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`device: hup
mqtt: {broker: %q, queue: {dir: %q}}
gallery: %q
http: {listen: %q}
cameras:
  - {name: door, source: %q, fps: 10, loop: true, motion: {enabled: false}}
thresholds: {confirm: 2, absence: 250ms, min_face: 20%s}
commands: {enabled: true, max_payload: 200000}
log: {level: info}
`, b.URL(), filepath.Join(dir, "queue"), gallery, addr, frames, thresholds)), 0o600))
	}
	// A distance no two photographs come within: everybody is "unknown" at first.
	writeConfig(", distance: 0.001")

	p := startRun(t, cfg)
	defer func() {
		if t.Failed() {
			for _, m := range msgs.snapshot() {
				t.Logf("%s %s", m.Topic(), truncateForLog(m.Payload()))
			}
		}
	}()
	healthy := func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	// newEvents lists the "new" events published after seq (the subscriber may see a few
	// duplicates: QoS 1).
	newEvents := func(after uint64) []daemon.Event {
		var out []daemon.Event
		for _, m := range msgs.snapshot() {
			var e daemon.Event
			if m.Topic() != "vigil/hup/events" || json.Unmarshal(m.Payload(), &e) != nil {
				continue
			}
			if e.Type == daemon.EventNew && e.Seq > after {
				out = append(out, e)
			}
		}
		return out
	}
	lastSeq := func() uint64 {
		var s uint64
		for _, m := range msgs.snapshot() {
			var e daemon.Event
			if m.Topic() == "vigil/hup/events" && json.Unmarshal(m.Payload(), &e) == nil {
				s = max(s, e.Seq)
			}
		}
		return s
	}
	// seen waits for a new event after seq, on the left or the right, and returns it.
	seen := func(what string, after uint64, onLeft bool, name string) daemon.Event {
		t.Helper()
		var got daemon.Event
		require.Eventually(t, func() bool {
			for _, e := range newEvents(after) {
				if left(e) == onLeft && (name == "" || e.Name == name) {
					got = e
					return true
				}
			}
			return !p.running()
		}, 60*time.Second, 50*time.Millisecond, "waiting for %s", what)
		require.True(t, p.running(), "vigil exited while waiting for %s", what)
		return got
	}
	reloads := func() int { return strings.Count(p.logs.String(), `msg="reloaded thresholds and gallery"`) }
	hup := func() {
		t.Helper()
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGHUP))
	}

	require.Eventually(t, func() bool { return healthy() || !p.running() }, 60*time.Second, 100*time.Millisecond, "camera and MQTT up")
	require.True(t, p.running(), "vigil exited at start")
	seen("Salley's first track", 0, true, "")
	seen("Schneider's first track", 0, false, "")
	for _, e := range newEvents(0) {
		assert.Equal(t, daemon.Unknown, e.Name, "nobody is within distance 0.001: %+v", e)
	}

	// 1. An invalid file is refused and the daemon carries on with what it had.
	writeConfig(", distanse: 0.5")
	mark := lastSeq()
	hup()
	require.Eventually(t, func() bool { return strings.Contains(p.logs.String(), "configuration not reloaded") || !p.running() },
		60*time.Second, 50*time.Millisecond, "SIGHUP with an invalid file is logged")
	require.True(t, p.running(), "vigil exited after SIGHUP with an invalid file")
	var refused string
	for _, line := range strings.Split(p.logs.String(), "\n") {
		if strings.Contains(line, "configuration not reloaded") {
			refused = line
		}
	}
	t.Logf("invalid file: %s", refused)
	assert.Contains(t, refused, "level=ERROR")
	assert.Contains(t, refused, "thresholds.distanse")
	assert.Contains(t, refused, "unknown key")
	assert.Zero(t, reloads(), "nothing was reloaded")
	// Events keep flowing, under the old thresholds.
	seen("Salley's track after the refused reload", mark, true, "")
	seen("Schneider's track after the refused reload", mark, false, "")
	assert.True(t, healthy(), "/healthz after the refused reload")
	for _, e := range newEvents(mark) {
		assert.Equal(t, daemon.Unknown, e.Name, "the refused file changed nothing: %+v", e)
	}

	// 2. A valid file with the default distance (the gallery's): Salley is recognised.
	writeConfig("")
	mark = lastSeq()
	hup()
	require.Eventually(t, func() bool { return reloads() == 1 || !p.running() }, 60*time.Second, 50*time.Millisecond, "reload after a valid file")
	require.True(t, p.running())
	e := seen("Salley recognised after the threshold change", mark, true, "John_Salley")
	t.Logf("after the threshold change: %+v", e)
	seen("Schneider's track after the threshold change", mark, false, "")
	for _, e := range newEvents(mark) {
		if !left(e) {
			assert.Equal(t, daemon.Unknown, e.Name, "Schneider is not enrolled yet: %+v", e)
		}
	}

	// 3. Schneider enrolled into the live gallery by another process, then SIGHUP.
	enrol(t, gallery, "John_Schneider")
	mark = lastSeq()
	hup()
	require.Eventually(t, func() bool { return reloads() == 2 || !p.running() }, 60*time.Second, 50*time.Millisecond, "reload after enrolment")
	require.True(t, p.running())
	assert.Contains(t, p.logs.String(), "names=John_Salley,John_Schneider")
	e = seen("Schneider recognised after the gallery reload", mark, false, "John_Schneider")
	t.Logf("after the gallery reload: %+v", e)
	seen("Salley still recognised", mark, true, "John_Salley")
	assert.True(t, healthy(), "/healthz after the reloads")

	// 4. An MQTT enrolment after the reloads rebuilds the matcher with the reloaded distance,
	// not the one the daemon started with (which would make everybody "unknown" again).
	savage, err := os.ReadFile(johnsPhotos(t, "John_Savage")[0])
	require.NoError(t, err)
	require.True(t, sub.Publish("vigil/hup/cmd/enrol/John_Savage", 1, false, savage).WaitTimeout(30*time.Second))
	require.Eventually(t, func() bool { return lastOn(msgs.snapshot(), "vigil/hup/reply") != "" || !p.running() },
		60*time.Second, 50*time.Millisecond, "reply to the enrol command")
	require.True(t, p.running())
	var r daemon.CommandReply
	require.NoError(t, json.Unmarshal([]byte(lastOn(msgs.snapshot(), "vigil/hup/reply")), &r))
	require.True(t, r.OK, "enrol John_Savage over MQTT: %+v", r)
	mark = lastSeq()
	seen("Salley recognised after an MQTT enrolment", mark, true, "John_Salley")
	seen("Schneider recognised after an MQTT enrolment", mark, false, "John_Schneider")

	// 5. SIGTERM stops cleanly.
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	require.Eventually(t, func() bool { return !p.running() }, 60*time.Second, 50*time.Millisecond, "vigil stops after SIGTERM")
	assert.Equal(t, 0, p.cmd.ProcessState.ExitCode(), "exit status after SIGTERM: %v", p.cmd.ProcessState)
	assert.Contains(t, p.logs.String(), `msg="vigil: stopping"`)
	require.Eventually(t, func() bool { return lastOn(msgs.snapshot(), "vigil/hup/available") == "offline" },
		30*time.Second, 50*time.Millisecond, "availability offline after SIGTERM")
}
