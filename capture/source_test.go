package capture

import (
	"context"
	"fmt"
	"image"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocv.io/x/gocv"
)

// The tests read the project's shared photographs; none is shipped in this package.
const (
	johnsDir = "../../shared/testdata/johns"
	facesDir = "../../shared/testdata/faces"
)

// waitFor polls cond; the bound only keeps a broken test from hanging, it measures nothing.
const waitFor = 30 * time.Second

// johns copies the johns photographs (150x150 JPEGs, in three folders) into one new folder
// as 000.jpg, 001.jpg, ... and returns it with the sorted file names.
func johns(t testing.TB) (string, []string) {
	t.Helper()
	var src []string
	err := filepath.WalkDir(johnsDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(p) == ".jpg" {
			src = append(src, p)
		}
		return err
	})
	require.NoError(t, err, "the shared test photographs are missing (../shared/testdata/johns)")
	require.GreaterOrEqual(t, len(src), 6, "want at least 6 photographs in %s", johnsDir)
	slices.Sort(src)
	dir := t.TempDir()
	var names []string
	for i, p := range src {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		n := filepath.Join(dir, fmt.Sprintf("%03d.jpg", i))
		require.NoError(t, os.WriteFile(n, b, 0o644))
		names = append(names, n)
	}
	// Not an image: ignored.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644))
	return dir, names
}

func open(t testing.TB, cfg Config) *Source {
	t.Helper()
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff, cfg.MaxBackoff = time.Millisecond, 20*time.Millisecond
	}
	s, err := Open(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func next(t *testing.T, s *Source) Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	f, err := s.Next(ctx)
	require.NoError(t, err)
	return f
}

func requireEOF(t *testing.T, s *Source) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_, err := s.Next(ctx)
	require.ErrorIs(t, err, io.EOF)
}

func waitState(t *testing.T, s *Source, st State) Health {
	t.Helper()
	require.Eventually(t, func() bool { return s.Health().State == st }, waitFor, time.Millisecond,
		"state %v never reached; health %+v", st, s.Health())
	return s.Health()
}

// sameAsIMRead checks that img is the RGB version of what OpenCV decodes from path.
func sameAsIMRead(t *testing.T, path string, f Frame) {
	t.Helper()
	m := gocv.IMRead(path, gocv.IMReadColor)
	defer m.Close()
	require.False(t, m.Empty())
	require.Equal(t, m.Cols(), f.Image.W)
	require.Equal(t, m.Rows(), f.Image.H)
	bgr, err := m.DataPtrUint8()
	require.NoError(t, err)
	require.Len(t, f.Image.Pix, len(bgr))
	for i := 0; i < len(bgr); i += 3 {
		if bgr[i] != f.Image.Pix[i+2] || bgr[i+1] != f.Image.Pix[i+1] || bgr[i+2] != f.Image.Pix[i] {
			t.Fatalf("%s: pixel %d: BGR %v, frame RGB %v", path, i/3, bgr[i:i+3], f.Image.Pix[i:i+3])
		}
	}
}

func TestKindOf(t *testing.T) {
	dir := t.TempDir()
	for s, want := range map[string]Kind{
		"/dev/video0":                Device,
		"/dev/video12":               Device,
		"2":                          Device,
		"rtsp://192.0.2.1:554/live":  Stream,
		"http://127.0.0.1/cam.mjpeg": Stream,
		dir:                          Folder,
		filepath.Join(dir, "a.mp4"):  File,
		"/dev/videox":                File,
	} {
		assert.Equal(t, want, KindOf(s), s)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "no source"},
		{Config{Source: "x", Width: 640}, "set both"},
		{Config{Source: "x", FPS: 1000}, "fps 1000"},
		{Config{Source: "x", MinBackoff: time.Second, MaxBackoff: time.Millisecond}, "backoff"},
		{Config{Source: "x", Motion: &MotionConfig{Threshold: 300}}, "threshold 300"},
	} {
		_, err := Open(tc.cfg)
		assert.ErrorContains(t, err, tc.want)
	}
}

func TestFolderInOrderThenEOF(t *testing.T) {
	dir, names := johns(t)
	s := open(t, Config{Source: dir, Unpaced: true})
	assert.Equal(t, Folder, s.Kind())
	var prev time.Time
	for i, name := range names {
		f := next(t, s)
		assert.Equal(t, uint64(i+1), f.Seq)
		assert.Equal(t, name, f.File)
		assert.Zero(t, f.Dropped)
		assert.True(t, f.Detect, "no gate: every frame is for detection")
		assert.False(t, f.Time.Before(prev), "timestamps never go back")
		prev = f.Time
		sameAsIMRead(t, name, f)
	}
	requireEOF(t, s)
	requireEOF(t, s)
	h := s.Health()
	assert.Equal(t, StateEnded, h.State)
	assert.Equal(t, uint64(len(names)), h.Frames)
	assert.Equal(t, uint64(len(names)), h.Delivered)
	assert.Zero(t, h.Dropped)
	assert.Zero(t, h.Failures)

	require.NoError(t, s.Close())
	_, err := s.Next(context.Background())
	assert.ErrorIs(t, err, ErrClosed)
	assert.Equal(t, StateClosed, s.Health().State)
	assert.NoError(t, s.Close(), "Close twice is fine")
}

