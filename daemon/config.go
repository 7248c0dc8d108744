package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/vigil-edge/vigil/face"
)

// MaxConfigSize bounds the configuration file; anything larger is rejected before parsing.
const MaxConfigSize = 1 << 20

// Config is the whole vigil daemon configuration, one YAML file. Load validates all of it
// before anything touches hardware or the network.
type Config struct {
	// Device names this vigil instance: MQTT client id and topic segment.
	Device     string         `yaml:"device"`
	MQTT       MQTTConfig     `yaml:"mqtt"`
	Gallery    string         `yaml:"gallery"`
	HTTP       HTTPConfig     `yaml:"http"`
	Cameras    []CameraConfig `yaml:"cameras"`
	Detector   DetectorConfig `yaml:"detector"`
	Thresholds Thresholds     `yaml:"thresholds"`
	Commands   CommandsConfig `yaml:"commands"`
	GPIO       GPIOConfig     `yaml:"gpio"`
	Log        LogConfig      `yaml:"log"`

	// File is the path the configuration was read from ("" when parsed from bytes).
	File string `yaml:"-"`
	// lines maps a key path ("cameras[0].fps") to its line, for errors found after decoding.
	lines map[string]int
}

// MQTTConfig is the broker connection and topic layout.
type MQTTConfig struct {
	// Broker is a URL: tcp://host:1883, ssl://host:8883 (also tls://, mqtts://).
	Broker   string      `yaml:"broker"`
	Prefix   string      `yaml:"prefix"`
	Username string      `yaml:"username"`
	Password string      `yaml:"password"`
	TLS      TLSConfig   `yaml:"tls"`
	Queue    QueueConfig `yaml:"queue"`
	// KeepAlive is the MQTT keep-alive interval.
	KeepAlive Duration `yaml:"keepalive"`
	// StatsInterval is how often vigil/<device>/stats is published; 0 disables.
	StatsInterval Duration `yaml:"stats_interval"`
	// Discovery enables Home Assistant MQTT discovery under DiscoveryPrefix.
	Discovery       bool   `yaml:"discovery"`
	DiscoveryPrefix string `yaml:"discovery_prefix"`
	// Snapshots publishes a JPEG on vigil/<device>/<camera>/snapshot; face data leaves the device.
	Snapshots bool `yaml:"snapshots"`
}

