package daemon

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/daemon/mosquittotest"
	"github.com/vigil-edge/vigil/daemon/mqttq"
)

// wait is how long a test waits for something that must happen; it is a bound against
// hanging, not a timing assertion.
const wait = 30 * time.Second

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func mqttTestConfig(t testing.TB, broker string, extra string) *Config {
	t.Helper()
	src := fmt.Sprintf(`device: dev1
mqtt: {broker: %q, prefix: vigil, queue: {dir: %q, max_events: 100000}, stats_interval: 1s}
gallery: /tmp/gallery
cameras:
  - {name: door, source: /dev/video0}
  - {name: yard, source: /dev/video1}
%s`, broker, filepath.Join(t.TempDir(), "queue"), extra)
	c, err := ParseConfig([]byte(src))
	require.NoError(t, err)
	return c
}

type runningMQTT struct {
	*MQTT
	q      *mqttq.Queue
	cancel context.CancelFunc
	done   chan struct{}
}

func (r *runningMQTT) stop() {
	r.cancel()
	<-r.done
	r.q.Close()
}

func startMQTT(t *testing.T, c *Config, cmd Commander) *runningMQTT {
	t.Helper()
	q, err := mqttq.Open(c.MQTT.Queue.Dir, c.MQTT.Queue.MaxEvents, nil)
	require.NoError(t, err)
	metrics := NewMetrics(func() float64 { return float64(q.Len()) })
	m, err := NewMQTT(MQTTOptions{
		Config: c, Queue: q, Commands: cmd, Metrics: metrics, Log: testLogger(t),
		Stats:         func() any { return map[string]any{"uptime": 1} },
		RetryInterval: 100 * time.Millisecond, AckTimeout: 5 * time.Second,
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningMQTT{MQTT: m, q: q, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(r.done); _ = m.Run(ctx) }()
	var once sync.Once
	t.Cleanup(func() { once.Do(r.stop) })
	return r
}

// subscriber is a real MQTT client recording what it receives, in order.
type subscriber struct {
	client paho.Client
	mu     sync.Mutex
	msgs   []paho.Message
	notify chan struct{}
}

func subscribe(t *testing.T, broker string, tlsConf *tls.Config, persistentID string, topics ...string) *subscriber {
	t.Helper()
	s := &subscriber{notify: make(chan struct{}, 1)}
	opts := paho.NewClientOptions().AddBroker(broker).SetAutoReconnect(true).
		SetConnectRetry(true).SetConnectRetryInterval(100 * time.Millisecond).
		SetMaxReconnectInterval(200 * time.Millisecond).SetOrderMatters(true)
	if persistentID != "" {
		opts.SetClientID(persistentID).SetCleanSession(false)
	} else {
		opts.SetClientID(fmt.Sprintf("sub-%d", time.Now().UnixNano()))
	}
	if tlsConf != nil {
		opts.SetTLSConfig(tlsConf)
	}
	// Subscribe again after a reconnection (broker restart tests), but not on the first
	// connection: the subscriptions below wait for their SUBACK, and a second SUBSCRIBE to
	// the same filter makes the broker send the retained messages twice.
	var first atomic.Bool
	opts.SetOnConnectHandler(func(c paho.Client) {
		if first.CompareAndSwap(false, true) {
			return
		}
		for _, tp := range topics {
			c.Subscribe(tp, 1, nil)
		}
	})
	opts.SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
		s.mu.Lock()
		s.msgs = append(s.msgs, m)
		s.mu.Unlock()
		select {
		case s.notify <- struct{}{}:
		default:
		}
	})
	s.client = paho.NewClient(opts)
	tok := s.client.Connect()
	require.True(t, tok.WaitTimeout(wait), "subscriber connect")
	require.NoError(t, tok.Error())
	for _, tp := range topics {
		st := s.client.Subscribe(tp, 1, nil)
		require.True(t, st.WaitTimeout(wait))
		require.NoError(t, st.Error())
	}
	t.Cleanup(func() { s.client.Disconnect(100) })
	return s
}

