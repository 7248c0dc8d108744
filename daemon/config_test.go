package daemon

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const minimalConfig = `device: garage-pi
mqtt: {broker: "tcp://127.0.0.1:1883", prefix: vigil}
gallery: /var/lib/vigil/gallery
http: {listen: "127.0.0.1:8080"}
cameras:
  - name: door
    source: /dev/video0
`

func TestConfigExampleFileIsValid(t *testing.T) {
	c, err := LoadConfig("vigil.example.yaml")
	require.NoError(t, err)
	assert.Equal(t, "garage-pi", c.Device)
	assert.Equal(t, "vigil", c.MQTT.Prefix)
	assert.Equal(t, 10000, c.MQTT.Queue.MaxEvents)
	require.Len(t, c.Cameras, 1)
	assert.Equal(t, "door", c.Cameras[0].Name)
	assert.Equal(t, 2*time.Second, c.Thresholds.Absence.D())
	assert.False(t, c.Commands.Enabled)
}

func TestConfigIssueMinimalAndDefaults(t *testing.T) {
	c, err := ParseConfig([]byte(minimalConfig))
	require.NoError(t, err)
	assert.Equal(t, "tcp://127.0.0.1:1883", c.MQTT.Broker)
	assert.True(t, c.Cameras[0].Motion.Enabled, "camera defaults apply to list items")
	assert.Equal(t, 25, c.Cameras[0].Motion.Threshold)
	assert.Equal(t, "any", c.GPIO.Output.On)
	assert.Equal(t, 6, c.Line("cameras[0]"))
	assert.Equal(t, 1, c.Line("device"))
}

// configErr parses src and returns the single ConfigError it must produce.
func configErrs(t *testing.T, src string) []*ConfigError {
	t.Helper()
	_, err := ParseConfig([]byte(src))
	require.Error(t, err, "config should be rejected:\n%s", src)
	require.True(t, errors.Is(err, ErrConfig), "error %v should wrap ErrConfig", err)
	var out []*ConfigError
	for _, e := range unwrapAll(err) {
		var ce *ConfigError
		require.True(t, errors.As(e, &ce), "%T %v", e, e)
		out = append(out, ce)
	}
	return out
}

func TestConfigErrorsNameKeyAndLine(t *testing.T) {
	long := strings.Repeat("a", 10*1024)
	tests := []struct {
		name    string
		src     string
		key     string
		line    int
		msgPart string
	}{
		{"unknown top key", minimalConfig + "colour: red\n", "colour", 8, "unknown key"},
		{"unknown nested key", strings.Replace(minimalConfig, "prefix: vigil", "prefix: vigil, brokr: x", 1), "mqtt.brokr", 2, "unknown key"},
		{"unknown camera key", minimalConfig + "    fsp: 10\n", "cameras[0].fsp", 8, "unknown key"},
		{"wrong type int", minimalConfig + "    fps: fast\n", "cameras[0].fps", 8, "want a number"},
		{"wrong type list", strings.Replace(minimalConfig, "cameras:\n  - name: door\n    source: /dev/video0", "cameras: door", 1), "cameras", 5, "want a list"},
		{"wrong type bool", minimalConfig + "commands: {enabled: yes please}\n", "commands.enabled", 8, "true or false"},
		{"negative queue", minimalConfig + "mqtt2: 1\n", "mqtt2", 8, "unknown key"},
		{"negative size", strings.Replace(minimalConfig, "prefix: vigil}", "prefix: vigil, queue: {max_events: -5}}", 1), "mqtt.queue.max_events", 2, "between 1 and"},
		{"negative width", minimalConfig + "    width: -640\n    height: 480\n", "cameras[0].width", 8, "between 16"},
		{"huge int", minimalConfig + "    every_n: 99999999999999999999\n", "cameras[0].every_n", 8, "whole number"},
		{"fps nan", minimalConfig + "    fps: .nan\n", "cameras[0].fps", 8, "finite"},
		{"fps range", minimalConfig + "    fps: 1000\n", "cameras[0].fps", 8, "at most 240"},
		{"bad duration", minimalConfig + "thresholds: {absence: soon}\n", "thresholds.absence", 8, "duration"},
		{"negative duration", minimalConfig + "thresholds: {absence: -2s}\n", "thresholds.absence", 8, "between"},
		{"yaw range", minimalConfig + "thresholds: {max_yaw: 2}\n", "thresholds.max_yaw", 8, "between 0 and 1"},
		{"negative sharpness", minimalConfig + "thresholds: {min_sharpness: -1}\n", "thresholds.min_sharpness", 8, "between 0 and"},
		{"device slash", strings.Replace(minimalConfig, "garage-pi", "garage/pi", 1), "device", 1, "topic level"},
		{"device plus", strings.Replace(minimalConfig, "garage-pi", "garage+", 1), "device", 1, "topic level"},
		{"device hash", strings.Replace(minimalConfig, "garage-pi", `"#"`, 1), "device", 1, "topic level"},
		{"device NUL escape", strings.Replace(minimalConfig, "garage-pi", `"gar\0age"`, 1), "device", 1, "NUL"},
		{"device 10kB", strings.Replace(minimalConfig, "garage-pi", long, 1), "device", 1, "at most"},
		{"camera name slash", strings.Replace(minimalConfig, "name: door", "name: front/door", 1), "cameras[0].name", 6, "topic level"},
		{"camera name wildcard", strings.Replace(minimalConfig, "name: door", "name: 'door+'", 1), "cameras[0].name", 6, "topic level"},
		{"source 10kB", strings.Replace(minimalConfig, "/dev/video0", long, 1), "cameras[0].source", 7, "at most"},
		{"prefix wildcard", strings.Replace(minimalConfig, "prefix: vigil", "prefix: 'vigil/#'", 1), "mqtt.prefix", 2, "topic level"},
		{"broker scheme", strings.Replace(minimalConfig, "tcp://127.0.0.1:1883", "http://x", 1), "mqtt.broker", 2, "scheme"},
		{"broker port", strings.Replace(minimalConfig, "tcp://127.0.0.1:1883", "tcp://h:99999", 1), "mqtt.broker", 2, "port"},
		{"public http without token", strings.Replace(minimalConfig, "127.0.0.1:8080", "0.0.0.0:8080", 1), "http.token", 0, "token"},
		{"short token", strings.Replace(minimalConfig, `listen: "127.0.0.1:8080"`, `listen: "127.0.0.1:8080", token: abc`, 1), "http.token", 4, "at least 16"},
		{"duplicate camera", minimalConfig + "  - {name: door, source: /dev/video1}\n", "cameras[1].name", 8, "already"},
		{"duplicate key", minimalConfig + "device: other\n", "device", 8, "twice"},
		{"no cameras", strings.Replace(minimalConfig, "cameras:\n  - name: door\n    source: /dev/video0\n", "", 1), "cameras", 0, "at least one"},
		{"gpio on", minimalConfig + "gpio: {output: {pin: GPIO4, on: sometimes}}\n", "gpio.output.on", 8, "known, unknown, any"},
		{"same pins", minimalConfig + "gpio: {input: {pin: GPIO4}, output: {pin: GPIO4}}\n", "gpio.output.pin", 8, "same pin"},
		{"mask point", minimalConfig + "    motion: {masks: [[[0,0],[2,0],[0,1]]]}\n", "cameras[0].motion.masks[0][1]", 8, "0..1"},
		{"log level", minimalConfig + "log: {level: loud}\n", "log.level", 8, "one of"},
		{"max payload", minimalConfig + "commands: {max_payload: 0}\n", "commands.max_payload", 8, "between 1"},
		{"alias", minimalConfig + "gallery2: &a x\n", "gallery2", 8, ""},
		{"tls with tcp", minimalConfig + "  \nmqtt3: 1\n", "mqtt3", 9, "unknown"},
		{"queue relative", strings.Replace(minimalConfig, "prefix: vigil}", "prefix: vigil, queue: {dir: queue}}", 1), "mqtt.queue.dir", 2, "absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := configErrs(t, tt.src)
			var found *ConfigError
			for _, e := range errs {
				if e.Key == tt.key {
					found = e
				}
			}
			require.NotNil(t, found, "no error for key %q in %v", tt.key, errs)
			if tt.line > 0 {
				assert.Equal(t, tt.line, found.Line, "%v", found)
			}
			assert.Contains(t, found.Error(), tt.msgPart)
			assert.Less(t, len(found.Error()), 600, "errors stay readable even for 10 kB values")
		})
	}
}

