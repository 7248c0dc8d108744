package daemon

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// notifySocket listens where systemd would and returns what the daemon sends.
func notifySocket(t *testing.T) func() []string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: p, Net: "unixgram"})
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", p)
	return func() []string {
		var out []string
		buf := make([]byte, 4096)
		for {
			require.NoError(t, conn.SetReadDeadline(time.Now().Add(50*time.Millisecond)))
			n, err := conn.Read(buf)
			if err != nil {
				return out
			}
			out = append(out, string(buf[:n]))
		}
	}
}

func TestNotifyReadyWatchdogStopping(t *testing.T) {
	read := notifySocket(t)
	t.Setenv("WATCHDOG_USEC", "4000000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	n := NewNotifier(testLogger(t))
	require.Equal(t, 4*time.Second, n.WatchdogInterval())
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	n.now = func() time.Time { return clock }

	n.Ready("watching 2 cameras")
	assert.Equal(t, []string{"READY=1\nSTATUS=watching 2 cameras", "WATCHDOG=1"}, read())

	n.Kick()
	clock = clock.Add(1999 * time.Millisecond)
	n.Kick()
	assert.Empty(t, read(), "no WATCHDOG before half the interval")
	clock = clock.Add(time.Millisecond)
	n.Kick()
	assert.Equal(t, []string{"WATCHDOG=1"}, read())

	n.Stopping()
	assert.Equal(t, []string{"STOPPING=1"}, read())
}

func TestNotifyWatchdogForAnotherPID(t *testing.T) {
	read := notifySocket(t)
	t.Setenv("WATCHDOG_USEC", "4000000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()+1))
	n := NewNotifier(nil)
	assert.Zero(t, n.WatchdogInterval())
	n.Kick()
	assert.Empty(t, read())
}

func TestNotifyWithoutSocketDoesNothing(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	os.Unsetenv("NOTIFY_SOCKET")
	t.Setenv("WATCHDOG_USEC", "1000000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	n := NewNotifier(nil)
	n.Ready("x")
	n.Kick()
	n.Stopping()
}