// waitFor polls the received messages until cond holds.
func (s *subscriber) waitFor(t *testing.T, what string, cond func([]paho.Message) bool) []paho.Message {
	t.Helper()
	deadline := time.After(wait)
	for {
		s.mu.Lock()
		msgs := append([]paho.Message(nil), s.msgs...)
		s.mu.Unlock()
		if cond(msgs) {
			return msgs
		}
		select {
		case <-s.notify:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s; got %d messages", what, len(msgs))
		}
	}
}

func onTopic(msgs []paho.Message, topic string) []paho.Message {
	var out []paho.Message
	for _, m := range msgs {
		if m.Topic() == topic {
			out = append(out, m)
		}
	}
	return out
}

func lastPayload(msgs []paho.Message, topic string) (string, bool) {
	on := onTopic(msgs, topic)
	if len(on) == 0 {
		return "", false
	}
	return string(on[len(on)-1].Payload()), true
}

// events decodes the events received, dropping redelivered duplicates by seq.
func events(t *testing.T, msgs []paho.Message) (evs []Event, dups int) {
	t.Helper()
	var last uint64
	for _, m := range onTopic(msgs, "vigil/dev1/events") {
		var e Event
		require.NoError(t, json.Unmarshal(m.Payload(), &e), "%s", m.Payload())
		if e.Seq <= last {
			dups++
			require.NotEqual(t, uint64(0), e.Seq)
			continue
		}
		last = e.Seq
		evs = append(evs, e)
	}
	return evs, dups
}

func testEvent(i int) Event {
	return Event{Type: EventNew, ID: uint64(i), Camera: "door", Time: time.Date(2026, 11, 28, 18, 0, 0, i, time.UTC),
		Name: "alice", Distance: 0.4, Score: 0.9, Box: [4]int{i, 2, 3, 4}}
}

func TestMQTTEventsAvailabilityAndWill(t *testing.T) {
	b := mosquittotest.Start(t)
	sub := subscribe(t, b.URL(), nil, "", "vigil/#")
	c := mqttTestConfig(t, b.URL(), "")
	r := startMQTT(t, c, nil)

	sub.waitFor(t, "online", func(m []paho.Message) bool { p, _ := lastPayload(m, "vigil/dev1/available"); return p == "online" })
	const n = 50
	for i := range n {
		require.NoError(t, r.PublishEvent(testEvent(i)))
	}
	msgs := sub.waitFor(t, "events", func(m []paho.Message) bool { e, _ := events(t, m); return len(e) == n })
	evs, _ := events(t, msgs)
	for i, e := range evs {
		assert.Equal(t, uint64(i+1), e.Seq)
		assert.Equal(t, uint64(i), e.ID, "in order")
	}
	// The exact wire format of the issue's schema (plus seq).
	raw := onTopic(msgs, "vigil/dev1/events")[0]
	assert.False(t, raw.Retained())
	assert.Equal(t, byte(1), raw.Qos())
	assert.JSONEq(t, `{"seq":1,"type":"new","id":0,"camera":"door","time":"2026-11-28T18:00:00Z","label":"face","name":"alice","distance":0.4,"score":0.9,"box":[0,2,3,4]}`, string(raw.Payload()))
	// The subscriber can see the last event before the broker's PUBACK reaches the publisher.
	assert.Eventually(t, func() bool { return r.q.Len() == 0 }, 10*time.Second, 10*time.Millisecond, "acknowledged events leave the queue")

	r.SetPresence("door", map[string]int{"alice": 2, Unknown: 1}, "alice")
	sub.waitFor(t, "presence", func(m []paho.Message) bool {
		a, _ := lastPayload(m, "vigil/dev1/door/last_name")
		b, _ := lastPayload(m, "vigil/dev1/door/face/alice")
		c, _ := lastPayload(m, "vigil/dev1/door/face/unknown")
		d, _ := lastPayload(m, "vigil/dev1/door/present")
		return a == "alice" && b == "2" && c == "1" && d == "ON"
	})
	r.SetPresence("door", map[string]int{}, "")
	sub.waitFor(t, "count back to 0", func(m []paho.Message) bool {
		p, _ := lastPayload(m, "vigil/dev1/door/face/alice")
		q, _ := lastPayload(m, "vigil/dev1/door/present")
		return p == "0" && q == "OFF"
	})
	sub.waitFor(t, "stats", func(m []paho.Message) bool { return len(onTopic(m, "vigil/dev1/stats")) > 0 })

	// A fresh subscriber sees the retained state.
	late := subscribe(t, b.URL(), nil, "", "vigil/dev1/door/face/+", "vigil/dev1/available")
	late.waitFor(t, "retained", func(m []paho.Message) bool {
		p, _ := lastPayload(m, "vigil/dev1/door/face/alice")
		return p == "0" && len(onTopic(m, "vigil/dev1/available")) > 0 && onTopic(m, "vigil/dev1/available")[0].Retained()
	})

	r.stop()
	sub.waitFor(t, "offline after a clean stop", func(m []paho.Message) bool { p, _ := lastPayload(m, "vigil/dev1/available"); return p == "offline" })
}

