package daemon

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/detect"
	"github.com/vigil-edge/vigil/infer"
)

// countingAnnotator "encodes" a frame as the frame number the scene wrote into its first
// pixels (a fake JPEG: FF D8 then the number), and counts its calls.
type countingAnnotator struct{ calls atomic.Int64 }

func (a *countingAnnotator) Annotate(im *infer.Image, obs []Observation) ([]byte, error) {
	a.calls.Add(1)
	return binary.LittleEndian.AppendUint32([]byte{0xFF, 0xD8}, binary.LittleEndian.Uint32(im.Pix)), nil
}

func frameOf(t *testing.T, j []byte) uint32 {
	t.Helper()
	require.Len(t, j, 6)
	return binary.LittleEndian.Uint32(j[2:])
}

func testCamera(src Source, hub *FrameHub, ann Annotator) *Camera {
	sc := &scene{present: func(int) map[string]detect.Box {
		return map[string]detect.Box{"alice": {X: 10, Y: 10, W: 20, H: 20}}
	}}
	return &Camera{
		Name: "door", Source: src, Detector: sc, Recognizer: sc, Sink: nullSink{},
		Tracker: NewTracker("door", TrackerConfigFrom(Default().Thresholds)),
		Frames:  hub, Annotate: ann,
	}
}

// No viewer, no JPEG: the camera hands its preview frames over raw, and a snapshot taken
// after the camera stopped still shows its last preview frame.
func TestCameraEncodesPreviewsOnlyForViewers(t *testing.T) {
	hub := NewFrameHub("door")
	var ann countingAnnotator
	cam := testCamera(&scene{frames: 30}, hub, ann.Annotate)
	require.NoError(t, cam.Run(context.Background()))
	assert.Zero(t, ann.calls.Load(), "nobody asked for a preview")

	j, seq, err := hub.NextJPEG(context.Background(), "door", 0)
	require.NoError(t, err)
	assert.Equal(t, uint32(29), frameOf(t, j), "the newest frame (PreviewEvery 0: every frame)")
	assert.Equal(t, uint64(30), seq)
	j2, seq2, err := hub.NextJPEG(context.Background(), "door", 0)
	require.NoError(t, err)
	assert.Equal(t, j, j2)
	assert.Equal(t, seq, seq2)
	assert.Equal(t, int64(1), ann.calls.Load(), "one encode per frame, whoever asks")
}

// A camera loop's own garbage per frame (detector and recogniser stubbed out, a face in every
// frame, previews handed to the hub) is the poll context of Source.Next and nothing else.
func TestCameraFrameAllocations(t *testing.T) {
	hub := NewFrameHub("door")
	var ann countingAnnotator
	src := &replaySource{scenes: []*infer.Image{infer.NewImage(64, 48), infer.NewImage(64, 48)}, n: 20}
	stub := &stubModels{dets: []detect.Detection{{Box: detect.Box{X: 10, Y: 10, W: 20, H: 20}, Score: 0.9}}}
	cam := &Camera{
		Name: "door", Source: src, Detector: stub, Recognizer: stub, Sink: nullSink{},
		Tracker: NewTracker("door", TrackerConfigFrom(Default().Thresholds)),
		Health:  NewHealth([]string{"door"}, nil), Metrics: NewMetrics(func() float64 { return 0 }),
		Frames: hub, Annotate: ann.Annotate, PreviewEvery: 200 * time.Millisecond,
	}
	require.NoError(t, cam.Run(context.Background())) // warm up: buffers grown, hub slot filled
	const frames = 200
	allocs := testing.AllocsPerRun(1, func() {
		src.n, src.i = frames, 0
		if err := cam.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("allocations per frame: %.2f", allocs/frames)
	assert.LessOrEqual(t, allocs/frames, 4.5, "context.WithTimeout costs 4")
	assert.Zero(t, ann.calls.Load())
}

func TestFrameHubPutFrameCopiesAndEncodesOnce(t *testing.T) {
	hub := NewFrameHub("door")
	var ann countingAnnotator
	im := infer.NewImage(4, 4)
	for i := 1; i <= 3; i++ {
		binary.LittleEndian.PutUint32(im.Pix, uint32(i))
		require.True(t, hub.PutFrame("door", im, nil, ann.Annotate))
	}
	assert.True(t, hub.PutFrame("attic", im, nil, ann.Annotate), "unknown cameras are ignored")
	binary.LittleEndian.PutUint32(im.Pix, 99) // the capture loop reuses its buffer
	assert.Zero(t, ann.calls.Load())

	ctx := context.Background()
	j, seq, err := hub.NextJPEG(ctx, "door", 0)
	require.NoError(t, err)
	assert.Equal(t, uint32(3), frameOf(t, j), "PutFrame copied the pixels")
	assert.Equal(t, uint64(3), seq)

	// Viewers share the encoded JPEG; a stream waits for the next frame.
	var wg sync.WaitGroup
	got := make([][]byte, 3)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], _, _ = hub.NextJPEG(ctx, "door", seq)
		}()
	}
	binary.LittleEndian.PutUint32(im.Pix, 4)
	require.True(t, hub.PutFrame("door", im, nil, ann.Annotate))
	wg.Wait()
	for _, g := range got {
		assert.Equal(t, uint32(4), frameOf(t, g))
	}
	assert.Equal(t, int64(2), ann.calls.Load())

	// A JPEG put directly is the newest then.
	hub.Put("door", []byte{0xFF, 0xD8, 7, 0, 0, 0})
	j, seq, err = hub.NextJPEG(ctx, "door", 0)
	require.NoError(t, err)
	assert.Equal(t, uint32(7), frameOf(t, j))
	assert.Equal(t, uint64(5), seq)
	assert.Equal(t, int64(2), ann.calls.Load())
}

