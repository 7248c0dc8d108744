package daemon

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/daemon/mqttq"
	"github.com/vigil-edge/vigil/face"
)

// hostileNames is the issue 7 table: topic wildcards and separators, NUL, 10 kB, and the
// names a permissive rule would let through (spaces, non-ASCII, shell and path characters).
var hostileNames = []struct {
	name string
	ok   bool
}{
	{"alice", true}, {"Bob_Smith", true}, {"o.brien-2", true}, {"x", true}, {"007", true},
	{strings.Repeat("x", 64), true}, {"unknown-2", true},
	{"", false}, {"a/b", false}, {"/", false}, {"a+b", false}, {"+", false}, {"a#b", false}, {"#", false},
	{"a\x00b", false}, {"\x00", false}, {strings.Repeat("n", 10*1024), false}, {strings.Repeat("x", 65), false},
	{"Bob Smith", false}, {" alice", false}, {"alice ", false}, {"José", false}, {"ålice", false},
	{"o'brien", false}, {".", false}, {"..", false}, {".hidden", false}, {"-rf", false}, {"_x", false},
	{"a\nb", false}, {"a\tb", false}, {"\x7f", false}, {"\xff\xfe", false}, {"a\u200bb", false},
	{"a\u0085b", false}, {"a$b", false}, {"a*b", false}, {"a\\b", false}, {"${x}", false}, {"a:b", false},
	{"unknown", false}, {"Unknown", false}, {"UNKNOWN", false},
}

// TestNamesAgreeAcrossGalleryAndCommands: face.ValidateName (vigil face enrol, the gallery's
// Enroll and its loader) and the daemon's MQTT command handler accept exactly the same
// identity names, and every accepted name is one safe MQTT topic level.
func TestNamesAgreeAcrossGalleryAndCommands(t *testing.T) {
	c := mqttTestConfig(t, "tcp://127.0.0.1:1", "commands: {enabled: true, max_payload: 4096}\n")
	q, err := mqttq.Open(c.MQTT.Queue.Dir, 10, nil)
	require.NoError(t, err)
	defer q.Close()
	cmd := &recordingCommander{}
	m, err := NewMQTT(MQTTOptions{Config: c, Queue: q, Commands: cmd})
	require.NoError(t, err)
	g, err := face.OpenGallery(t.TempDir())
	require.NoError(t, err)
	jpg := smallJPEG(t, 64, 64)

	accepted, refused := 0, 0
	for _, tc := range hostileNames {
		label := truncate(tc.name, 24)
		faceErr := face.ValidateName(tc.name)
		_, enrolErr := g.Enroll(tc.name, "m", face.NewSample{Embedding: []float32{1, 0, 0, 0}})
		enrol := m.handleCommand(context.Background(), "vigil/dev1/cmd/enrol/"+tc.name, jpg)
		remove := m.handleCommand(context.Background(), "vigil/dev1/cmd/remove/"+tc.name, nil)
		if tc.ok {
			accepted++
			assert.NoError(t, faceErr, "%q", label)
			assert.NoError(t, enrolErr, "%q", label)
			assert.True(t, enrol.OK, "%q: %+v", label, enrol)
			assert.True(t, remove.OK, "%q: %+v", label, remove)
			assert.NotContains(t, tc.name, "/")
			assert.False(t, strings.ContainsAny(tc.name, "+#\x00 "), "%q is a safe topic level", label)
			continue
		}
		refused++
		assert.ErrorIs(t, faceErr, face.ErrInvalidName, "%q", label)
		assert.ErrorIs(t, enrolErr, face.ErrInvalidName, "%q", label)
		for _, r := range []CommandReply{enrol, remove} {
			assert.False(t, r.OK, "%q: %+v", label, r)
			if !strings.ContainsAny(tc.name, "/") { // a '/' makes another topic level: refused by shape
				assert.True(t, strings.HasPrefix(r.Error, "name "), "%q refused for its name: %q", label, r.Error)
			}
			assert.Empty(t, r.Target, "a refused name is not echoed as the target")
		}
		assert.Less(t, len(enrol.Error), 300, "the error for %q stays short", label)
	}
	// Nothing refused reached the gallery editor.
	for _, call := range cmd.calls {
		name := call[strings.IndexByte(call, ' ')+1:]
		if i := strings.LastIndexByte(name, ' '); strings.HasPrefix(call, "enrol ") && i > 0 {
			name = name[:i]
		}
		require.NoError(t, face.ValidateName(name), "call %q", truncate(call, 40))
	}
	t.Logf("names: %d accepted and %d refused alike by face.ValidateName, Gallery.Enroll and the MQTT enrol/remove commands; %d commands reached the gallery", accepted, refused, len(cmd.calls))
}

// Camera and device names use the same character rule (ValidName is face.CheckName); only
// the reserved identity label differs: a camera may be called "unknown".
func TestValidNameIsFaceCheckName(t *testing.T) {
	for _, tc := range hostileNames {
		assert.Equal(t, face.CheckName(tc.name) == nil, ValidName(tc.name) == nil, "%q", truncate(tc.name, 24))
		if !strings.EqualFold(tc.name, face.Unknown) {
			assert.Equal(t, tc.ok, ValidName(tc.name) == nil, "%q", truncate(tc.name, 24))
		}
	}
	assert.NoError(t, ValidName("unknown"))
}
