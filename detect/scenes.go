package detect

import (
	"math/rand/v2"

	"github.com/vigil-edge/vigil/infer"
)

// CalibrationScenes makes n frames of w x h for calibrating int8 detectors
// from face chips (tight crops of faces, such as ../shared/testdata/johns):
// each frame is a smooth colour gradient with two to four chips pasted at
// 40..200 pixels (nearest neighbour), placed by a PCG generator seeded with
// seed, so the same chips always give the same frames. A detector's int8
// ranges must cover what it sees when deployed: faces of every size it
// detects on a background; chips alone fill the frame, so they never light
// up the heads that find small faces, and those heads' ranges come out too
// narrow (BlazeFace's 16x16 head then saturates at a score of zero).
func CalibrationScenes(chips []*infer.Image, w, h, n int, seed uint64) []*infer.Image {
	if len(chips) == 0 || w < 200 || h < 200 {
		return nil
	}
	rng := rand.New(rand.NewPCG(seed, 11))
	var frames []*infer.Image
	for range n {
		im := infer.NewImage(w, h)
		r0, g0, b0 := rng.IntN(200), rng.IntN(200), rng.IntN(200)
		for y := range h {
			for x := range w {
				o := 3 * (y*w + x)
				im.Pix[o] = uint8(r0 + 55*x/w)
				im.Pix[o+1] = uint8(g0 + 55*y/h)
				im.Pix[o+2] = uint8(b0 + 55*(x+y)/(w+h))
			}
		}
		for k := 2 + rng.IntN(3); k > 0; k-- {
			chip := chips[rng.IntN(len(chips))]
			size := 40 + rng.IntN(161)
			paste(im, chip, rng.IntN(w-size), rng.IntN(h-size), size)
		}
		frames = append(frames, im)
	}
	return frames
}

// paste draws src scaled to size x size at (x0, y0) (nearest neighbour).
func paste(dst, src *infer.Image, x0, y0, size int) {
	for y := range size {
		sy := y * src.H / size
		for x := range size {
			sx := x * src.W / size
			copy(dst.Pix[3*((y0+y)*dst.W+x0+x):][:3], src.Pix[3*(sy*src.W+sx):][:3])
		}
	}
}