func TestFolderResizeAndLoop(t *testing.T) {
	dir, names := johns(t)
	s := open(t, Config{Source: dir, Unpaced: true, Loop: true, Width: 64, Height: 48})
	for i := 0; i < 2*len(names)+1; i++ {
		f := next(t, s)
		assert.Equal(t, names[i%len(names)], f.File)
		assert.Equal(t, 64, f.Image.W)
		assert.Equal(t, 48, f.Image.H)
		assert.Len(t, f.Image.Pix, 64*48*3)
	}
	assert.Equal(t, StateRunning, s.Health().State)
}

// The mailbox holds one frame: a consumer that does not keep up gets the newest, and the
// rest are dropped and counted.
func TestNewestFrameWins(t *testing.T) {
	dir, names := johns(t)
	s := open(t, Config{Source: dir, FPS: MaxFPS, Motion: &MotionConfig{}})
	waitState(t, s, StateEnded)
	f := next(t, s)
	n := uint64(len(names))
	assert.Equal(t, n, f.Seq, "the newest frame")
	assert.Equal(t, names[len(names)-1], f.File)
	assert.Equal(t, n-1, f.Dropped)
	// Every photograph differs from the one before, so the dropped frames had motion, and it
	// is carried over.
	assert.True(t, f.Motion.Moved)
	assert.True(t, f.Detect)
	requireEOF(t, s)
	h := s.Health()
	assert.Equal(t, n, h.Frames)
	assert.Equal(t, uint64(1), h.Delivered)
	assert.Equal(t, n-1, h.Dropped)
}

// Files that disappear mid-stream make the source fail and retry with backoff; when they
// come back it continues after the last image it delivered.
func TestFolderFilesDisappearAndComeBack(t *testing.T) {
	dir, names := johns(t)
	stash := t.TempDir()
	s := open(t, Config{Source: dir, Unpaced: true})

	const k = 3
	var got []string
	for range k {
		got = append(got, next(t, s).File)
	}
	// Unpaced, the reader reads image k+1 and waits for it to be taken.
	require.Eventually(t, func() bool { return s.Health().Frames == k+1 }, waitFor, time.Millisecond)
	for _, n := range names {
		require.NoError(t, os.Rename(n, filepath.Join(stash, filepath.Base(n))))
	}
	got = append(got, next(t, s).File)
	// Reading image k+2 fails; so does every reopen of the empty folder.
	require.Eventually(t, func() bool { return s.Health().Failures >= 3 }, waitFor, time.Millisecond,
		"an empty folder keeps failing: %+v", s.Health())
	h := s.Health()
	assert.Equal(t, StateBackoff, h.State)
	assert.Contains(t, h.LastError, "no images")
	assert.Equal(t, uint64(k+1), h.Frames)

	// Put them back, the last first: a reopened folder continues after the last image it
	// delivered, and one with nothing after that has ended.
	for i := len(names) - 1; i >= 0; i-- {
		require.NoError(t, os.Rename(filepath.Join(stash, filepath.Base(names[i])), names[i]))
	}
	for len(got) < len(names) {
		got = append(got, next(t, s).File)
	}
	assert.Equal(t, names, got, "every image once, in order")
	requireEOF(t, s)
	h = s.Health()
	assert.GreaterOrEqual(t, h.Reopens, uint64(1))
	assert.GreaterOrEqual(t, h.Failures, uint64(2))
	assert.Equal(t, StateEnded, h.State)
}

func TestMissingSourcesRetryAndClose(t *testing.T) {
	for _, src := range []string{
		filepath.Join(t.TempDir(), "missing.mp4"),
		"rtsp://127.0.0.1:1/none", // loopback, nothing listens
		"/dev/video99",
	} {
		t.Run(filepath.Base(src), func(t *testing.T) {
			s := open(t, Config{Source: src})
			require.Eventually(t, func() bool { return s.Health().Failures >= 3 }, waitFor, time.Millisecond)
			h := s.Health()
			assert.Contains(t, []State{StateBackoff, StateOpening}, h.State)
			assert.NotEmpty(t, h.LastError)
			assert.LessOrEqual(t, h.Backoff, 20*time.Millisecond, "capped")

			// Next waits; Close wakes it with ErrClosed.
			errc := make(chan error, 1)
			go func() {
				_, err := s.Next(context.Background())
				errc <- err
			}()
			require.NoError(t, s.Close())
			assert.ErrorIs(t, <-errc, ErrClosed)
		})
	}
}

func TestNextHonoursContext(t *testing.T) {
	s := open(t, Config{Source: filepath.Join(t.TempDir(), "missing")})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Next(ctx)
	assert.ErrorIs(t, err, context.Canceled)
}

