package daemon

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/daemon/mosquittotest"
	"github.com/vigil-edge/vigil/daemon/mqttq"
)

const envCrashChild = "VIGIL_DAEMON_CRASH_CHILD" // "broker|queue dir|first id|count"

// crashChild runs the MQTT side of the daemon in a child process and queues events as fast
// as it can, printing each id once PublishEvent returned; the parent kills it with SIGKILL.
func crashChild() {
	f := strings.Split(os.Getenv(envCrashChild), "|")
	first, _ := strconv.Atoi(f[2])
	count, _ := strconv.Atoi(f[3])
	c, err := ParseConfig([]byte(fmt.Sprintf("device: dev1\nmqtt: {broker: %q, queue: {dir: %q, max_events: 1000000}}\ncameras: [{name: door, source: x}]\n", f[0], f[1])))
	if err != nil {
		fmt.Println("config", err)
		os.Exit(2)
	}
	q, err := mqttq.Open(c.MQTT.Queue.Dir, c.MQTT.Queue.MaxEvents, nil)
	if err != nil {
		fmt.Println("queue", err)
		os.Exit(2)
	}
	m, err := NewMQTT(MQTTOptions{Config: c, Queue: q, RetryInterval: 50 * time.Millisecond, AckTimeout: 2 * time.Second})
	if err != nil {
		fmt.Println("mqtt", err)
		os.Exit(2)
	}
	go m.Run(context.Background())
	w := bufio.NewWriter(os.Stdout)
	for i := first; i < first+count; i++ {
		if err := m.PublishEvent(testEvent(i)); err != nil {
			fmt.Fprintln(w, "error", err)
			w.Flush()
			os.Exit(2)
		}
		fmt.Fprintln(w, "queued", i)
		w.Flush()
		time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond)
	}
	fmt.Fprintln(w, "done")
	w.Flush()
	select {} // keep delivering until killed
}

// TestDaemonKill9WhileQueueing kills the publishing process with SIGKILL at random moments, 50
// times, with the broker up or down, and checks that every event whose PublishEvent returned
// reaches a subscriber, in order.
func TestDaemonKill9WhileQueueing(t *testing.T) {
	kills := 50
	if testing.Short() {
		kills = 10
	}
	b := mosquittotest.Start(t, mosquittotest.WithPersistence())
	sub := subscribe(t, b.URL(), nil, "crash-sub", "vigil/dev1/events")
	dir := t.TempDir() + "/queue"
	exe, err := os.Executable()
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(3, 4))
	queued := map[int]bool{}
	next := 0
	start := func(count int) (*exec.Cmd, *bufio.Scanner) {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%s|%d|%d", envCrashChild, b.URL(), dir, next, count))
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		return cmd, bufio.NewScanner(out)
	}
	brokerDown := 0
	for k := range kills {
		if k%10 == 5 { // every tenth run the broker is down: everything goes through the disk
			b.Stop()
			brokerDown++
		}
		cmd, sc := start(1000)
		stopAfter := 1 + rng.IntN(40)
		lines := 0
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			require.Equal(t, "queued", f[0], sc.Text())
			id, err := strconv.Atoi(f[1])
			require.NoError(t, err)
			queued[id] = true
			// The id after the last confirmed one may be on disk already (killed between
			// the append and the print): the next run starts after it, so ids stay unique.
			next = id + 2
			if lines++; lines == stopAfter {
				require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			}
		}
		_ = cmd.Wait()
		if k%10 == 5 {
			b.Start()
		}
	}
	// A last run queues nothing new and delivers what is left.
	cmd, sc := start(0)
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	go func() {
		for sc.Scan() {
		}
	}()
	msgs := sub.waitFor(t, "every queued event", func(m []paho.Message) bool {
		evs, _ := events(t, m)
		got := map[int]bool{}
		for _, e := range evs {
			got[int(e.ID)] = true
		}
		for id := range queued {
			if !got[id] {
				return false
			}
		}
		return true
	})
	evs, dups := events(t, msgs)
	for i := 1; i < len(evs); i++ {
		require.Greater(t, evs[i].ID, evs[i-1].ID, "delivered in the order queued")
	}
	assert.GreaterOrEqual(t, len(evs), len(queued))
	t.Logf("kill -9 of the publisher: %d kills survived (%d with the broker down), %d events confirmed queued, %d received in order (+%d duplicates dropped by seq), 0 lost",
		kills, brokerDown, len(queued), len(evs), dups)
}
