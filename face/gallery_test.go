package face

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func vec(seed uint64, d int) []float32 {
	rng := rand.New(rand.NewPCG(seed, 99))
	v := make([]float32, d)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	Normalize(v)
	return v
}

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"alice", "Bob_Smith", "a", "7", strings.Repeat("x", 64), "o.brien-2"} {
		assert.NoError(t, ValidateName(ok), ok)
	}
	// The daemon's table (daemon/names_test.go) checks its commands refuse the same set.
	for _, bad := range []string{"", "a/b", "a+b", "a#b", "a\x00b", "a\nb", "a\tb", "\x7f", strings.Repeat("x", 65), strings.Repeat("n", 10<<10), ".", "..", ".x", "-x", " lead", "trail ", "Bob Smith", "José", "o'brien", "unknown", "Unknown", "\xff\xfe", "a\u0085b"} {
		assert.ErrorIs(t, ValidateName(bad), ErrInvalidName, "%q", bad)
	}
}

func TestGalleryOperationsPersist(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "g")
	g, err := OpenGallery(dir)
	require.NoError(t, err)
	assert.Empty(t, g.Snapshot().Identities)

	ids, err := g.Enroll("bob", "m1", NewSample{Embedding: vec(1, 8), Chip: []byte{0xff, 0xd8}, Source: "b1.jpg"}, NewSample{Embedding: vec(2, 8)})
	require.NoError(t, err)
	assert.Equal(t, []uint64{1, 2}, ids)
	_, err = g.Enroll("alice", "m1", NewSample{Embedding: vec(3, 8)})
	require.NoError(t, err)
	_, err = g.Enroll("carol", "m2", NewSample{Embedding: vec(3, 8)})
	assert.ErrorIs(t, err, ErrMismatch)
	_, err = g.Enroll("carol", "m1", NewSample{Embedding: vec(3, 4)})
	assert.ErrorIs(t, err, ErrMismatch)
	_, err = g.Enroll("a/b", "m1", NewSample{Embedding: vec(3, 8)})
	assert.ErrorIs(t, err, ErrInvalidName)

	s := g.Snapshot()
	require.Len(t, s.Identities, 2)
	assert.Equal(t, "alice", s.Identities[0].Name)
	assert.Equal(t, 8, s.Dim)

	require.NoError(t, g.Rename("bob", "zed"))
	assert.ErrorIs(t, g.Rename("zed", "alice"), ErrExists)
	assert.ErrorIs(t, g.Rename("nobody", "x"), ErrNotFound)
	require.NoError(t, g.RemoveSample("zed", 1))
	assert.ErrorIs(t, g.RemoveSample("zed", 1), ErrNotFound)
	require.NoError(t, g.Remove("alice"))
	assert.ErrorIs(t, g.Remove("alice"), ErrNotFound)

	// The old snapshot is untouched by later writes.
	assert.Len(t, s.Identities, 2)
	assert.Equal(t, "bob", s.Identities[1].Name)
	assert.Len(t, s.Identities[1].Samples, 2)

	g2, err := OpenGallery(dir)
	require.NoError(t, err)
	s2 := g2.Snapshot()
	require.Len(t, s2.Identities, 1)
	assert.Equal(t, "zed", s2.Identities[0].Name)
	require.Len(t, s2.Identities[0].Samples, 1)
	assert.Equal(t, uint64(2), s2.Identities[0].Samples[0].ID)
	assert.Equal(t, vec(2, 8), s2.Identities[0].Samples[0].Embedding)

	// Removing the last sample removes the identity.
	require.NoError(t, g2.RemoveSample("zed", 2))
	assert.Empty(t, g2.Snapshot().Identities)

	st, err := os.Stat(g.Path())
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	st, err = os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm())
	tmps, _ := filepath.Glob(filepath.Join(dir, tempPattern))
	assert.Empty(t, tmps)
}

func TestGalleryRefusesCorruptAndWrongVersion(t *testing.T) {
	dir := t.TempDir()
	g, err := OpenGallery(dir)
	require.NoError(t, err)
	_, err = g.Enroll("bob", "m", NewSample{Embedding: vec(1, 8)})
	require.NoError(t, err)
	good, err := os.ReadFile(g.Path())
	require.NoError(t, err)

	// Every single-byte flip is detected.
	for i := range good {
		bad := append([]byte(nil), good...)
		bad[i] ^= 0x40
		_, err := DecodeSnapshot(bad)
		require.Error(t, err, "flip at %d", i)
	}
	// Truncations too.
	for n := range len(good) {
		_, err := DecodeSnapshot(good[:n])
		require.ErrorIs(t, err, ErrCorrupt, "truncated to %d", n)
	}

	// A corrupt file: Open fails clearly, Reload keeps the last good copy,
	// writes refuse to overwrite it.
	bad := append([]byte(nil), good...)
	bad[len(bad)/2] ^= 1
	require.NoError(t, os.WriteFile(g.Path(), bad, 0o600))
	_, err = OpenGallery(dir)
	require.ErrorIs(t, err, ErrCorrupt)
	assert.ErrorContains(t, err, "checksum")
	_, err = g.Reload()
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Len(t, g.Snapshot().Identities, 1)
	_, err = g.Enroll("x", "m", NewSample{Embedding: vec(1, 8)})
	require.ErrorIs(t, err, ErrCorrupt)
	after, _ := os.ReadFile(g.Path())
	assert.Equal(t, bad, after, "a corrupt file is never overwritten")

	// A well-formed file of another version.
	s := g.Snapshot()
	data, err := s.Encode()
	require.NoError(t, err)
	v2 := rewriteVersion(data, 2)
	require.NoError(t, os.WriteFile(g.Path(), v2, 0o600))
	_, err = OpenGallery(dir)
	require.ErrorIs(t, err, ErrVersion)
	assert.ErrorContains(t, err, "version 2")
}