func TestMQTTBrokerDownAtStart(t *testing.T) {
	b := mosquittotest.Start(t)
	b.Stop()
	c := mqttTestConfig(t, b.URL(), "")
	r := startMQTT(t, c, nil)
	const n = 30
	for i := range n {
		require.NoError(t, r.PublishEvent(testEvent(i)))
	}
	assert.False(t, r.Status().Connected)
	assert.Equal(t, n, r.Status().Queue)
	// The refused connection is reported for /healthz.
	require.Eventually(t, func() bool { return r.Status().LastError != "" }, wait, 20*time.Millisecond)
	t.Logf("while the broker is down: %+v", r.Status())

	b.Start()
	sub := subscribe(t, b.URL(), nil, "", "vigil/dev1/events")
	// The subscriber may connect after vigil flushed; events are not retained, so check the
	// queue drained and count what the subscriber saw from then on.
	require.Eventually(t, func() bool { return r.Status().Connected && r.q.Len() == 0 }, wait, 20*time.Millisecond)
	require.NoError(t, r.PublishEvent(testEvent(n)))
	msgs := sub.waitFor(t, "event after reconnect", func(m []paho.Message) bool { e, _ := events(t, m); return len(e) > 0 && e[len(e)-1].ID == n })
	evs, _ := events(t, msgs)
	t.Logf("broker down at start: %d events queued, queue drained after the broker came up, %d seen by a late subscriber", n, len(evs))
}

// TestMQTTBrokerDownAtStartAllDelivered uses a persistent subscriber session, so every event
// queued before the broker existed is counted at the subscriber.
func TestMQTTBrokerDownAtStartAllDelivered(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.WithPersistence())
	sub := subscribe(t, b.URL(), nil, "persistent-sub", "vigil/dev1/events")
	sub.client.Disconnect(100)
	b.Stop()

	c := mqttTestConfig(t, b.URL(), "")
	r := startMQTT(t, c, nil)
	const n = 40
	for i := range n {
		require.NoError(t, r.PublishEvent(testEvent(i)))
	}
	b.Start()
	sub = subscribe(t, b.URL(), nil, "persistent-sub", "vigil/dev1/events")
	msgs := sub.waitFor(t, "all events", func(m []paho.Message) bool { e, _ := events(t, m); return len(e) >= n })
	evs, dups := events(t, msgs)
	for i, e := range evs {
		require.Equal(t, uint64(i), e.ID)
	}
	t.Logf("broker down at start: sent %d, received %d (+%d duplicates dropped by seq)", n, len(evs), dups)
}

func TestMQTTBrokerRestartMidStream(t *testing.T) {
	outage := 20 * time.Second
	if testing.Short() {
		outage = 3 * time.Second
	}
	b := mosquittotest.Start(t, mosquittotest.WithPersistence())
	sub := subscribe(t, b.URL(), nil, "restart-sub", "vigil/dev1/events")
	c := mqttTestConfig(t, b.URL(), "")
	r := startMQTT(t, c, nil)

	const before, during, after = 100, 200, 100
	sent := 0
	produce := func(k int) {
		for range k {
			require.NoError(t, r.PublishEvent(testEvent(sent)))
			sent++
			time.Sleep(time.Millisecond) // faces keep appearing at a realistic pace
		}
	}
	produce(before)
	sub.waitFor(t, "first events", func(m []paho.Message) bool { e, _ := events(t, m); return len(e) >= before/2 })
	b.Stop()
	stopAt := time.Now()
	for time.Since(stopAt) < outage {
		produce(during / 10)
		time.Sleep(outage / 10)
	}
	t.Logf("broker down for %s with %d events waiting in the queue; status %+v", outage, r.q.Len(), r.Status())
	b.Start()
	produce(after)
	msgs := sub.waitFor(t, "every event", func(m []paho.Message) bool { e, _ := events(t, m); return len(e) >= sent })
	evs, dups := events(t, msgs)
	require.Len(t, evs, sent)
	for i, e := range evs {
		require.Equal(t, uint64(i), e.ID, "events arrive in the order produced")
		require.Equal(t, testEvent(i).Time, e.Time.UTC(), "exactly as produced")
	}
	t.Logf("broker restart mid-stream: sent %d, received %d in order (%d duplicates dropped by seq), queue now %d",
		sent, len(evs), dups, r.q.Len())
}