// While a viewer's encoding reads the slot's frame, PutFrame stores nothing (and says so),
// so the camera never writes a buffer being read.
func TestFrameHubPutFrameWhileEncoding(t *testing.T) {
	hub := NewFrameHub("door")
	entered, release := make(chan struct{}), make(chan struct{})
	slow := func(im *infer.Image, obs []Observation) ([]byte, error) {
		close(entered)
		<-release
		return binary.LittleEndian.AppendUint32([]byte{0xFF, 0xD8}, binary.LittleEndian.Uint32(im.Pix)), nil
	}
	im := infer.NewImage(4, 4)
	binary.LittleEndian.PutUint32(im.Pix, 1)
	require.True(t, hub.PutFrame("door", im, nil, slow))
	done := make(chan []byte)
	go func() {
		j, _, _ := hub.NextJPEG(context.Background(), "door", 0)
		done <- j
	}()
	<-entered
	binary.LittleEndian.PutUint32(im.Pix, 2)
	assert.False(t, hub.PutFrame("door", im, nil, slow), "the frame is being encoded")
	close(release)
	assert.Equal(t, uint32(1), frameOf(t, <-done))
	var ann countingAnnotator
	assert.True(t, hub.PutFrame("door", im, nil, ann.Annotate))
	j, _, err := hub.NextJPEG(context.Background(), "door", 0)
	require.NoError(t, err)
	assert.Equal(t, uint32(2), frameOf(t, j))
}

// A frame that cannot be encoded is not tried again; viewers get the JPEG before it, if any,
// and a panicking annotator leaves the slot usable.
func TestFrameHubEncodeFailures(t *testing.T) {
	hub := NewFrameHub("door")
	var fails atomic.Int64
	bad := func(*infer.Image, []Observation) ([]byte, error) {
		fails.Add(1)
		return nil, errors.New("no encoder")
	}
	im := infer.NewImage(4, 4)
	require.True(t, hub.PutFrame("door", im, nil, bad))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, _, err := hub.NextJPEG(ctx, "door", 0)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "no JPEG at all: wait for the next frame")
	assert.Equal(t, int64(1), fails.Load())

	hub.Put("door", []byte{0xFF, 0xD8, 5, 0, 0, 0})
	require.True(t, hub.PutFrame("door", im, nil, bad))
	j, seq, err := hub.NextJPEG(context.Background(), "door", 0)
	require.NoError(t, err)
	assert.Equal(t, uint32(5), frameOf(t, j))
	assert.Equal(t, uint64(2), seq)
	assert.Equal(t, int64(2), fails.Load())

	require.True(t, hub.PutFrame("door", im, nil, func(*infer.Image, []Observation) ([]byte, error) { panic("boom") }))
	assert.Panics(t, func() { _, _, _ = hub.NextJPEG(context.Background(), "door", 0) })
	var ann countingAnnotator
	binary.LittleEndian.PutUint32(im.Pix, 6)
	require.True(t, hub.PutFrame("door", im, nil, ann.Annotate), "the slot is not left marked as being read")
	j, _, err = hub.NextJPEG(context.Background(), "door", 0)
	require.NoError(t, err)
	assert.Equal(t, uint32(6), frameOf(t, j))
}
