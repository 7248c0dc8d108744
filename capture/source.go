package capture

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gocv.io/x/gocv"

	"github.com/vigil-edge/vigil/infer"
)

// Kind is the kind of a source, decided from the Config.Source string.
type Kind int

const (
	Device Kind = iota // V4L2 camera: /dev/videoN or an index N
	File               // a video file
	Stream             // a network stream: rtsp://, http://, ...
	Folder             // a folder of images, read in name order
)

func (k Kind) String() string {
	switch k {
	case Device:
		return "device"
	case File:
		return "file"
	case Stream:
		return "stream"
	case Folder:
		return "folder"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// KindOf tells what kind of source s names: /dev/videoN or a bare index is a device, a URL
// (scheme://...) a stream, an existing folder a folder, anything else a video file.
func KindOf(s string) Kind {
	if _, ok := deviceIndex(s); ok {
		return Device
	}
	if strings.Contains(s, "://") {
		return Stream
	}
	if st, err := os.Stat(s); err == nil && st.IsDir() {
		return Folder
	}
	return File
}

func deviceIndex(s string) (int, bool) {
	n := strings.TrimPrefix(s, "/dev/video")
	if n == "" {
		return 0, false
	}
	i, err := strconv.Atoi(n)
	return i, err == nil && i >= 0
}

// Image file extensions a Folder source reads; others are ignored.
var imageExts = []string{".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}

// Config describes one source. Only Source is required.
type Config struct {
	// Name is the camera's name, returned by Source.Name; default: Source.
	Name string
	// Source is a V4L2 device (/dev/video0 or 0), a video file, a stream URL or a folder.
	Source string
	// Width and Height, when both set, request that resolution from a device and resize every
	// frame of any source to it; 0 keeps the source's own.
	Width, Height int
	// FPS is the frame rate: requested from a device; the replay rate of a file (0: the file's
	// own) or folder (0: DefaultFolderFPS). Streams deliver at their own rate.
	FPS float64
	// Loop starts a file or folder again at its end instead of ending the stream.
	Loop bool
	// Unpaced reads files and folders as fast as the consumer takes the frames, never
	// dropping one: for tests and offline replays.
	Unpaced bool
	// Motion, when set, runs the motion gate on every frame read; nil marks every frame for
	// detection.
	Motion *MotionConfig
	// MinBackoff and MaxBackoff bound the delay before reopening a failed source; it doubles
	// after each failure and resets once frames flow. Defaults 500ms and 30s.
	MinBackoff, MaxBackoff time.Duration
	// EmptyLimit is how many failed or empty reads in a row make a device or stream count as
	// failed and be reopened. Default 5.
	EmptyLimit int
	// Logger receives state changes, with the source and its kind added; give it the camera's
	// own fields (camera=NAME). nil discards them.
	Logger *slog.Logger
}

// Defaults for zero Config fields.
const (
	DefaultFolderFPS  = 10
	DefaultFileFPS    = 25 // when a file does not say
	DefaultMinBackoff = 500 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
	DefaultEmptyLimit = 5
	MaxFPS            = 240
)

func (c Config) withDefaults() Config {
	if c.MinBackoff == 0 {
		c.MinBackoff = DefaultMinBackoff
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = max(DefaultMaxBackoff, c.MinBackoff)
	}
	if c.EmptyLimit == 0 {
		c.EmptyLimit = DefaultEmptyLimit
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Name == "" {
		c.Name = c.Source
	}
	return c
}

// Validate reports the first problem with c.
func (c Config) Validate() error {
	switch {
	case c.Source == "":
		return errors.New("capture: no source: set a device (/dev/video0), file, URL or folder")
	case c.Width < 0 || c.Height < 0 || (c.Width == 0) != (c.Height == 0):
		return fmt.Errorf("capture %q: width %d and height %d: set both (positive) or neither", c.Source, c.Width, c.Height)
	case !(c.FPS >= 0 && c.FPS <= MaxFPS):
		return fmt.Errorf("capture %q: fps %g: must be between 0 (the source's own) and %d", c.Source, c.FPS, MaxFPS)
	case c.MinBackoff < 0 || c.MaxBackoff < 0 || (c.MaxBackoff > 0 && c.MinBackoff > c.MaxBackoff):
		return fmt.Errorf("capture %q: backoff %v..%v: need 0 <= min <= max", c.Source, c.MinBackoff, c.MaxBackoff)
	case c.EmptyLimit < 0:
		return fmt.Errorf("capture %q: empty limit %d: must not be negative", c.Source, c.EmptyLimit)
	}
	if c.Motion != nil {
		if err := c.Motion.Validate(); err != nil {
			return fmt.Errorf("capture %q: %w", c.Source, err)
		}
	}
	return nil
}

// State is where a Source is in its life.
type State int

const (
	StateOpening State = iota // opening the source for the first time
	StateRunning              // delivering frames
	StateBackoff              // failed; waiting to reopen
	StateEnded                // the file or folder ended (and Loop is off)
	StateClosed               // Close was called
)

func (s State) String() string {
	switch s {
	case StateOpening:
		return "opening"
	case StateRunning:
		return "running"
	case StateBackoff:
		return "backoff"
	case StateEnded:
		return "ended"
	case StateClosed:
		return "closed"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// Health is a snapshot of a Source's state and counters, for /healthz and /metrics.
type Health struct {
	State     State
	Since     time.Time     // when State was entered
	Frames    uint64        // frames read from the source
	Delivered uint64        // frames taken by Next
	Dropped   uint64        // frames replaced in the mailbox before Next took them
	Failures  uint64        // failed opens and failed reads
	Reopens   uint64        // successful opens after the first
	LastFrame time.Time     // when the newest frame was read; zero before the first
	LastError string        // the newest failure, "" if none
	Backoff   time.Duration // the current delay, in StateBackoff
}

// Frame is one picture from a Source.
type Frame struct {
	// Seq numbers the frames read from the source, from 1; a gap means dropped frames.
	Seq uint64
	// Time is when the frame was read.
	Time time.Time
	// Pos is the frame's position in a file (0 for devices, streams and folders).
	Pos time.Duration
	// File is the image's path, for a folder source.
	File string
	// Image is the frame as 8-bit RGB. Its Pix is valid until the next call to Next.
	Image infer.Image
	// Motion is the gate's verdict, merged with that of any frame dropped since the previous
	// Next (motion on a dropped frame is not lost). Zero when Config.Motion is nil.
	Motion Motion
	// Detect tells whether to run the detector: always without a gate, otherwise motion or
	// the EveryN counter, here or on a dropped frame since the previous Next.
	Detect bool
	// Dropped counts the frames dropped between the previous Next and this frame.
	Dropped uint64
}

// ErrClosed is returned by Next after Close.
var ErrClosed = errors.New("capture: source closed")

// Source reads frames from one camera, file, stream or folder in its own goroutine and hands
// the newest to Next. Open starts it; Close stops it.
type Source struct {
	cfg  Config
	kind Kind
	log  *slog.Logger

	cancel context.CancelFunc
	done   chan struct{} // closed when the reader goroutine has exited
	ready  chan struct{} // a frame was put in the mailbox (capacity 1)
	taken  chan struct{} // the mailbox was emptied (capacity 1)

	closing atomic.Bool // Close was called

	mu     sync.Mutex
	slot   *frameBuf // the mailbox; nil when empty
	held   *frameBuf // the consumer's current frame
	free   []*frameBuf
	health Health
}

// frameBuf is one of the three rotating frame buffers.
type frameBuf struct {
	f     Frame
	boxes []image.Rectangle
}

// Open validates cfg and starts reading. A source that cannot be opened yet is not an error:
// it is retried with backoff and reported by Health; only an invalid cfg is.
func Open(cfg Config) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	var gate *MotionGate
	if cfg.Motion != nil {
		var err error
		if gate, err = NewMotionGate(*cfg.Motion); err != nil {
			return nil, fmt.Errorf("capture %q: %w", cfg.Source, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Source{
		cfg:    cfg,
		kind:   KindOf(cfg.Source),
		cancel: cancel,
		done:   make(chan struct{}),
		ready:  make(chan struct{}, 1),
		taken:  make(chan struct{}, 1),
		free:   []*frameBuf{{}, {}},
	}
	s.log = cfg.Logger.With("source", cfg.Source, "kind", s.kind.String())
	s.health = Health{State: StateOpening, Since: time.Now()}
	go s.run(ctx, gate)
	return s, nil
}

// Name is the camera's name from Config.Name.
func (s *Source) Name() string { return s.cfg.Name }

// Kind is the kind of source being read.
func (s *Source) Kind() Kind { return s.kind }

// Health returns a snapshot of the source's state and counters.
func (s *Source) Health() Health {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.health
}

// Next waits for a frame newer than the one it returned last and returns it. The frame's
// Image stays valid until the next call to Next. It returns io.EOF after the last frame of a
// file or folder (without Loop), ErrClosed after Close, and ctx's error when ctx is done.
// Next is meant for one consumer goroutine.
func (s *Source) Next(ctx context.Context) (Frame, error) {
	for {
		var ended bool
		select {
		case <-s.done:
			ended = true // checked before the slot: the reader publishes before it exits
		default:
		}
		if s.closing.Load() {
			return Frame{}, ErrClosed
		}
		s.mu.Lock()
		if b := s.slot; b != nil {
			if s.held != nil {
				s.free = append(s.free, s.held)
			}
			s.held, s.slot = b, nil
			s.health.Delivered++
			f := b.f
			s.mu.Unlock()
			select {
			case s.taken <- struct{}{}:
			default:
			}
			return f, nil
		}
		s.mu.Unlock()
		if ended {
			if s.closing.Load() {
				return Frame{}, ErrClosed
			}
			return Frame{}, io.EOF
		}
		select {
		case <-s.ready:
		case <-s.done:
		case <-ctx.Done():
			return Frame{}, ctx.Err()
		}
	}
}

// Close stops the reader, waits for it to release the source and its Mats, and makes Next
// return ErrClosed. A read blocked in the backend (a hung camera) delays Close until the
// backend's own read timeout.
func (s *Source) Close() error {
	s.closing.Store(true)
	s.cancel()
	<-s.done
	s.mu.Lock()
	s.slot, s.held, s.free = nil, nil, nil
	s.setStateLocked(StateClosed)
	s.mu.Unlock()
	return nil
}

func (s *Source) setState(st State) {
	s.mu.Lock()
	s.setStateLocked(st)
	s.mu.Unlock()
}

func (s *Source) setStateLocked(st State) {
	if s.health.State != st {
		s.health.State, s.health.Since = st, time.Now()
	}
}

// reader is one opened source.
type reader interface {
	// read reads the next frame into dst, returning io.EOF at the end of a file or folder.
	read(dst *gocv.Mat) (name string, pos time.Duration, err error)
	// fps is the source's own frame rate, 0 if unknown.
	fps() float64
	close()
}

// errEmpty marks a failed or empty read from a device or stream, which is retried up to
// EmptyLimit times in a row before the source is reopened.
var errEmpty = errors.New("empty frame")

type videoReader struct {
	vc   *gocv.VideoCapture
	kind Kind
}

func (r *videoReader) read(dst *gocv.Mat) (string, time.Duration, error) {
	if !r.vc.Read(dst) || dst.Empty() {
		if r.kind == File {
			return "", 0, io.EOF
		}
		return "", 0, errEmpty
	}
	var pos time.Duration
	if r.kind == File {
		pos = time.Duration(r.vc.Get(gocv.VideoCapturePosMsec) * float64(time.Millisecond))
	}
	return "", pos, nil
}

func (r *videoReader) fps() float64 {
	f := r.vc.Get(gocv.VideoCaptureFPS)
	if f > 0 && f <= MaxFPS {
		return f
	}
	return 0
}

func (r *videoReader) close() { r.vc.Close() }

type folderReader struct {
	files []string
	i     int
}

func (r *folderReader) read(dst *gocv.Mat) (string, time.Duration, error) {
	if r.i >= len(r.files) {
		return "", 0, io.EOF
	}
	name := r.files[r.i]
	m := gocv.IMRead(name, gocv.IMReadColor)
	if m.Empty() {
		m.Close()
		if _, err := os.Stat(name); err != nil {
			return "", 0, fmt.Errorf("read %s: %w", name, err)
		}
		return "", 0, fmt.Errorf("read %s: not an image OpenCV can decode", name)
	}
	r.i++
	// Hand the decoded Mat over and close the one it replaces.
	*dst, m = m, *dst
	m.Close()
	return name, 0, nil
}

func (r *folderReader) fps() float64 { return 0 }
func (r *folderReader) close()       {}

// openReader opens the source. For a folder, it lists the images whose names sort after
// after, so a folder reopened after a failure continues after the last image delivered (and
// has ended when none sorts after it).
func (s *Source) openReader(after string) (reader, error) {
	switch s.kind {
	case Folder:
		ents, err := os.ReadDir(s.cfg.Source)
		if err != nil {
			return nil, fmt.Errorf("open folder: %w", err)
		}
		var all, files []string
		for _, e := range ents {
			if e.IsDir() || !slices.Contains(imageExts, strings.ToLower(filepath.Ext(e.Name()))) {
				continue
			}
			p := filepath.Join(s.cfg.Source, e.Name())
			all = append(all, p)
			if p > after {
				files = append(files, p)
			}
		}
		if len(all) == 0 {
			return nil, fmt.Errorf("open folder %s: no images (%s)", s.cfg.Source, strings.Join(imageExts, " "))
		}
		slices.Sort(files)
		return &folderReader{files: files}, nil
	case Device:
		idx, _ := deviceIndex(s.cfg.Source)
		vc, err := gocv.VideoCaptureDeviceWithAPI(idx, gocv.VideoCaptureV4L2)
		if err != nil || !vc.IsOpened() {
			vc.Close()
			return nil, fmt.Errorf("open V4L2 device %d: cannot open (is it there, and is the user in group video?)", idx)
		}
		if s.cfg.Width > 0 {
			vc.Set(gocv.VideoCaptureFrameWidth, float64(s.cfg.Width))
			vc.Set(gocv.VideoCaptureFrameHeight, float64(s.cfg.Height))
		}
		if s.cfg.FPS > 0 {
			vc.Set(gocv.VideoCaptureFPS, s.cfg.FPS)
		}
		// Keep the driver's queue short: old frames in it are latency.
		vc.Set(gocv.VideoCaptureBufferSize, 1)
		return &videoReader{vc: vc, kind: Device}, nil
	default:
		if s.kind == File {
			if _, err := os.Stat(s.cfg.Source); err != nil {
				return nil, fmt.Errorf("open video file: %w", err)
			}
		}
		vc, err := gocv.VideoCaptureFileWithAPI(s.cfg.Source, gocv.VideoCaptureFFmpeg)
		if err != nil || !vc.IsOpened() {
			vc.Close()
			return nil, fmt.Errorf("open %s %s: OpenCV's FFmpeg backend cannot open it", s.kind, s.cfg.Source)
		}
		return &videoReader{vc: vc, kind: s.kind}, nil
	}
}

// run is the reader goroutine: open, read until failure or end, reopen with backoff.
func (s *Source) run(ctx context.Context, gate *MotionGate) {
	frame, scaled, rgb := gocv.NewMat(), gocv.NewMat(), gocv.NewMat()
	work := &frameBuf{}
	defer func() {
		frame.Close()
		scaled.Close()
		rgb.Close()
		if gate != nil {
			gate.Close()
		}
		close(s.done)
	}()

	backoff := s.cfg.MinBackoff
	opened := false
	lastFile := "" // folder: the newest image delivered, to continue after a reopen
	for ctx.Err() == nil {
		r, err := s.openReader(lastFile)
		if err != nil {
			s.fail(err)
			if !s.wait(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, s.cfg.MaxBackoff)
			continue
		}
		s.mu.Lock()
		if opened {
			s.health.Reopens++
		}
		s.setStateLocked(StateRunning)
		s.mu.Unlock()
		if !opened {
			s.log.Info("capture opened")
		} else {
			s.log.Info("capture reopened")
		}
		opened = true
		if gate != nil {
			gate.Reset()
		}

		interval := time.Duration(0)
		if !s.cfg.Unpaced && (s.kind == File || s.kind == Folder) {
			fps := s.cfg.FPS
			if fps == 0 {
				fps = r.fps()
			}
			if fps == 0 {
				fps = map[Kind]float64{File: DefaultFileFPS, Folder: DefaultFolderFPS}[s.kind]
			}
			interval = time.Duration(float64(time.Second) / fps)
		}

		var (
			got     bool
			empties int
			next    time.Time
			readErr error
		)
		for ctx.Err() == nil {
			name, pos, err := r.read(&frame)
			if errors.Is(err, errEmpty) {
				empties++
				if empties < s.cfg.EmptyLimit {
					continue
				}
				err = fmt.Errorf("%d failed or empty reads in a row", empties)
			}
			if err != nil {
				readErr = err
				break
			}
			empties = 0
			now := time.Now()
			if interval > 0 {
				// Pace replays; after a stall, start the schedule again rather than burst.
				if next.IsZero() || now.Sub(next) > interval {
					next = now
				}
				if !s.sleepUntil(ctx, next) {
					break
				}
				now = time.Now()
				next = next.Add(interval)
			}
			if !got {
				got = true
				backoff = s.cfg.MinBackoff
			}
			if name != "" {
				lastFile = name
			}
			if err := s.deliver(ctx, work, gate, &frame, &scaled, &rgb, now, pos, name); err != nil {
				readErr = err
				break
			}
			if s.cfg.Unpaced && !s.waitTaken(ctx) {
				break
			}
			work = s.swapWork(work)
		}
		r.close()
		if ctx.Err() != nil {
			return
		}
		if errors.Is(readErr, io.EOF) {
			if s.cfg.Loop && got {
				lastFile = ""
				s.log.Debug("capture looping")
				continue
			}
			s.setState(StateEnded)
			s.log.Info("capture ended")
			return
		}
		s.fail(readErr)
		if !s.wait(ctx, backoff) {
			return
		}
		backoff = min(2*backoff, s.cfg.MaxBackoff)
	}
}

// deliver converts frame into work's image, runs the gate, and puts work in the mailbox.
func (s *Source) deliver(ctx context.Context, work *frameBuf, gate *MotionGate, frame, scaled, rgb *gocv.Mat, now time.Time, pos time.Duration, name string) error {
	src := frame
	if s.cfg.Width > 0 && (frame.Cols() != s.cfg.Width || frame.Rows() != s.cfg.Height) {
		gocv.Resize(*frame, scaled, image.Pt(s.cfg.Width, s.cfg.Height), 0, 0, gocv.InterpolationArea)
		src = scaled
	}
	var m Motion
	if gate != nil {
		var err error
		if m, err = gate.Check(*src); err != nil {
			return err
		}
	}
	switch src.Channels() {
	case 3:
		gocv.CvtColor(*src, rgb, gocv.ColorBGRToRGB)
	case 4:
		gocv.CvtColor(*src, rgb, gocv.ColorRGBAToBGR) // same code as BGRA to RGB: drop alpha, swap R and B
	case 1:
		gocv.CvtColor(*src, rgb, gocv.ColorGrayToBGR) // grey: R = G = B
	default:
		return fmt.Errorf("frame has %d channels", src.Channels())
	}
	pix, err := rgb.DataPtrUint8()
	if err != nil {
		return fmt.Errorf("frame data: %w", err)
	}
	w, h := rgb.Cols(), rgb.Rows()
	f := &work.f
	if cap(f.Image.Pix) < 3*w*h {
		f.Image.Pix = make([]uint8, 3*w*h)
	}
	f.Image.W, f.Image.H, f.Image.Pix = w, h, f.Image.Pix[:3*w*h]
	copy(f.Image.Pix, pix)
	work.boxes = append(work.boxes[:0], m.Boxes...)
	m.Boxes = work.boxes
	f.Time, f.Pos, f.File, f.Motion, f.Dropped = now, pos, name, m, 0
	f.Detect = gate == nil || m.Detect()

	s.mu.Lock()
	s.health.Frames++
	s.health.LastFrame = now
	f.Seq = s.health.Frames
	if old := s.slot; old != nil {
		// Newest wins: drop the waiting frame, keep what it knew about motion.
		s.health.Dropped++
		f.Dropped = old.f.Dropped + 1
		f.Detect = f.Detect || old.f.Detect
		f.Motion.Forced = f.Motion.Forced || old.f.Motion.Forced
		if !f.Motion.Moved && old.f.Motion.Moved {
			f.Motion.Moved, f.Motion.Area = true, old.f.Motion.Area
			work.boxes = append(work.boxes[:0], old.boxes...)
			f.Motion.Boxes = work.boxes
		}
		s.free = append(s.free, old)
	}
	s.slot = work
	s.mu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default:
	}
	return nil
}

// swapWork returns a free buffer for the next frame (work itself is in the mailbox now).
func (s *Source) swapWork(work *frameBuf) *frameBuf {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.free); n > 0 {
		b := s.free[n-1]
		s.free = s.free[:n-1]
		return b
	}
	return &frameBuf{} // cannot happen with three buffers; never fatal
}

// waitTaken waits until the consumer has taken the frame in the mailbox (Unpaced).
func (s *Source) waitTaken(ctx context.Context) bool {
	for {
		s.mu.Lock()
		empty := s.slot == nil
		s.mu.Unlock()
		if empty {
			return true
		}
		select {
		case <-s.taken:
		case <-ctx.Done():
			return false
		}
	}
}

func (s *Source) fail(err error) {
	s.mu.Lock()
	s.health.Failures++
	s.health.LastError = err.Error()
	s.setStateLocked(StateBackoff)
	s.mu.Unlock()
	s.log.Warn("capture failed; will reopen", "err", err)
}

// wait sleeps d in StateBackoff; false if ctx ended first.
func (s *Source) wait(ctx context.Context, d time.Duration) bool {
	s.mu.Lock()
	s.health.Backoff = d
	s.mu.Unlock()
	return sleep(ctx, d)
}

func (s *Source) sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	return sleep(ctx, d)
}

// sleep waits d; false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