func TestMQTTQueueSurvivesDaemonRestart(t *testing.T) {
	b := mosquittotest.Start(t)
	b.Stop()
	c := mqttTestConfig(t, b.URL(), "")
	r := startMQTT(t, c, nil)
	for i := range 10 {
		require.NoError(t, r.PublishEvent(testEvent(i)))
	}
	r.stop()

	b.Start()
	sub := subscribe(t, b.URL(), nil, "", "vigil/dev1/events")
	r2 := startMQTT(t, c, nil)
	msgs := sub.waitFor(t, "events from the previous run", func(m []paho.Message) bool { e, _ := events(t, m); return len(e) == 10 })
	evs, _ := events(t, msgs)
	assert.Equal(t, uint64(9), evs[9].ID)
	r2.stop()
}

func TestMQTTQueueBoundDropsCounted(t *testing.T) {
	b := mosquittotest.Start(t)
	b.Stop()
	c := mqttTestConfig(t, b.URL(), "")
	c.MQTT.Queue.MaxEvents = 5
	r := startMQTT(t, c, nil)
	failed := 0
	for i := range 8 {
		if r.PublishEvent(testEvent(i)) != nil {
			failed++
		}
	}
	assert.Equal(t, 3, failed)
	assert.Equal(t, uint64(3), r.Status().Dropped)
}

func TestMQTTTLS(t *testing.T) {
	ca := mosquittotest.NewCA(t, "vigil-test")
	cert, key := ca.Issue(t, "broker")
	b := mosquittotest.Start(t, mosquittotest.WithTLS(mosquittotest.ServerTLS{CA: ca.CertPEM, Cert: cert, Key: key}))

	subTLS, err := loadTLS(TLSConfig{CA: ca.CertPEM}, "127.0.0.1")
	require.NoError(t, err)
	sub := subscribe(t, b.URL(), subTLS, "", "vigil/#")

	t.Run("right CA", func(t *testing.T) {
		c := mqttTestConfig(t, b.URL(), "")
		c.MQTT.TLS.CA = ca.CertPEM
		r := startMQTT(t, c, nil)
		require.NoError(t, r.PublishEvent(testEvent(7)))
		sub.waitFor(t, "event over TLS", func(m []paho.Message) bool { e, _ := events(t, m); return len(e) == 1 })
		r.stop()
	})
	t.Run("client certificate", func(t *testing.T) {
		c := mqttTestConfig(t, b.URL(), "")
		c.MQTT.TLS.CA = ca.CertPEM
		c.MQTT.TLS.Cert, c.MQTT.TLS.Key = ca.Issue(t, "client")
		r := startMQTT(t, c, nil)
		require.Eventually(t, func() bool { return r.Status().Connected }, wait, 20*time.Millisecond)
		r.stop()
	})
	t.Run("wrong CA", func(t *testing.T) {
		other := mosquittotest.NewCA(t, "someone-else")
		c := mqttTestConfig(t, b.URL(), "")
		c.MQTT.TLS.CA = other.CertPEM
		r := startMQTT(t, c, nil)
		require.Eventually(t, func() bool { return r.Status().LastError != "" }, wait, 20*time.Millisecond)
		st := r.Status()
		assert.False(t, st.Connected)
		assert.Contains(t, st.LastError, "not signed by the CA in mqtt.tls.ca")
		assert.Contains(t, st.LastError, other.CertPEM)
		t.Logf("wrong CA: %s", st.LastError)
		r.stop()
	})
	t.Run("bad CA file", func(t *testing.T) {
		c := mqttTestConfig(t, b.URL(), "")
		c.MQTT.TLS.CA = filepath.Join(t.TempDir(), "missing.pem")
		q, err := mqttq.Open(c.MQTT.Queue.Dir, 10, nil)
		require.NoError(t, err)
		defer q.Close()
		_, err = NewMQTT(MQTTOptions{Config: c, Queue: q})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "mqtt.tls.ca")
		notPEM := filepath.Join(t.TempDir(), "ca.pem")
		require.NoError(t, os.WriteFile(notPEM, []byte("hello"), 0o600))
		c.MQTT.TLS.CA = notPEM
		_, err = NewMQTT(MQTTOptions{Config: c, Queue: q})
		assert.ErrorContains(t, err, "no PEM certificate")
	})
}

