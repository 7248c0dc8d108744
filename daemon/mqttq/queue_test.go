package mqttq

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv("MQTTQ_CHILD") != "" {
		child(os.Getenv("MQTTQ_CHILD"))
		return
	}
	goleak.VerifyTestMain(m)
}

func drain(t *testing.T, q *Queue) []Record {
	t.Helper()
	var out []Record
	for {
		r, ok, err := q.Peek()
		require.NoError(t, err)
		if !ok {
			return out
		}
		out = append(out, r)
		require.NoError(t, q.Ack(r.Seq))
	}
}

func TestFIFOAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(dir, 100, nil)
	require.NoError(t, err)
	for i := range 10 {
		seq, err := q.Append([]byte(fmt.Sprintf("e%d", i)))
		require.NoError(t, err)
		assert.Equal(t, uint64(i+1), seq)
	}
	r, ok, err := q.Peek()
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, q.Ack(r.Seq))
	assert.Error(t, q.Ack(r.Seq), "acking twice is refused")
	require.NoError(t, q.Close())

	q, err = Open(dir, 100, nil)
	require.NoError(t, err)
	defer q.Close()
	assert.Equal(t, 9, q.Len())
	got := drain(t, q)
	require.Len(t, got, 9)
	for i, r := range got {
		assert.Equal(t, uint64(i+2), r.Seq)
		assert.Equal(t, fmt.Sprintf("e%d", i+1), string(r.Payload))
	}
	seq, err := q.Append([]byte("after"))
	require.NoError(t, err)
	assert.Equal(t, uint64(11), seq, "sequence numbers are never reused")
}

func TestBoundDropsNewestAndCounts(t *testing.T) {
	q, err := Open(t.TempDir(), 3, nil)
	require.NoError(t, err)
	defer q.Close()
	for i := range 5 {
		_, err := q.Append([]byte{byte(i)})
		if i < 3 {
			require.NoError(t, err)
		} else {
			require.ErrorIs(t, err, ErrFull)
		}
	}
	assert.Equal(t, uint64(2), q.Dropped())
	got := drain(t, q)
	require.Len(t, got, 3)
	assert.Equal(t, []byte{0}, got[0].Payload)
	_, err = q.Append([]byte("room again"))
	require.NoError(t, err)
}

func TestFilesArePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "queue")
	q, err := Open(dir, 10, nil)
	require.NoError(t, err)
	defer q.Close()
	seq, err := q.Append([]byte("x"))
	require.NoError(t, err)
	_, err = q.Append([]byte("y"))
	require.NoError(t, err)
	require.NoError(t, q.Ack(seq))
	st, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	for _, e := range entries {
		info, err := e.Info()
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), e.Name())
	}
}

func TestTornAndHostileTails(t *testing.T) {
	for name, tail := range map[string][]byte{
		"half header":    {1, 2, 3},
		"4 GB length":    append(binary.LittleEndian.AppendUint32(nil, 0xFFFFFFFF), make([]byte, 12)...),
		"bad crc":        append(append(binary.LittleEndian.AppendUint32(nil, 2), make([]byte, 4)...), append(binary.LittleEndian.AppendUint64(nil, 99), 'h', 'i')...),
		"short payload":  append(binary.LittleEndian.AppendUint32(nil, 100), make([]byte, 20)...),
		"random garbage": []byte(strings.Repeat("\xde\xad\xbe\xef", 1000)),
		"seq going back": nil, // filled below
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			q, err := Open(dir, 100, nil)
			require.NoError(t, err)
			for i := range 3 {
				_, err := q.Append([]byte{byte('a' + i)})
				require.NoError(t, err)
			}
			seg := q.active.path
			require.NoError(t, q.Close())
			if tail == nil {
				p := []byte("old")
				rec := binary.LittleEndian.AppendUint32(nil, uint32(len(p)))
				rec = binary.LittleEndian.AppendUint32(rec, checksum(1, p))
				rec = binary.LittleEndian.AppendUint64(rec, 1)
				tail = append(rec, p...)
			}
			f, err := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
			require.NoError(t, err)
			_, err = f.Write(tail)
			require.NoError(t, err)
			require.NoError(t, f.Close())

			q, err = Open(dir, 100, nil)
			require.NoError(t, err)
			defer q.Close()
			got := drain(t, q)
			require.Len(t, got, 3, "records before the damage are kept, the damage is cut")
			assert.Equal(t, "c", string(got[2].Payload))
			seq, err := q.Append([]byte("d"))
			require.NoError(t, err)
			assert.Equal(t, uint64(4), seq)
		})
	}
}

func TestDamagedHeadRedeliversInsteadOfLosing(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(dir, 100, nil)
	require.NoError(t, err)
	for range 3 {
		_, err := q.Append([]byte("e"))
		require.NoError(t, err)
	}
	require.NoError(t, q.Ack(1))
	require.NoError(t, q.Close())
	require.NoError(t, os.WriteFile(filepath.Join(dir, "head"), []byte("garbage"), 0o600))
	q, err = Open(dir, 100, nil)
	require.NoError(t, err)
	defer q.Close()
	assert.Equal(t, 3, q.Len())
}