// TLSConfig holds PEM file paths. CA alone verifies the broker; Cert and Key add a client certificate.
type TLSConfig struct {
	CA   string `yaml:"ca"`
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// QueueConfig is the on-disk event queue used while the broker is unreachable.
type QueueConfig struct {
	Dir       string `yaml:"dir"`
	MaxEvents int    `yaml:"max_events"`
}

// HTTPConfig is the health, metrics and preview server.
type HTTPConfig struct {
	// Listen is host:port; "" disables the server. Non-loopback addresses need Token.
	Listen string `yaml:"listen"`
	Token  string `yaml:"token"`
}

// CameraConfig is one video source.
type CameraConfig struct {
	Name string `yaml:"name"`
	// Source is a V4L2 device (/dev/video0 or an index), a video file, a stream URL or a folder of images.
	Source string `yaml:"source"`
	// Width, Height and FPS request a capture format; 0 keeps the source's own.
	Width  int     `yaml:"width"`
	Height int     `yaml:"height"`
	FPS    float64 `yaml:"fps"`
	// Loop restarts a file or folder at its end instead of ending the stream.
	Loop   bool         `yaml:"loop"`
	Motion MotionConfig `yaml:"motion"`
	// EveryN runs detection on every Nth frame even without motion; 0 never forces it.
	EveryN int `yaml:"every_n"`
	// Disabled cameras are validated but not opened.
	Disabled bool `yaml:"disabled"`
}

// MotionConfig is the frame-differencing motion gate.
type MotionConfig struct {
	Enabled bool `yaml:"enabled"`
	// Threshold is the per-pixel grey difference (1..255) that counts as change.
	Threshold int `yaml:"threshold"`
	// MinArea is the fraction of the frame (0..1] that must change.
	MinArea float64 `yaml:"min_area"`
	// Masks are polygons in frame fractions ([x, y] in 0..1) where motion is ignored.
	Masks [][][]float64 `yaml:"masks"`
}

// DetectorConfig selects the face detector model.
type DetectorConfig struct {
	// Model is a built-in model name or a path to a .vq file.
	Model     string  `yaml:"model"`
	InputSize int     `yaml:"input_size"`
	Precision string  `yaml:"precision"`
	Threads   int     `yaml:"threads"`
	Score     float64 `yaml:"score"`
	NMS       float64 `yaml:"nms"`
}

// Thresholds tune tracking and recognition.
type Thresholds struct {
	// Distance is the largest embedding (cosine) distance that still names a face; 0 takes
	// the gallery's calibrated threshold, or the embedder's default.
	Distance float64 `yaml:"distance"`
	// Confirm is how many frames agree before an identity is announced or changed.
	Confirm int `yaml:"confirm"`
	// Absence ends a track not seen for this long.
	Absence Duration `yaml:"absence"`
	// IoU is the smallest box overlap that continues a track.
	IoU float64 `yaml:"iou"`
	// MinFace is the smallest face side, in pixels, that is recognised.
	MinFace int `yaml:"min_face"`
	// MinSharpness is the smallest focus measure (variance of the Laplacian of the aligned
	// chip) of a face that is recognised; blurrier faces cast no vote. 0 accepts any.
	MinSharpness float64 `yaml:"min_sharpness"`
	// MaxYaw is the largest |pose proxy| (0 frontal, 1 profile) of a face that is
	// recognised; 0 accepts any.
	MaxYaw float64 `yaml:"max_yaw"`
	// MaxTracks bounds tracks per camera.
	MaxTracks int `yaml:"max_tracks"`
}

// CommandsConfig controls MQTT commands (off by default).
type CommandsConfig struct {
	Enabled bool `yaml:"enabled"`
	// MaxPayload bounds a command payload in bytes (an enrolment JPEG).
	MaxPayload int `yaml:"max_payload"`
}

// GPIOConfig holds the optional input and output pins.
type GPIOConfig struct {
	Input  GPIOInput  `yaml:"input"`
	Output GPIOOutput `yaml:"output"`
}

// GPIOInput is a sensor (e.g. PIR) that gates capture.
type GPIOInput struct {
	// Pin is a periph pin name (GPIO17); "" means no input.
	Pin      string   `yaml:"pin"`
	Debounce Duration `yaml:"debounce"`
	// Hold keeps capture open this long after the sensor goes inactive.
	Hold Duration `yaml:"hold"`
	// Pull is up, down or none.
	Pull string `yaml:"pull"`
	// ActiveLow inverts the sensor level.
	ActiveLow bool `yaml:"active_low"`
}

// GPIOOutput is an LED or relay driven while faces are present.
type GPIOOutput struct {
	Pin string `yaml:"pin"`
	// On is known, unknown or any: which faces drive the pin.
	On        string `yaml:"on"`
	ActiveLow bool   `yaml:"active_low"`
}

// LogConfig selects the log/slog handler.
type LogConfig struct {
	Format string `yaml:"format"`
	Level  string `yaml:"level"`
}

// Duration is a time.Duration written as "2s", "150ms" in YAML.
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Default returns the configuration used for keys the file leaves out.
func Default() Config {
	return Config{
		MQTT: MQTTConfig{
			Broker:          "tcp://127.0.0.1:1883",
			Prefix:          "vigil",
			KeepAlive:       Duration(30 * time.Second),
			StatsInterval:   Duration(60 * time.Second),
			Discovery:       true,
			DiscoveryPrefix: "homeassistant",
			Queue:           QueueConfig{Dir: "/var/lib/vigil/queue", MaxEvents: 10000},
		},
		Gallery: "/var/lib/vigil/gallery",
		HTTP:    HTTPConfig{Listen: "127.0.0.1:8080"},
		Detector: DetectorConfig{
			Model: "mtcnn", InputSize: 320, Precision: "int8", Threads: 0, Score: 0.5, NMS: 0.4,
		},
		Thresholds: Thresholds{
			Distance: 0, Confirm: 3, Absence: Duration(2 * time.Second), IoU: 0.3, MinFace: 40, MaxTracks: 32,
			MinSharpness: 20, MaxYaw: 0.6,
		},
		Commands: CommandsConfig{MaxPayload: 1 << 20},
		GPIO: GPIOConfig{
			Input:  GPIOInput{Debounce: Duration(50 * time.Millisecond), Hold: Duration(10 * time.Second), Pull: "down"},
			Output: GPIOOutput{On: "any"},
		},
		Log: LogConfig{Format: "text", Level: "info"},
	}
}

func defaultCamera() CameraConfig {
	return CameraConfig{Motion: MotionConfig{Enabled: true, Threshold: 25, MinArea: 0.002}, EveryN: 0}
}

// ErrConfig is wrapped by every configuration error so callers can tell them from I/O errors.
var ErrConfig = errors.New("invalid configuration")

// ConfigError is one problem in the file: the key path, its line (0 when unknown) and why.
type ConfigError struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(":")
	}
	if e.Line > 0 {
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(":")
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

func (e *ConfigError) Unwrap() error { return ErrConfig }

// LoadConfig reads, decodes and validates the file at path.
func LoadConfig(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("config %q: %w", path, err)
	}
	c, err := ParseConfig(data)
	if c != nil {
		c.File = path
	}
	var ce *ConfigError
	for _, e := range unwrapAll(err) {
		if errors.As(e, &ce) {
			ce.File = path
		}
	}
	return c, err
}

