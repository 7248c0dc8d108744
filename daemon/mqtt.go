package daemon

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"image/jpeg"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/vigil-edge/vigil/daemon/mqttq"
	"github.com/vigil-edge/vigil/face"
)

// Commander carries out MQTT commands; the pipeline implements it. Methods may take time
// (enrolment runs the models); they are called from one worker goroutine, never from the
// MQTT client's handlers. Names were validated with ValidName and cameras exist.
type Commander interface {
	// Enrol adds a face from a JPEG (at most commands.max_payload bytes, at most
	// MaxEnrolSide pixels a side) under name.
	Enrol(ctx context.Context, name string, jpeg []byte) error
	// Remove deletes an identity; removing an unknown name is an error.
	Remove(ctx context.Context, name string) error
	// SetCameraEnabled starts or stops processing a camera.
	SetCameraEnabled(ctx context.Context, camera string, enabled bool) error
}

// MaxEnrolSide bounds an enrolment JPEG's width and height, checked from its header before
// anything decodes the pixels.
const MaxEnrolSide = 4096

// MQTTOptions configures NewMQTT.
type MQTTOptions struct {
	Config   *Config
	Queue    *mqttq.Queue
	Commands Commander // nil: every command is answered with an error
	Metrics  *Metrics  // nil: none
	Log      *slog.Logger
	// Stats returns the JSON-able value for <prefix>/<device>/stats; nil publishes none.
	Stats func() any
	// AckTimeout is how long to wait for the broker's PUBACK before sending an event again
	// (default 30s).
	AckTimeout time.Duration
	// RetryInterval is the pause between connection attempts (default 2s, doubling to 1 min).
	RetryInterval time.Duration
}

// MQTTStatus is the connection state for /healthz.
type MQTTStatus struct {
	Connected bool   `json:"connected"`
	Broker    string `json:"broker"`
	Queue     int    `json:"queue"`
	Dropped   uint64 `json:"dropped"`
	LastError string `json:"last_error,omitempty"`
}

// MQTT publishes events from the on-disk queue, availability, retained per-camera state,
// stats and Home Assistant discovery, and receives commands.
type MQTT struct {
	o       MQTTOptions
	cfg     *Config
	log     *slog.Logger
	base    string // <prefix>/<device>
	tlsConf *tls.Config
	client  paho.Client

	connected atomic.Bool
	lastErr   atomic.Pointer[string]

	connCh   chan struct{} // deliverer: (re)connected
	stateCh  chan struct{} // state loop: retained state changed
	republCh chan struct{} // state loop: publish everything (connect, HA online)
	cmdCh    chan paho.Message

	mu    sync.Mutex
	state map[string]string // retained topic -> payload, re-published on every connect
	dirty map[string]bool
	drops uint64
}