// child appends and acknowledges forever, printing each operation after it returned; the
// parent kills it with SIGKILL at random moments.
func child(dir string) {
	q, err := Open(dir, 1_000_000, nil)
	if err != nil {
		fmt.Println("open-error", err)
		os.Exit(2)
	}
	w := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		seq, err := q.AppendFunc(func(seq uint64) ([]byte, error) {
			return []byte("event-" + strconv.FormatUint(seq, 10) + strings.Repeat("x", int(seq%300))), nil
		})
		if err != nil {
			fmt.Println("append-error", err)
			os.Exit(2)
		}
		fmt.Fprintf(w, "append %d\n", seq)
		w.Flush()
		if i%3 == 0 {
			r, ok, _ := q.Peek()
			if ok && q.Ack(r.Seq) == nil {
				fmt.Fprintf(w, "ack %d\n", r.Seq)
				w.Flush()
			}
		}
	}
}

func TestKill9Consistency(t *testing.T) {
	kills := 50
	if testing.Short() {
		kills = 10
	}
	dir := t.TempDir()
	exe, err := os.Executable()
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(1, 2))
	appended := map[uint64]bool{}
	acked := map[uint64]bool{}
	for k := range kills {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), "MQTTQ_CHILD="+dir)
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		sc := bufio.NewScanner(out)
		stopAfter := 1 + rng.IntN(60)
		lines := 0
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			require.Len(t, f, 2, "child: %s", sc.Text())
			seq, err := strconv.ParseUint(f[1], 10, 64)
			require.NoError(t, err, sc.Text())
			if f[0] == "append" {
				appended[seq] = true
			} else {
				acked[seq] = true
			}
			lines++
			if lines == stopAfter {
				require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			}
		}
		_ = cmd.Wait()
		_ = k
	}
	q, err := Open(dir, 1_000_000, nil)
	require.NoError(t, err)
	defer q.Close()
	head := q.head // everything before it was acknowledged (acks only ever remove the oldest)
	got := drain(t, q)
	present := map[uint64]bool{}
	var last uint64
	for _, r := range got {
		assert.Greater(t, r.Seq, last, "delivered in order")
		last = r.Seq
		present[r.Seq] = true
		assert.True(t, strings.HasPrefix(string(r.Payload), "event-"+strconv.FormatUint(r.Seq, 10)), "payload intact")
		assert.Equal(t, len("event-"+strconv.FormatUint(r.Seq, 10))+int(r.Seq%300), len(r.Payload))
		assert.False(t, acked[r.Seq], "an acknowledged event %d came back", r.Seq)
	}
	lost := 0
	for seq := range appended {
		// An Ack can return just before the kill and never be printed, so an event absent
		// from the queue was acknowledged if and only if it lies before the head.
		if !present[seq] && seq >= head {
			lost++
			t.Logf("lost event %d (head %d)", seq, head)
		}
	}
	assert.Zero(t, lost, "events whose Append returned were lost")
	t.Logf("kill -9 loop: %d kills survived, %d appends confirmed, %d acks confirmed, %d events delivered after the last restart, %d lost",
		kills, len(appended), len(acked), len(got), lost)
}

// TestDiskFull fills a 256 kB tmpfs: Append fails with the I/O error, everything stored
// before stays intact and readable, and appends succeed again once space is freed.
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a size-limited tmpfs; run as root (CI does)")
	}
	mnt := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", mnt).CombinedOutput()
	require.NoError(t, err, "mount tmpfs: %s", out)
	t.Cleanup(func() { _ = exec.Command("umount", mnt).Run() })
	dir := filepath.Join(mnt, "queue")
	q, err := Open(dir, 1_000_000, nil)
	require.NoError(t, err)
	payload := []byte(strings.Repeat("p", 1000))
	stored := 0
	var fullErr error
	for range 10_000 {
		if _, err := q.Append(payload); err != nil {
			fullErr = err
			break
		}
		stored++
	}
	require.Error(t, fullErr, "a 256 kB tmpfs must fill up")
	assert.ErrorIs(t, fullErr, syscall.ENOSPC)
	t.Logf("disk full after %d events: %v", stored, fullErr)
	assert.Equal(t, stored, q.Len())
	require.NoError(t, q.Close())

	q, err = Open(dir, 1_000_000, nil)
	require.NoError(t, err)
	defer q.Close()
	require.Equal(t, stored, q.Len(), "nothing stored was corrupted by the failed write")
	got := drain(t, q)
	for i, r := range got {
		require.Equal(t, uint64(i+1), r.Seq)
		require.Equal(t, payload, r.Payload)
	}
	_, err = q.Append(payload)
	require.NoError(t, err, "appends work again once acknowledged segments are removed")
}