func unwrapAll(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// ParseConfig decodes and validates YAML. All problems are returned together (errors.Join),
// each a *ConfigError naming the key and line.
func ParseConfig(data []byte) (*Config, error) {
	if len(data) > MaxConfigSize {
		return nil, &ConfigError{Msg: fmt.Sprintf("file is larger than %d bytes", MaxConfigSize)}
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, &ConfigError{Msg: "file contains a NUL byte; is it a text file?"}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &ConfigError{Msg: "file is empty"}
		}
		return nil, &ConfigError{Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, &ConfigError{Line: extra.Line, Msg: "more than one YAML document; vigil reads exactly one"}
	}
	c := Default()
	d := decoder{lines: map[string]int{}}
	if len(doc.Content) != 1 {
		return nil, &ConfigError{Msg: "file is empty"}
	}
	d.decode(doc.Content[0], "", reflect.ValueOf(&c).Elem())
	c.lines = d.lines
	if len(d.errs) > 0 {
		return nil, errors.Join(d.errs...)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// decoder walks yaml.Nodes into Go values so every error carries the key path and line.
type decoder struct {
	errs  []error
	lines map[string]int
}

const maxDecodeErrors = 20

func (d *decoder) fail(n *yaml.Node, key, format string, args ...any) {
	if len(d.errs) >= maxDecodeErrors {
		return
	}
	d.errs = append(d.errs, &ConfigError{Line: n.Line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

var durationType = reflect.TypeOf(Duration(0))

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return fmt.Sprintf("%q", truncate(n.Value, 40))
	}
	return "an unsupported YAML node"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

func (d *decoder) decode(n *yaml.Node, path string, v reflect.Value) {
	if len(d.errs) >= maxDecodeErrors {
		return
	}
	if path != "" {
		d.lines[path] = n.Line
	}
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		d.fail(n, path, "YAML anchors and aliases are not supported; write the value out")
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" && v.Kind() != reflect.String {
		// "key:" with no value keeps the default.
		return
	}
	if v.Type() == durationType {
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, "want a duration such as 2s or 150ms, got %s", kindName(n))
			return
		}
		dur, err := time.ParseDuration(n.Value)
		if err != nil {
			d.fail(n, path, "want a duration such as 2s or 150ms, got %q", truncate(n.Value, 40))
			return
		}
		v.SetInt(int64(dur))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, "want a mapping of keys, got %s", kindName(n))
			return
		}
		d.decodeStruct(n, path, v)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "want a list, got %s", kindName(n))
			return
		}
		const maxItems = 1024
		if len(n.Content) > maxItems {
			d.fail(n, path, "list has %d items; at most %d", len(n.Content), maxItems)
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			e := s.Index(i)
			if v.Type().Elem() == reflect.TypeOf(CameraConfig{}) {
				e.Set(reflect.ValueOf(defaultCamera()))
			}
			d.decode(item, fmt.Sprintf("%s[%d]", path, i), e)
		}
		v.Set(s)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, "want a string, got %s", kindName(n))
			return
		}
		if n.Tag == "!!null" {
			v.SetString("")
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
			d.fail(n, path, "want true or false, got %s", kindName(n))
			return
		}
		v.SetBool(b)
	case reflect.Int:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			d.fail(n, path, "want a whole number, got %s", kindName(n))
			return
		}
		i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
		if err != nil || i < math.MinInt32 || i > math.MaxInt32 {
			d.fail(n, path, "want a whole number within ±%d, got %q", math.MaxInt32, truncate(n.Value, 40))
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
			d.fail(n, path, "want a number, got %s", kindName(n))
			return
		}
		var f float64
		if err := n.Decode(&f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			d.fail(n, path, "want a finite number, got %q", truncate(n.Value, 40))
			return
		}
		v.SetFloat(f)
	default:
		d.fail(n, path, "internal error: cannot decode into %s", v.Type())
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, path string, v reflect.Value) {
	t := v.Type()
	fields := map[string]int{}
	var names []string
	for i := 0; i < t.NumField(); i++ {
		tag := t.Field(i).Tag.Get("yaml")
		if tag == "" || tag == "-" {
			continue
		}
		fields[tag] = i
		names = append(names, tag)
	}
	sort.Strings(names)
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.fail(k, path, "keys must be plain words, got %s", kindName(k))
			continue
		}
		key := k.Value
		full := key
		if path != "" {
			full = path + "." + key
		}
		idx, ok := fields[key]
		if !ok {
			d.fail(k, joinKey(path, truncate(key, 64)), "unknown key (known keys here: %s)", strings.Join(names, ", "))
			continue
		}
		if seen[key] {
			d.fail(k, full, "key appears twice")
			continue
		}
		seen[key] = true
		d.decode(val, full, v.Field(idx))
		d.lines[full] = k.Line
	}
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Line returns the line of a key path such as "cameras[1].fps", or 0 if the file did not set it.
func (c *Config) Line(key string) int { return c.lines[key] }

