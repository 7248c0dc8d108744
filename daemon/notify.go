package daemon

import (
	"log/slog"
	"sync"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"
)

// Notifier speaks systemd's sd_notify protocol for Type=notify units: READY=1 once
// cameras, models and MQTT are up, WATCHDOG=1 at half of WatchdogSec from the loop that does
// the work, STOPPING=1 on shutdown. Without NOTIFY_SOCKET every method does nothing.
type Notifier struct {
	log      *slog.Logger
	interval time.Duration // WatchdogSec; 0 when the watchdog is off
	now      func() time.Time

	mu   sync.Mutex
	last time.Time
}

// NewNotifier reads NOTIFY_SOCKET and WATCHDOG_USEC/WATCHDOG_PID from the environment.
func NewNotifier(log *slog.Logger) *Notifier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &Notifier{log: log, now: time.Now}
	iv, err := sd.SdWatchdogEnabled(false)
	if err != nil {
		log.Warn("systemd: ignoring a malformed watchdog setting", "err", err)
	}
	n.interval = iv
	return n
}

// WatchdogInterval is WatchdogSec, or 0 when the watchdog is off.
func (n *Notifier) WatchdogInterval() time.Duration { return n.interval }

func (n *Notifier) send(state string) {
	if _, err := sd.SdNotify(false, state); err != nil {
		n.log.Warn("systemd: notify failed", "state", state, "err", err)
	}
}

// Ready tells systemd the service is up.
func (n *Notifier) Ready(status string) {
	n.send(sd.SdNotifyReady + "\nSTATUS=" + status)
	n.Kick()
}

// Status sets the one-line status systemctl shows.
func (n *Notifier) Status(status string) { n.send("STATUS=" + status) }

// Stopping tells systemd shutdown has begun.
func (n *Notifier) Stopping() { n.send(sd.SdNotifyStopping) }

// Kick sends WATCHDOG=1 if half the watchdog interval passed since the last one. Call it
// from the loop whose progress proves the daemon works (never from a timer of its own, or
// a hung pipeline would still look alive).
func (n *Notifier) Kick() {
	if n.interval <= 0 {
		return
	}
	n.mu.Lock()
	now := n.now()
	due := n.last.IsZero() || now.Sub(n.last) >= n.interval/2
	if due {
		n.last = now
	}
	n.mu.Unlock()
	if due {
		n.send(sd.SdNotifyWatchdog)
	}
}