func TestMQTTUsernamePassword(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.WithPasswords(map[string]string{"vigil": "s3cret-pass"}))
	t.Run("right", func(t *testing.T) {
		c := mqttTestConfig(t, b.URL(), "")
		c.MQTT.Username, c.MQTT.Password = "vigil", "s3cret-pass"
		r := startMQTT(t, c, nil)
		require.NoError(t, r.PublishEvent(testEvent(1)))
		require.Eventually(t, func() bool { return r.Status().Connected && r.q.Len() == 0 }, wait, 20*time.Millisecond)
		r.stop()
	})
	for name, tc := range map[string]struct{ user, pass, want string }{
		"wrong password": {"vigil", "guess", "not authorised"}, // mosquitto 2 answers 5, not 4
		"anonymous":      {"", "", "not authorised"},
	} {
		t.Run(name, func(t *testing.T) {
			c := mqttTestConfig(t, b.URL(), "")
			c.MQTT.Username, c.MQTT.Password = tc.user, tc.pass
			r := startMQTT(t, c, nil)
			require.Eventually(t, func() bool { return r.Status().LastError != "" }, wait, 20*time.Millisecond)
			st := r.Status()
			assert.False(t, st.Connected)
			assert.Contains(t, st.LastError, tc.want)
			t.Logf("%s: %s", name, st.LastError)
			r.stop()
		})
	}
}

func TestMQTTHomeAssistantDiscovery(t *testing.T) {
	b := mosquittotest.Start(t)
	sub := subscribe(t, b.URL(), nil, "", "homeassistant/#")
	c := mqttTestConfig(t, b.URL(), "")
	r := startMQTT(t, c, nil)
	want := r.Discovery()
	require.Len(t, want, 4, "binary sensor and sensor for each of two cameras")
	sub.waitFor(t, "discovery", func(m []paho.Message) bool {
		for topic := range want {
			if len(onTopic(m, topic)) == 0 {
				return false
			}
		}
		return true
	})
	msgs := sub.waitFor(t, "", func([]paho.Message) bool { return true })
	var cfg map[string]any
	on := onTopic(msgs, "homeassistant/binary_sensor/vigil_dev1_door_face/config")
	require.NoError(t, json.Unmarshal(on[0].Payload(), &cfg))
	assert.Equal(t, "vigil/dev1/door/present", cfg["state_topic"])
	assert.Equal(t, "vigil/dev1/available", cfg["availability_topic"])
	before := len(on)
	late := subscribe(t, b.URL(), nil, "", "homeassistant/sensor/+/config")
	// A subscriber that arrives later gets every sensor config as a retained message. Only
	// retained copies count: a republication that races the subscription may add live ones.
	late.waitFor(t, "retained sensor config", func(m []paho.Message) bool {
		for topic := range want {
			if !strings.HasPrefix(topic, "homeassistant/sensor/") {
				continue
			}
			retained := false
			for _, x := range onTopic(m, topic) {
				retained = retained || x.Retained()
			}
			if !retained {
				return false
			}
		}
		return true
	})

	// Home Assistant restarted: it says online and vigil publishes the configs again.
	pub := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID("ha"))
	require.True(t, pub.Connect().WaitTimeout(wait))
	defer pub.Disconnect(100)
	require.True(t, pub.Publish("homeassistant/status", 1, false, "online").WaitTimeout(wait))
	sub.waitFor(t, "discovery again", func(m []paho.Message) bool {
		return len(onTopic(m, "homeassistant/binary_sensor/vigil_dev1_door_face/config")) > before
	})
}