// rewriteVersion sets the version field and fixes the checksum.
func rewriteVersion(data []byte, v uint32) []byte {
	out := append([]byte(nil), data[:len(data)-sumLen]...)
	out[len(galleryMagic)] = byte(v)
	return appendSum(out)
}

func TestGalleryConcurrentReadersDuringWrites(t *testing.T) {
	g, err := OpenGallery(t.TempDir())
	require.NoError(t, err)
	g.sync = false
	var readers, writers sync.WaitGroup
	stop := make(chan struct{})
	for r := range 4 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			last := uint64(0)
			for {
				select {
				case <-stop:
					return
				default:
				}
				s := g.Snapshot()
				assert.GreaterOrEqual(t, s.Gen, last, "reader %d", r)
				last = s.Gen
				m := NewMatcher(s, 0.3, AggMin)
				m.Match(vec(5, 8))
				assert.NoError(t, s.validate())
			}
		}()
	}
	for w := range 3 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := range 15 {
				_, err := g.Enroll(fmt.Sprintf("p%d", w), "m", NewSample{Embedding: vec(uint64(i), 8)})
				assert.NoError(t, err)
			}
		}()
	}
	writers.Wait()
	close(stop)
	readers.Wait()
	assert.Equal(t, 45, g.Snapshot().Samples())
	assert.Equal(t, uint64(45), g.Snapshot().Gen)
}

// Two Gallery values on one directory (two processes, in effect) do not
// lose each other's enrolments: each write starts from the file.
func TestGalleryTwoWritersOneDirectory(t *testing.T) {
	dir := t.TempDir()
	a, err := OpenGallery(dir)
	require.NoError(t, err)
	b, err := OpenGallery(dir)
	require.NoError(t, err)
	_, err = a.Enroll("alice", "m", NewSample{Embedding: vec(1, 4)})
	require.NoError(t, err)
	_, err = b.Enroll("bob", "m", NewSample{Embedding: vec(2, 4)})
	require.NoError(t, err)
	assert.Len(t, b.Snapshot().Identities, 2)
	changed, err := a.Reload()
	require.NoError(t, err)
	assert.True(t, changed)
	assert.Len(t, a.Snapshot().Identities, 2)
}

const crashEnv = "VIGIL_FACE_CRASH_CHILD"

// TestGalleryCrashConsistency re-executes the test binary as a child that
// enrols in a loop, printing each enrolment once Enroll has returned (it
// is then acknowledged: durable). The parent SIGKILLs the child at a
// random moment, then checks that the gallery loads and holds every
// acknowledged enrolment. SIGKILL stops the process between any two
// instructions, including mid-write and between write, fsync and rename;
// it does not simulate power loss (the fsyncs are there for that).
func TestGalleryCrashConsistency(t *testing.T) {
	if dir := os.Getenv(crashEnv); dir != "" {
		crashChild(dir)
		return
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(42, 43))
	acked := map[string]bool{}
	rounds := 50 // issue 7 asks for at least 50 kills; about 10 s on 2 cores
	if testing.Short() {
		rounds = 10
	}
	killed := 0
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestGalleryCrashConsistency$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir, fmt.Sprintf("VIGIL_FACE_CRASH_ROUND=%d", round))
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		lines := make(chan string)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Kill after a random number of acknowledgements plus a random delay
		// so the kill lands anywhere within a write.
		killAfter := rng.IntN(6)
		n := 0
		for line := range lines {
			if name, ok := strings.CutPrefix(line, "ACK "); ok {
				acked[name] = true
				n++
				if n > killAfter {
					time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
					break
				}
			}
		}
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		for line := range lines { // acknowledgements printed before the kill count
			if name, ok := strings.CutPrefix(line, "ACK "); ok {
				acked[name] = true
			}
		}
		if err := cmd.Wait(); err != nil {
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
				killed++
			}
		}

		g, err := OpenGallery(dir)
		require.NoError(t, err, "round %d: the gallery must always load", round)
		s := g.Snapshot()
		for name := range acked {
			_, ok := s.Find(name)
			require.True(t, ok, "round %d: acknowledged enrolment %q lost", round, name)
		}
	}
	assert.Equal(t, rounds, killed, "every round must end in a SIGKILL, not an exit")
	t.Logf("kills survived: %d of %d rounds; acknowledged enrolments: %d, all present after every restart", killed, rounds, len(acked))
}

func crashChild(dir string) {
	g, err := OpenGallery(dir)
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	round := os.Getenv("VIGIL_FACE_CRASH_ROUND")
	for i := 0; ; i++ {
		name := "r" + round + "-" + strconv.Itoa(i)
		// A chip makes each write larger (8 kB per identity), widening the window.
		chip := make([]byte, 8<<10)
		if _, err := g.Enroll(name, "m", NewSample{Embedding: vec(uint64(i), 128), Chip: chip}); err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		fmt.Println("ACK " + name)
	}
}
