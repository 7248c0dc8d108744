package capture

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// In the steady state a frame from a camera, file or stream costs no Go allocation, motion
// gate included: the three frame buffers rotate and the Mats are reused (OpenCV's own buffers
// are C memory, not counted here). A folder source decodes each image into a new Mat, which
// costs a few small allocations under -tags matprofile.
func TestSteadyStateAllocatesNothing(t *testing.T) {
	path, n := makeVideo(t, 20)
	require.Greater(t, n, 80)
	s := open(t, Config{Source: path, Unpaced: true, Motion: &MotionConfig{}})
	ctx := context.Background()
	for range 20 { // warm up: buffers sized, every image seen once
		_, err := s.Next(ctx)
		require.NoError(t, err)
	}
	allocs := testing.AllocsPerRun(50, func() {
		if _, err := s.Next(ctx); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("Go allocations per frame: %.2f", allocs)
	assert.LessOrEqual(t, allocs, 0.0)
}

// BenchmarkSourceNext is the capture side of a frame in the steady state (motion gate on,
// unpaced, looping): B/op and allocs/op are Go garbage per frame. OpenCV's own buffers are C
// memory and not counted; a folder decodes each image into a new Mat (a C allocation of the
// frame's size per frame, freed at once).
func BenchmarkSourceNext(b *testing.B) {
	video, _ := makeVideo(b, 4)
	folder, _ := johns(b)
	for _, bc := range []struct {
		name string
		cfg  Config
	}{
		{"video-320x240", Config{Source: video}},
		{"folder-150x150-to-640x480", Config{Source: folder, Width: 640, Height: 480}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := bc.cfg
			cfg.Unpaced, cfg.Loop, cfg.Motion = true, true, &MotionConfig{}
			s := open(b, cfg)
			ctx := context.Background()
			for range 20 {
				_, err := s.Next(ctx)
				require.NoError(b, err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Next(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