// recordingCommander is the command side of a pipeline reduced to a log of calls.
type recordingCommander struct {
	mu    sync.Mutex
	calls []string
}

func (c *recordingCommander) record(s string) {
	c.mu.Lock()
	c.calls = append(c.calls, s)
	c.mu.Unlock()
}
func (c *recordingCommander) Enrol(_ context.Context, name string, j []byte) error {
	c.record(fmt.Sprintf("enrol %s %d", name, len(j)))
	return nil
}
func (c *recordingCommander) Remove(_ context.Context, name string) error {
	c.record("remove " + name)
	if name == "nobody" {
		return fmt.Errorf("no identity %q in the gallery", name)
	}
	return nil
}
func (c *recordingCommander) SetCameraEnabled(_ context.Context, cam string, on bool) error {
	c.record(fmt.Sprintf("camera %s %v", cam, on))
	return nil
}

var _ Commander = (*recordingCommander)(nil)

func smallJPEG(t testing.TB, w, h int) []byte {
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, image.NewRGBA(image.Rect(0, 0, w, h)), nil))
	return buf.Bytes()
}

func TestMQTTCommandsGarbage(t *testing.T) {
	b := mosquittotest.Start(t)
	sub := subscribe(t, b.URL(), nil, "", "vigil/dev1/reply")
	c := mqttTestConfig(t, b.URL(), "commands: {enabled: true, max_payload: 100000}\n")
	cmd := &recordingCommander{}
	r := startMQTT(t, c, cmd)
	require.Eventually(t, func() bool { return r.Status().Connected }, wait, 20*time.Millisecond)
	pub := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID("attacker"))
	require.True(t, pub.Connect().WaitTimeout(wait))
	defer pub.Disconnect(100)

	hugeHeader := smallJPEG(t, 16, 16)
	// Patch the SOF0 frame size to 20000x20000 so only the header claims a huge image.
	if i := bytes.Index(hugeHeader, []byte{0xFF, 0xC0}); i >= 0 {
		hugeHeader[i+5], hugeHeader[i+6], hugeHeader[i+7], hugeHeader[i+8] = 0x4E, 0x20, 0x4E, 0x20
	}
	cases := []struct {
		topic   string
		payload []byte
		ok      bool
		errPart string
	}{
		{"vigil/dev1/cmd/enrol/alice", smallJPEG(t, 64, 64), true, ""},
		{"vigil/dev1/cmd/enrol/bob", []byte("not a jpeg"), false, "not a JPEG"},
		{"vigil/dev1/cmd/enrol/bob", []byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 0}, false, "not a readable JPEG"},
		{"vigil/dev1/cmd/enrol/bob", hugeHeader, false, "20000x20000"},
		{"vigil/dev1/cmd/enrol/bob", make([]byte, 100001), false, "exceeds commands.max_payload"},
		{"vigil/dev1/cmd/enrol/bob", nil, false, "not a JPEG"},
		{"vigil/dev1/cmd/enrol/" + strings.Repeat("n", 10*1024), smallJPEG(t, 64, 64), false, "at most 64"},
		{"vigil/dev1/cmd/enrol/..", smallJPEG(t, 64, 64), false, "may hold only"},
		{"vigil/dev1/cmd/enrol/a b", smallJPEG(t, 64, 64), false, "may hold only"},
		{"vigil/dev1/cmd/enrol/ålice", smallJPEG(t, 64, 64), false, "may hold only"},
		{"vigil/dev1/cmd/enrol/bob/extra", smallJPEG(t, 64, 64), false, "want vigil/dev1/cmd/"},
		{"vigil/dev1/cmd/enrol", smallJPEG(t, 64, 64), false, "want vigil/dev1/cmd/"},
		{"vigil/dev1/cmd/enrol/", nil, false, "must not be empty"},
		{"vigil/dev1/cmd/remove/alice", nil, true, ""},
		{"vigil/dev1/cmd/remove/nobody", nil, false, "no identity"},
		{"vigil/dev1/cmd/camera/door", []byte("disable"), true, ""},
		{"vigil/dev1/cmd/camera/door", []byte(" enable\n"), true, ""},
		{"vigil/dev1/cmd/camera/door", []byte("explode"), false, "enable or disable"},
		{"vigil/dev1/cmd/camera/attic", []byte("enable"), false, "no camera"},
		{"vigil/dev1/cmd/selfdestruct/now", []byte("\x00\xff\xfe"), false, "unknown command"},
		// Topics that are not valid UTF-8 or hold NUL are refused by the broker itself
		// (it drops the publisher); FuzzMQTTCommand covers them against the handler.
	}
	for _, tc := range cases {
		tok := pub.Publish(tc.topic, 1, false, tc.payload)
		require.True(t, tok.WaitTimeout(wait))
		require.NoError(t, tok.Error(), tc.topic)
		msgs := sub.waitFor(t, "reply to "+truncate(tc.topic, 60), func(m []paho.Message) bool { return len(m) > 0 })
		sub.mu.Lock()
		sub.msgs = nil
		sub.mu.Unlock()
		require.Len(t, msgs, 1)
		var rep CommandReply
		require.NoError(t, json.Unmarshal(msgs[0].Payload(), &rep))
		assert.Equal(t, tc.ok, rep.OK, "%s: %+v", truncate(tc.topic, 60), rep)
		assert.Contains(t, rep.Error, tc.errPart, truncate(tc.topic, 60))
	}
	assert.Equal(t, []string{"enrol alice 631", "remove alice", "remove nobody", "camera door false", "camera door true"},
		fixJPEGLen(cmd.calls, len(smallJPEG(t, 64, 64))))
	assert.True(t, r.Status().Connected, "garbage never breaks the client")
}