// makeVideo writes the faces photographs, each `repeat` times, as a 320x240 MJPEG AVI at
// 10 fps with gocv's VideoWriter, and returns its path and frame count.
func makeVideo(t testing.TB, repeat int) (string, int) {
	t.Helper()
	photos, err := filepath.Glob(filepath.Join(facesDir, "*.jpg"))
	require.NoError(t, err)
	require.NotEmpty(t, photos, "the shared test photographs are missing (../shared/testdata/faces)")
	slices.Sort(photos)
	path := filepath.Join(t.TempDir(), "faces.avi")
	vw, err := gocv.VideoWriterFile(path, "MJPG", 10, 320, 240, true)
	require.NoError(t, err)
	small := gocv.NewMat()
	defer small.Close()
	n := 0
	for _, p := range photos {
		m := gocv.IMRead(p, gocv.IMReadColor)
		require.False(t, m.Empty(), p)
		gocv.Resize(m, &small, image.Pt(320, 240), 0, 0, gocv.InterpolationArea)
		m.Close()
		for range repeat {
			require.NoError(t, vw.Write(small))
			n++
		}
	}
	require.NoError(t, vw.Close())
	return path, n
}

func TestVideoFileFramesMotionAndLoop(t *testing.T) {
	path, n := makeVideo(t, 3)
	s := open(t, Config{Source: path, Unpaced: true, Motion: &MotionConfig{}})
	assert.Equal(t, File, s.Kind())
	var moved []uint64
	var lastPos time.Duration = -1
	for i := 1; i <= n; i++ {
		f := next(t, s)
		require.Equal(t, uint64(i), f.Seq)
		assert.Equal(t, 320, f.Image.W)
		assert.Equal(t, 240, f.Image.H)
		assert.Greater(t, f.Pos, lastPos, "positions in the file increase")
		lastPos = f.Pos
		if f.Motion.Moved {
			moved = append(moved, f.Seq)
		}
		assert.Equal(t, f.Motion.Moved, f.Detect)
	}
	requireEOF(t, s)
	// A new photograph every third frame (4, 7, ...) is motion; a repeated frame is not.
	var want []uint64
	for i := 4; i <= n; i += 3 {
		want = append(want, uint64(i))
	}
	assert.Equal(t, want, moved)

	l := open(t, Config{Source: path, Unpaced: true, Loop: true})
	for i := 1; i <= 2*n+2; i++ {
		assert.Equal(t, uint64(i), next(t, l).Seq)
	}
	h := l.Health()
	assert.Zero(t, h.Failures, "looping is not a failure")
	assert.Equal(t, StateRunning, h.State)
}

func TestVideoFilePacedAtItsOwnRate(t *testing.T) {
	path, n := makeVideo(t, 1)
	s := open(t, Config{Source: path})
	var times []time.Time
	for range n {
		times = append(times, next(t, s).Time)
	}
	requireEOF(t, s)
	// Paced at the file's 10 fps, frame i is read no earlier than i*100ms after the first (a
	// late reader only starts its schedule again later). Only this lower bound is checked:
	// a slow machine may take longer.
	span := times[len(times)-1].Sub(times[0])
	assert.GreaterOrEqual(t, span, time.Duration(n-1)*100*time.Millisecond-time.Millisecond)
	for i := 1; i < len(times); i++ {
		assert.True(t, times[i].After(times[i-1]))
	}
}

// An HTTP URL is a stream: read through OpenCV's FFmpeg backend from a loopback server. At
// its end a stream is not over: it is reopened, as a camera that dropped out would be.
func TestHTTPStreamReopensAtItsEnd(t *testing.T) {
	path, n := makeVideo(t, 1)
	srv := httptest.NewServer(http.FileServer(http.Dir(filepath.Dir(path))))
	defer srv.Close()
	s := open(t, Config{Source: srv.URL + "/" + filepath.Base(path), EmptyLimit: 2})
	assert.Equal(t, Stream, s.Kind())
	for range 2*n + 1 {
		f := next(t, s)
		assert.Equal(t, 320, f.Image.W)
	}
	h := s.Health()
	assert.GreaterOrEqual(t, h.Reopens, uint64(2))
	assert.Contains(t, h.LastError, "empty reads in a row")
}

func TestNoMatsLeakAcrossOpenAndClose(t *testing.T) {
	if !matProfile {
		t.Log("built without -tags matprofile: gocv cannot count Mats; make test sets the tag")
		return
	}
	before := matCount()
	dir, _ := johns(t)
	s, err := Open(Config{Source: dir, Unpaced: true, Motion: &MotionConfig{Masks: []Polygon{{{0, 0}, {1, 0}, {0, 1}}}}})
	require.NoError(t, err)
	for range 3 {
		_, err := s.Next(context.Background())
		require.NoError(t, err)
	}
	require.NoError(t, s.Close())
	assert.Equal(t, before, matCount())
}