// Validation limits, exported so tests and docs quote the same numbers.
const (
	MaxNameLen       = face.MaxNameLen
	MaxQueueEvents   = 10_000_000
	MaxCommandBytes  = 16 << 20
	MaxCameras       = 32
	MaxFrameSide     = 8192
	MaxFPS           = 240
	MaxStringLen     = 4096
	MinTokenLen      = 16
	MaxTracksLimit   = 1024
	MaxEveryN        = 100000
	MaxDebounce      = 10 * time.Second
	MaxAbsence       = 10 * time.Minute
	MaxHold          = time.Hour
	MaxConfirmFrames = 100
)

// ValidName reports why s cannot be a device, camera or identity name, or nil: the rule of
// face.CheckName (it becomes one MQTT topic level and a file name, so no '/', '+', '#', NUL,
// spaces or leading dots). Identity names from commands are checked with face.ValidateName,
// the same rule plus the reserved label "unknown".
func ValidName(s string) error { return face.CheckName(s) }

// Validate checks every value and the relations between them. It touches no hardware and
// no network; it does not check that files exist (the daemon does, with a clear error, when
// it opens them), so a config can be checked on another machine.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &ConfigError{Line: c.lines[key], Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	str := func(key, s string, required bool) bool {
		switch {
		case s == "" && required:
			bad(key, "is required")
			return false
		case len(s) > MaxStringLen:
			bad(key, "is %d bytes long; at most %d", len(s), MaxStringLen)
			return false
		case strings.IndexByte(s, 0) >= 0:
			bad(key, "contains a NUL byte")
			return false
		case !utf8.ValidString(s):
			bad(key, "is not valid UTF-8")
			return false
		}
		return true
	}
	intRange := func(key string, v, lo, hi int) {
		if v < lo || v > hi {
			bad(key, "must be between %d and %d, got %d", lo, hi, v)
		}
	}
	floatRange := func(key string, v, lo, hi float64, loOpen bool) {
		if math.IsNaN(v) || v < lo || v > hi || (loOpen && v == lo) {
			op := "between"
			if loOpen {
				op = "above " + strconv.FormatFloat(lo, 'g', -1, 64) + " and at most"
				bad(key, "must be %s %g, got %g", op, hi, v)
				return
			}
			bad(key, "must be between %g and %g, got %g", lo, hi, v)
		}
	}
	durRange := func(key string, v Duration, lo, hi time.Duration) {
		if v.D() < lo || v.D() > hi {
			bad(key, "must be between %s and %s, got %s", lo, hi, v.D())
		}
	}
	oneOf := func(key, v string, allowed ...string) {
		for _, a := range allowed {
			if v == a {
				return
			}
		}
		bad(key, "must be one of %s, got %q", strings.Join(allowed, ", "), truncate(v, 40))
	}

	if str("device", c.Device, true) {
		if err := ValidName(c.Device); err != nil {
			bad("device", "%v", err)
		}
	}

	// MQTT
	if str("mqtt.broker", c.MQTT.Broker, true) {
		u, err := url.Parse(c.MQTT.Broker)
		switch {
		case err != nil:
			bad("mqtt.broker", "not a URL: %v", err)
		case u.Scheme != "tcp" && u.Scheme != "ssl" && u.Scheme != "tls" && u.Scheme != "mqtts" && u.Scheme != "mqtt":
			bad("mqtt.broker", "scheme must be tcp://, mqtt://, ssl://, tls:// or mqtts://, got %q", truncate(c.MQTT.Broker, 80))
		case u.Hostname() == "":
			bad("mqtt.broker", "has no host, want e.g. tcp://127.0.0.1:1883")
		case u.Port() != "":
			if p, err := strconv.Atoi(u.Port()); err != nil || p < 1 || p > 65535 {
				bad("mqtt.broker", "port must be 1..65535, got %q", u.Port())
			}
		}
	}
	if str("mqtt.prefix", c.MQTT.Prefix, true) {
		for _, seg := range strings.Split(c.MQTT.Prefix, "/") {
			if err := ValidName(seg); err != nil {
				bad("mqtt.prefix", "each level separated by '/' %v", err)
				break
			}
		}
	}
	str("mqtt.username", c.MQTT.Username, false)
	str("mqtt.password", c.MQTT.Password, false)
	if c.MQTT.Password != "" && c.MQTT.Username == "" {
		bad("mqtt.password", "is set but mqtt.username is empty")
	}
	str("mqtt.tls.ca", c.MQTT.TLS.CA, false)
	str("mqtt.tls.cert", c.MQTT.TLS.Cert, false)
	str("mqtt.tls.key", c.MQTT.TLS.Key, false)
	if (c.MQTT.TLS.Cert == "") != (c.MQTT.TLS.Key == "") {
		bad("mqtt.tls", "cert and key must be set together")
	}
	if c.MQTT.TLS != (TLSConfig{}) && strings.HasPrefix(c.MQTT.Broker, "tcp://") {
		bad("mqtt.broker", "tls is configured but the broker URL is tcp://; use ssl:// or mqtts://")
	}
	if str("mqtt.queue.dir", c.MQTT.Queue.Dir, true) && !strings.HasPrefix(c.MQTT.Queue.Dir, "/") {
		bad("mqtt.queue.dir", "must be an absolute path, got %q", truncate(c.MQTT.Queue.Dir, 80))
	}
	intRange("mqtt.queue.max_events", c.MQTT.Queue.MaxEvents, 1, MaxQueueEvents)
	durRange("mqtt.keepalive", c.MQTT.KeepAlive, time.Second, time.Hour)
	if c.MQTT.StatsInterval != 0 {
		durRange("mqtt.stats_interval", c.MQTT.StatsInterval, time.Second, 24*time.Hour)
	}
	if str("mqtt.discovery_prefix", c.MQTT.DiscoveryPrefix, c.MQTT.Discovery) && c.MQTT.DiscoveryPrefix != "" {
		if err := ValidName(c.MQTT.DiscoveryPrefix); err != nil {
			bad("mqtt.discovery_prefix", "%v", err)
		}
	}

	// Gallery and HTTP
	str("gallery", c.Gallery, true)
	if str("http.listen", c.HTTP.Listen, false) && c.HTTP.Listen != "" {
		host, port, err := net.SplitHostPort(c.HTTP.Listen)
		if err != nil {
			bad("http.listen", "want host:port such as 127.0.0.1:8080, got %q", truncate(c.HTTP.Listen, 80))
		} else {
			if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
				bad("http.listen", "port must be 0..65535, got %q", port)
			}
			if !isLoopback(host) && len(c.HTTP.Token) < MinTokenLen {
				bad("http.token", "http.listen %q is not a loopback address, so a token of at least %d characters is required", c.HTTP.Listen, MinTokenLen)
			}
		}
	}
	if str("http.token", c.HTTP.Token, false) && c.HTTP.Token != "" && len(c.HTTP.Token) < MinTokenLen {
		bad("http.token", "must be at least %d characters, got %d", MinTokenLen, len(c.HTTP.Token))
	}

	// Cameras
	if len(c.Cameras) == 0 {
		bad("cameras", "at least one camera is required")
	}
	if len(c.Cameras) > MaxCameras {
		bad("cameras", "at most %d cameras, got %d", MaxCameras, len(c.Cameras))
	}
	names := map[string]int{}
	for i, cam := range c.Cameras {
		k := fmt.Sprintf("cameras[%d]", i)
		if str(k+".name", cam.Name, true) {
			if err := ValidName(cam.Name); err != nil {
				bad(k+".name", "%v", err)
			} else if j, dup := names[cam.Name]; dup {
				bad(k+".name", "%q is already the name of cameras[%d]", cam.Name, j)
			}
			names[cam.Name] = i
		}
		str(k+".source", cam.Source, true)
		if cam.Width != 0 || cam.Height != 0 {
			intRange(k+".width", cam.Width, 16, MaxFrameSide)
			intRange(k+".height", cam.Height, 16, MaxFrameSide)
		}
		if cam.FPS != 0 {
			floatRange(k+".fps", cam.FPS, 0, MaxFPS, true)
		}
		intRange(k+".every_n", cam.EveryN, 0, MaxEveryN)
		intRange(k+".motion.threshold", cam.Motion.Threshold, 1, 255)
		floatRange(k+".motion.min_area", cam.Motion.MinArea, 0, 1, true)
		if len(cam.Motion.Masks) > 64 {
			bad(k+".motion.masks", "at most 64 masks, got %d", len(cam.Motion.Masks))
		}
		for m, poly := range cam.Motion.Masks {
			mk := fmt.Sprintf("%s.motion.masks[%d]", k, m)
			if len(poly) < 3 || len(poly) > 256 {
				bad(mk, "a polygon needs 3 to 256 points, got %d", len(poly))
				continue
			}
			for p, pt := range poly {
				if len(pt) != 2 || pt[0] < 0 || pt[0] > 1 || pt[1] < 0 || pt[1] > 1 {
					bad(fmt.Sprintf("%s[%d]", mk, p), "a point is [x, y] with both in 0..1 (fractions of the frame), got %v", pt)
					break
				}
			}
		}
	}

	// Detector and thresholds
	str("detector.model", c.Detector.Model, true)
	intRange("detector.input_size", c.Detector.InputSize, 32, 2048)
	oneOf("detector.precision", c.Detector.Precision, "int8", "float32")
	intRange("detector.threads", c.Detector.Threads, 0, 64)
	floatRange("detector.score", c.Detector.Score, 0, 1, true)
	floatRange("detector.nms", c.Detector.NMS, 0, 1, true)
	floatRange("thresholds.distance", c.Thresholds.Distance, 0, 2, false)
	intRange("thresholds.confirm", c.Thresholds.Confirm, 1, MaxConfirmFrames)
	durRange("thresholds.absence", c.Thresholds.Absence, 10*time.Millisecond, MaxAbsence)
	floatRange("thresholds.iou", c.Thresholds.IoU, 0, 1, true)
	intRange("thresholds.min_face", c.Thresholds.MinFace, 0, MaxFrameSide)
	floatRange("thresholds.min_sharpness", c.Thresholds.MinSharpness, 0, 100000, false)
	floatRange("thresholds.max_yaw", c.Thresholds.MaxYaw, 0, 1, false)
	intRange("thresholds.max_tracks", c.Thresholds.MaxTracks, 1, MaxTracksLimit)

	// Commands
	intRange("commands.max_payload", c.Commands.MaxPayload, 1, MaxCommandBytes)

	// GPIO
	str("gpio.input.pin", c.GPIO.Input.Pin, false)
	str("gpio.output.pin", c.GPIO.Output.Pin, false)
	for _, p := range []struct{ key, v string }{{"gpio.input.pin", c.GPIO.Input.Pin}, {"gpio.output.pin", c.GPIO.Output.Pin}} {
		if p.v != "" && len(p.v) > MaxNameLen {
			bad(p.key, "is %d bytes long; at most %d", len(p.v), MaxNameLen)
		}
	}
	if c.GPIO.Input.Pin != "" && c.GPIO.Input.Pin == c.GPIO.Output.Pin {
		bad("gpio.output.pin", "is the same pin as gpio.input.pin (%q)", c.GPIO.Input.Pin)
	}
	durRange("gpio.input.debounce", c.GPIO.Input.Debounce, 0, MaxDebounce)
	durRange("gpio.input.hold", c.GPIO.Input.Hold, 0, MaxHold)
	oneOf("gpio.input.pull", c.GPIO.Input.Pull, "up", "down", "none")
	oneOf("gpio.output.on", c.GPIO.Output.On, "known", "unknown", "any")

	// Logs
	oneOf("log.format", c.Log.Format, "text", "json")
	oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")

	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