func fixJPEGLen(calls []string, n int) []string {
	out := append([]string(nil), calls...)
	for i, c := range out {
		if c == fmt.Sprintf("enrol alice %d", n) {
			out[i] = "enrol alice 631"
		}
	}
	return out
}

func TestMQTTCommandsOffByDefault(t *testing.T) {
	b := mosquittotest.Start(t)
	sub := subscribe(t, b.URL(), nil, "", "vigil/dev1/reply")
	c := mqttTestConfig(t, b.URL(), "")
	cmd := &recordingCommander{}
	r := startMQTT(t, c, cmd)
	require.Eventually(t, func() bool { return r.Status().Connected }, wait, 20*time.Millisecond)
	pub := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID("x"))
	require.True(t, pub.Connect().WaitTimeout(wait))
	defer pub.Disconnect(100)
	require.True(t, pub.Publish("vigil/dev1/cmd/remove/alice", 1, false, "").WaitTimeout(wait))
	// Then an event, which is delivered after the command would have been: ordering on one
	// connection shows the command was ignored rather than slow.
	evsub := subscribe(t, b.URL(), nil, "", "vigil/dev1/events")
	require.NoError(t, r.PublishEvent(testEvent(1)))
	evsub.waitFor(t, "event", func(m []paho.Message) bool { return len(m) == 1 })
	assert.Empty(t, cmd.calls)
	sub.mu.Lock()
	assert.Empty(t, sub.msgs)
	sub.mu.Unlock()
}

func FuzzMQTTCommand(f *testing.F) {
	f.Add("vigil/dev1/cmd/enrol/alice", []byte{0xFF, 0xD8, 0xFF, 0xDB})
	f.Add("vigil/dev1/cmd/camera/door", []byte("enable"))
	f.Add("vigil/dev1/cmd/remove/", []byte{})
	c := mqttTestConfig(f, "tcp://127.0.0.1:1", "commands: {enabled: true, max_payload: 4096}\n")
	q, err := mqttq.Open(c.MQTT.Queue.Dir, 10, nil)
	require.NoError(f, err)
	defer q.Close()
	m, err := NewMQTT(MQTTOptions{Config: c, Queue: q, Commands: &recordingCommander{}})
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		r := m.handleCommand(context.Background(), topic, payload)
		if r.OK {
			require.NoError(t, ValidName(r.Target))
			require.LessOrEqual(t, len(payload), 4096)
		} else {
			require.NotEmpty(t, r.Error)
		}
	})
}