// NewMQTT checks the TLS files and prepares the client; Run connects.
func NewMQTT(o MQTTOptions) (*MQTT, error) {
	if o.Config == nil || o.Queue == nil {
		return nil, errors.New("mqtt: Config and Queue are required")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.AckTimeout <= 0 {
		o.AckTimeout = 30 * time.Second
	}
	if o.RetryInterval <= 0 {
		o.RetryInterval = 2 * time.Second
	}
	c := o.Config
	m := &MQTT{
		o: o, cfg: c, log: o.Log.With("component", "mqtt"),
		base:     c.MQTT.Prefix + "/" + c.Device,
		connCh:   make(chan struct{}, 1),
		stateCh:  make(chan struct{}, 1),
		republCh: make(chan struct{}, 1),
		cmdCh:    make(chan paho.Message, 8),
		state:    map[string]string{},
		dirty:    map[string]bool{},
	}
	u, err := url.Parse(c.MQTT.Broker)
	if err != nil {
		return nil, fmt.Errorf("mqtt.broker %q: %w", c.MQTT.Broker, err)
	}
	if u.Scheme == "ssl" || u.Scheme == "tls" || u.Scheme == "mqtts" {
		m.tlsConf, err = loadTLS(c.MQTT.TLS, u.Hostname())
		if err != nil {
			return nil, err
		}
	}
	for _, cam := range c.Cameras {
		m.state[m.base+"/"+cam.Name+"/present"] = "OFF"
	}
	return m, nil
}

func loadTLS(t TLSConfig, host string) (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
	if t.CA != "" {
		pemData, err := os.ReadFile(t.CA)
		if err != nil {
			return nil, fmt.Errorf("mqtt.tls.ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemData) {
			return nil, fmt.Errorf("mqtt.tls.ca %q: no PEM certificate in the file", t.CA)
		}
		conf.RootCAs = pool
	}
	if t.Cert != "" {
		cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("mqtt.tls.cert/key %q, %q: %w", t.Cert, t.Key, err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	return conf, nil
}

// Topic returns <prefix>/<device>/<suffix>.
func (m *MQTT) Topic(suffix string) string { return m.base + "/" + suffix }

// Status reports the connection for /healthz.
func (m *MQTT) Status() MQTTStatus {
	s := MQTTStatus{
		Connected: m.connected.Load(),
		Broker:    m.cfg.MQTT.Broker,
		Queue:     m.o.Queue.Len(),
		Dropped:   m.o.Queue.Dropped(),
	}
	if e := m.lastErr.Load(); e != nil && !s.Connected {
		s.LastError = *e
	}
	return s
}

func (m *MQTT) setErr(err error) {
	msg := err.Error()
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	var cie x509.CertificateInvalidError
	switch {
	case errors.As(err, &uae):
		msg = fmt.Sprintf("TLS: the broker's certificate is not signed by the CA in mqtt.tls.ca (%q): %v", m.cfg.MQTT.TLS.CA, err)
	case errors.As(err, &hne):
		msg = fmt.Sprintf("TLS: the broker's certificate does not name the host in mqtt.broker: %v", err)
	case errors.As(err, &cie):
		msg = fmt.Sprintf("TLS: the broker's certificate is invalid: %v", err)
	}
	if old := m.lastErr.Swap(&msg); old == nil || *old != msg {
		m.log.Warn("mqtt: cannot connect to the broker; retrying", "broker", m.cfg.MQTT.Broker, "err", msg)
	}
}

// dial opens the network connection for paho, so connection errors (above all TLS ones) are
// recorded and reported instead of retried silently.
func (m *MQTT) dial(u *url.URL, o paho.ClientOptions) (net.Conn, error) {
	host := u.Host
	if u.Port() == "" {
		port := "1883"
		if m.tlsConf != nil {
			port = "8883"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	d := &net.Dialer{Timeout: 10 * time.Second}
	var conn net.Conn
	var err error
	if m.tlsConf != nil {
		conn, err = tls.DialWithDialer(d, "tcp", host, m.tlsConf)
	} else {
		conn, err = d.Dial("tcp", host)
	}
	if err != nil {
		m.setErr(err)
		return nil, err
	}
	return &connackConn{Conn: conn, m: m}, nil
}

// connackConn watches the first bytes the broker sends: a CONNACK that refuses the
// connection (bad credentials, not authorised) is recorded for /healthz and the log, which
// paho's retry loop would otherwise keep to itself.
type connackConn struct {
	net.Conn
	m    *MQTT
	head []byte
	done bool
}

var connackReasons = map[byte]string{
	1: "unacceptable protocol version",
	2: "client identifier rejected (device name)",
	3: "server unavailable",
	4: "bad user name or password (check mqtt.username and mqtt.password)",
	5: "not authorised (wrong or missing mqtt.username/mqtt.password, or no ACL allows this client)",
}

func (c *connackConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if !c.done && n > 0 {
		c.head = append(c.head, p[:min(n, 4-len(c.head))]...)
		if len(c.head) == 4 {
			c.done = true
			if c.head[0]>>4 == 2 && c.head[3] != 0 {
				reason, ok := connackReasons[c.head[3]]
				if !ok {
					reason = fmt.Sprintf("return code %d", c.head[3])
				}
				c.m.setErr(fmt.Errorf("the broker refused the connection: %s", reason))
			}
		}
	}
	return n, err
}

// Run connects (retrying until ctx ends), delivers queued events in order, keeps retained
// state, stats and discovery published and serves commands. On return it has published
// availability "offline" (when connected) and disconnected; queued events stay on disk.
func (m *MQTT) Run(ctx context.Context) error {
	c := m.cfg
	opts := paho.NewClientOptions().
		AddBroker(c.MQTT.Broker).
		SetClientID(c.Device).
		SetCleanSession(true).
		SetOrderMatters(true).
		SetKeepAlive(c.MQTT.KeepAlive.D()).
		SetConnectRetry(true).
		SetConnectRetryInterval(m.o.RetryInterval).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(max(m.o.RetryInterval, time.Minute)).
		SetConnectTimeout(10*time.Second).
		SetWriteTimeout(10*time.Second).
		SetWill(m.Topic("available"), "offline", 1, true).
		SetCustomOpenConnectionFn(m.dial).
		SetOnConnectHandler(m.onConnect).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			m.connected.Store(false)
			m.gauge(0)
			m.setErr(fmt.Errorf("connection lost: %w", err))
		})
	if c.MQTT.Username != "" {
		opts.SetUsername(c.MQTT.Username).SetPassword(c.MQTT.Password)
	}
	if m.tlsConf != nil {
		opts.SetTLSConfig(m.tlsConf)
	}
	m.client = paho.NewClient(opts)
	m.log.Info("mqtt: connecting", "broker", c.MQTT.Broker, "client_id", c.Device)
	m.client.Connect() // completes in the background thanks to ConnectRetry

	var loops sync.WaitGroup
	loops.Add(2)
	go func() { defer loops.Done(); m.deliver(ctx) }()
	go func() { defer loops.Done(); m.commands(ctx) }()
	m.stateLoop(ctx)
	loops.Wait()

	if m.client.IsConnectionOpen() {
		t := m.client.Publish(m.Topic("available"), 1, true, "offline")
		t.WaitTimeout(2 * time.Second)
	}
	m.client.Disconnect(250)
	m.connected.Store(false)
	m.gauge(0)
	return nil
}

func (m *MQTT) gauge(v float64) {
	if m.o.Metrics != nil {
		m.o.Metrics.MQTTConnected.Set(v)
	}
}

// onConnect runs on paho's goroutine: subscribe and signal, never wait.
func (m *MQTT) onConnect(cl paho.Client) {
	m.connected.Store(true)
	m.gauge(1)
	m.log.Info("mqtt: connected", "broker", m.cfg.MQTT.Broker)
	cl.Publish(m.Topic("available"), 1, true, "online")
	if m.cfg.MQTT.Discovery {
		cl.Subscribe(m.cfg.MQTT.DiscoveryPrefix+"/status", 1, func(_ paho.Client, msg paho.Message) {
			if strings.TrimSpace(string(msg.Payload())) == "online" {
				signal(m.republCh)
			}
		})
	}
	if m.cfg.Commands.Enabled {
		cl.Subscribe(m.Topic("cmd/#"), 1, func(_ paho.Client, msg paho.Message) {
			select {
			case m.cmdCh <- msg:
			default:
				m.log.Warn("mqtt: command dropped: too many commands waiting", "topic", truncate(msg.Topic(), 200))
				m.count("unknown", "busy")
			}
		})
	}
	signal(m.connCh)
	signal(m.republCh)
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// PublishEvent queues ev for delivery. It fails only when the queue refuses the event (full,
// or the disk failed); the drop is counted and logged.
func (m *MQTT) PublishEvent(ev Event) error {
	if m.o.Metrics != nil {
		m.o.Metrics.Events.Inc()
	}
	_, err := m.o.Queue.AppendFunc(func(seq uint64) ([]byte, error) {
		ev.Seq = seq
		return json.Marshal(ev)
	})
	if err != nil {
		if m.o.Metrics != nil {
			m.o.Metrics.EventsDropped.Inc()
		}
		m.mu.Lock()
		m.drops++
		n := m.drops
		m.mu.Unlock()
		// Log the first drop and then every 100th, so a long outage cannot flood the journal.
		if n == 1 || n%100 == 0 {
			m.log.Error("mqtt: event dropped", "dropped_total", n, "queue_length", m.o.Queue.Len(),
				"max_events", m.cfg.MQTT.Queue.MaxEvents, "err", err)
		}
		return fmt.Errorf("event %s track %d on %q: %w", ev.Type, ev.ID, ev.Camera, err)
	}
	return nil
}

// deliver sends the queue's head, waits for the PUBACK, removes it, and repeats: strictly in
// order, at least once.
func (m *MQTT) deliver(ctx context.Context) {
	topic := m.Topic("events")
	for {
		if !m.client.IsConnectionOpen() {
			select {
			case <-ctx.Done():
				return
			case <-m.connCh:
			}
			continue
		}
		rec, ok, err := m.o.Queue.Peek()
		if err != nil {
			m.log.Error("mqtt: read event queue", "err", err)
			if !sleepCtx(ctx, m.o.RetryInterval) {
				return
			}
			continue
		}
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-m.o.Queue.Ready():
			case <-m.connCh:
			}
			continue
		}
		tok := m.client.Publish(topic, 1, false, rec.Payload)
		timer := time.NewTimer(m.o.AckTimeout)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-tok.Done():
			timer.Stop()
			if err := tok.Error(); err != nil {
				m.log.Debug("mqtt: publish failed; will resend", "seq", rec.Seq, "err", err)
				select {
				case <-ctx.Done():
					return
				case <-m.connCh:
				case <-time.After(m.o.RetryInterval):
				}
				continue
			}
		case <-timer.C:
			m.log.Warn("mqtt: no acknowledgement from the broker; sending the event again", "seq", rec.Seq, "timeout", m.o.AckTimeout)
			continue
		}
		if err := m.o.Queue.Ack(rec.Seq); err != nil {
			m.log.Error("mqtt: remove delivered event from the queue", "seq", rec.Seq, "err", err)
			if !sleepCtx(ctx, m.o.RetryInterval) {
				return
			}
			continue
		}
		if m.o.Metrics != nil {
			m.o.Metrics.EventsPublished.Inc()
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// SetPresence records the faces in view on a camera: the retained count per identity on
// <base>/<camera>/face/<name>, <base>/<camera>/present (ON/OFF) and, when last is not "",
// <base>/<camera>/last_name. Identities missing from counts are set to 0. Safe to call
// from any goroutine; publishing happens in the background and again after every reconnect.
func (m *MQTT) SetPresence(camera string, counts map[string]int, last string) {
	m.mu.Lock()
	prefix := m.base + "/" + camera + "/face/"
	for topic := range m.state {
		if strings.HasPrefix(topic, prefix) {
			if _, ok := counts[strings.TrimPrefix(topic, prefix)]; !ok {
				m.setLocked(topic, "0")
			}
		}
	}
	total := 0
	for name, n := range counts {
		if ValidName(name) != nil {
			continue // never let a name become a wildcard or an extra topic level
		}
		m.setLocked(prefix+name, strconv.Itoa(n))
		total += n
	}
	present := "OFF"
	if total > 0 {
		present = "ON"
	}
	m.setLocked(m.base+"/"+camera+"/present", present)
	if last != "" {
		m.setLocked(m.base+"/"+camera+"/last_name", last)
	}
	m.mu.Unlock()
	signal(m.stateCh)
}

func (m *MQTT) setLocked(topic, payload string) {
	if old, ok := m.state[topic]; ok && old == payload {
		return
	}
	m.state[topic] = payload
	m.dirty[topic] = true
}

// PublishSnapshot sends a JPEG on <base>/<camera>/snapshot when mqtt.snapshots is on (QoS 0,
// not queued: a late picture is worth nothing).
func (m *MQTT) PublishSnapshot(camera string, jpegData []byte) {
	if !m.cfg.MQTT.Snapshots || m.client == nil || !m.client.IsConnectionOpen() {
		return
	}
	m.client.Publish(m.base+"/"+camera+"/snapshot", 0, false, jpegData)
}

// stateLoop publishes retained state, discovery and stats until ctx ends.
func (m *MQTT) stateLoop(ctx context.Context) {
	var tick <-chan time.Time
	if iv := m.cfg.MQTT.StatsInterval.D(); iv > 0 && m.o.Stats != nil {
		t := time.NewTicker(iv)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.republCh:
			if !m.client.IsConnectionOpen() {
				continue
			}
			m.publishDiscovery()
			m.mu.Lock()
			for topic := range m.state {
				m.dirty[topic] = true
			}
			m.mu.Unlock()
			m.flushState()
			m.publishStats()
		case <-m.stateCh:
			m.flushState()
		case <-tick:
			m.publishStats()
		}
	}
}

func (m *MQTT) flushState() {
	if !m.client.IsConnectionOpen() {
		return // everything is re-published on connect
	}
	m.mu.Lock()
	batch := make(map[string]string, len(m.dirty))
	for topic := range m.dirty {
		batch[topic] = m.state[topic]
	}
	clear(m.dirty)
	m.mu.Unlock()
	for topic, payload := range batch {
		m.client.Publish(topic, 1, true, payload)
	}
}

func (m *MQTT) publishStats() {
	if m.o.Stats == nil || !m.client.IsConnectionOpen() {
		return
	}
	b, err := json.Marshal(m.o.Stats())
	if err != nil {
		m.log.Error("mqtt: encode stats", "err", err)
		return
	}
	m.client.Publish(m.Topic("stats"), 0, false, b)
}

// Discovery returns the Home Assistant discovery topics and payloads: per camera a binary
// sensor "face present" and a sensor "last recognised name".
func (m *MQTT) Discovery() map[string][]byte {
	c := m.cfg
	dev := map[string]any{
		"identifiers":  []string{"vigil_" + c.Device},
		"name":         "vigil " + c.Device,
		"manufacturer": "vigil",
		"model":        "vigil edge face recognition",
	}
	out := map[string][]byte{}
	for _, cam := range c.Cameras {
		id := "vigil_" + c.Device + "_" + cam.Name
		bin, _ := json.Marshal(map[string]any{
			"name":                  cam.Name + " face present",
			"unique_id":             id + "_face",
			"object_id":             id + "_face",
			"state_topic":           m.base + "/" + cam.Name + "/present",
			"payload_on":            "ON",
			"payload_off":           "OFF",
			"device_class":          "occupancy",
			"availability_topic":    m.Topic("available"),
			"payload_available":     "online",
			"payload_not_available": "offline",
			"device":                dev,
		})
		out[c.MQTT.DiscoveryPrefix+"/binary_sensor/"+id+"_face/config"] = bin
		sen, _ := json.Marshal(map[string]any{
			"name":                  cam.Name + " last face",
			"unique_id":             id + "_last_name",
			"object_id":             id + "_last_name",
			"state_topic":           m.base + "/" + cam.Name + "/last_name",
			"icon":                  "mdi:face-recognition",
			"availability_topic":    m.Topic("available"),
			"payload_available":     "online",
			"payload_not_available": "offline",
			"device":                dev,
		})
		out[c.MQTT.DiscoveryPrefix+"/sensor/"+id+"_last_name/config"] = sen
	}
	return out
}

func (m *MQTT) publishDiscovery() {
	if !m.cfg.MQTT.Discovery {
		return
	}
	for topic, payload := range m.Discovery() {
		m.client.Publish(topic, 1, true, payload)
	}
}

// CommandReply is published on <base>/reply for every command.
type CommandReply struct {
	Command string `json:"command"`
	Target  string `json:"target,omitempty"`
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty"`
}

// commands runs the command worker: one command at a time, off paho's goroutines.
func (m *MQTT) commands(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case msg := <-m.cmdCh:
			r := m.handleCommand(ctx, msg.Topic(), msg.Payload())
			res := "ok"
			if !r.OK {
				res = "error"
				m.log.Warn("mqtt: command rejected", "command", r.Command, "target", r.Target, "err", r.Error)
			} else {
				m.log.Info("mqtt: command done", "command", r.Command, "target", r.Target)
			}
			m.count(r.Command, res)
			b, _ := json.Marshal(r)
			if m.client.IsConnectionOpen() {
				m.client.Publish(m.Topic("reply"), 1, false, b)
			}
		}
	}
}

func (m *MQTT) count(cmd, res string) {
	if m.o.Metrics != nil {
		switch cmd {
		case "enrol", "remove", "camera":
		default:
			cmd = "unknown"
		}
		m.o.Metrics.CommandsTotal.WithLabelValues(cmd, res).Inc()
	}
}

// handleCommand validates and executes one command. It never panics on any input.
func (m *MQTT) handleCommand(ctx context.Context, topic string, payload []byte) (r CommandReply) {
	defer func() {
		if p := recover(); p != nil {
			m.log.Error("mqtt: command handler panicked", "panic", p)
			r = CommandReply{Command: r.Command, Target: r.Target, Error: "internal error"}
		}
	}()
	rest, ok := strings.CutPrefix(topic, m.Topic("cmd/"))
	if !ok {
		return CommandReply{Command: "unknown", Error: "not a command topic"}
	}
	parts := strings.Split(rest, "/")
	r.Command = parts[0]
	if r.Command != "enrol" && r.Command != "remove" && r.Command != "camera" {
		r.Command = "unknown"
	}
	if len(parts) != 2 {
		r.Error = "want " + m.Topic("cmd/") + "{enrol/NAME, remove/NAME, camera/CAMERA}"
		return r
	}
	target := parts[1]
	check := ValidName // a camera name
	if r.Command == "enrol" || r.Command == "remove" {
		check = face.ValidateName // an identity: the gallery's own rule, so both agree
	}
	if err := check(target); err != nil {
		r.Error = "name " + err.Error()
		return r
	}
	r.Target = target
	if len(payload) > m.cfg.Commands.MaxPayload {
		r.Error = fmt.Sprintf("payload of %d bytes exceeds commands.max_payload (%d)", len(payload), m.cfg.Commands.MaxPayload)
		return r
	}
	if m.o.Commands == nil {
		r.Error = "commands are not available while the pipeline is not running"
		return r
	}
	var err error
	switch parts[0] {
	case "enrol":
		if err = checkJPEG(payload); err == nil {
			err = m.o.Commands.Enrol(ctx, target, payload)
		}
	case "remove":
		err = m.o.Commands.Remove(ctx, target)
	case "camera":
		known := false
		for _, c := range m.cfg.Cameras {
			known = known || c.Name == target
		}
		switch p := strings.TrimSpace(string(payload)); {
		case !known:
			err = fmt.Errorf("no camera named %q", target)
		case p == "enable" || p == "disable":
			err = m.o.Commands.SetCameraEnabled(ctx, target, p == "enable")
		default:
			err = fmt.Errorf("payload must be enable or disable, got %q", truncate(p, 32))
		}
	default:
		err = fmt.Errorf("unknown command %q; want enrol, remove or camera", truncate(parts[0], 32))
	}
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.OK = true
	return r
}

// checkJPEG reads only the header: a JPEG of sane size, before any pixel is decoded.
func checkJPEG(b []byte) error {
	if len(b) < 4 || !bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}) {
		return errors.New("payload is not a JPEG (want the raw bytes of a .jpg file)")
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("payload is not a readable JPEG: %w", err)
	}
	if cfg.Width < 16 || cfg.Height < 16 || cfg.Width > MaxEnrolSide || cfg.Height > MaxEnrolSide {
		return fmt.Errorf("JPEG is %dx%d; want 16..%d pixels a side", cfg.Width, cfg.Height, MaxEnrolSide)
	}
	return nil
}