func TestConfigWholeFileErrors(t *testing.T) {
	for name, src := range map[string]string{
		"empty":       "",
		"not yaml":    "device: [unclosed",
		"scalar":      "just a string",
		"two docs":    minimalConfig + "---\ndevice: x\n",
		"NUL byte":    "device: a\x00b\n",
		"huge":        strings.Repeat("#", MaxConfigSize+1),
		"list at top": "- a\n- b\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseConfig([]byte(src))
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrConfig)
		})
	}
}

func TestConfigTLSRequiresSecureScheme(t *testing.T) {
	src := strings.Replace(minimalConfig, `prefix: vigil}`, `prefix: vigil, tls: {ca: /etc/ca.pem}}`, 1)
	errs := configErrs(t, src)
	assert.Equal(t, "mqtt.broker", errs[0].Key)
	ok := strings.Replace(src, "tcp://", "ssl://", 1)
	_, err := ParseConfig([]byte(ok))
	require.NoError(t, err)
}

func TestLoadConfigNamesFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "vigil.yaml")
	require.NoError(t, os.WriteFile(p, []byte(minimalConfig+"bogus: 1\n"), 0o600))
	_, err := LoadConfig(p)
	require.Error(t, err)
	assert.Contains(t, err.Error(), p+":8: bogus: unknown key")
	_, err = LoadConfig(filepath.Join(t.TempDir(), "missing.yaml"))
	require.Error(t, err)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func FuzzParseConfig(f *testing.F) {
	ex, err := os.ReadFile("vigil.example.yaml")
	require.NoError(f, err)
	f.Add(ex)
	f.Add([]byte(minimalConfig))
	f.Add([]byte("a: &x [*x]"))
	f.Add([]byte("cameras: [{name: a, motion: {masks: [[[0,0]]]}}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			require.Nil(t, c)
			require.ErrorIs(t, err, ErrConfig)
			return
		}
		// Whatever parses must satisfy the invariants the daemon relies on.
		require.NoError(t, ValidName(c.Device))
		require.NotEmpty(t, c.Cameras)
		for _, cam := range c.Cameras {
			require.NoError(t, ValidName(cam.Name))
		}
		require.GreaterOrEqual(t, c.MQTT.Queue.MaxEvents, 1)
	})
}
