// Command smokecmp compares the `vigil detect --json` output of two builds (amd64 and arm64
// under qemu, in scripts/smoke-arm64.sh): the same images, the same number of faces, and
// boxes, scores and landmarks equal within a tolerance. The int8 kernels are bit-identical
// across architectures; the float post-processing is not quite (the arm64 compiler fuses
// multiply-adds), hence the tolerance.
//
//	go run ./scripts/smokecmp A.json B.json
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
)

type face struct {
	X, Y, W, H, Score float64
	Landmarks         [][2]float64
}

type result struct {
	Image         string
	Width, Height int
	Faces         []face
}

const (
	// Box and landmark coordinates, as a fraction of the face's box side. The int8 networks
	// give the same bits on both architectures for the same input, but the float crop
	// resampling between MTCNN's stages does not (arm64 fuses multiply-adds); R-Net's and
	// O-Net's regressions are written in float32 from their accumulators, so a crop that
	// differs in a few pixels moves a box by a fraction of a percent (measured: 0.45 px on a
	// 102 px face). Faces found, their order and scores must still agree.
	maxPixels = 0.02
	maxScore  = 1e-3
)

func read(path string) ([]result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rs []result
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for n := 1; sc.Scan(); n++ {
		var r result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		rs = append(rs, r)
	}
	return rs, sc.Err()
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: smokecmp A.json B.json")
		os.Exit(2)
	}
	a, err := read(os.Args[1])
	if err == nil {
		var b []result
		b, err = read(os.Args[2])
		if err == nil {
			err = compare(a, b)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "smokecmp:", err)
		os.Exit(1)
	}
}

func compare(a, b []result) error {
	if len(a) != len(b) {
		return fmt.Errorf("%d images against %d", len(a), len(b))
	}
	var worstPx, worstScore float64
	faces := 0
	for i := range a {
		ra, rb := a[i], b[i]
		if ra.Image != rb.Image || ra.Width != rb.Width || ra.Height != rb.Height {
			return fmt.Errorf("image %d: %s %dx%d against %s %dx%d", i, ra.Image, ra.Width, ra.Height, rb.Image, rb.Width, rb.Height)
		}
		if len(ra.Faces) != len(rb.Faces) {
			return fmt.Errorf("%s: %d faces against %d", ra.Image, len(ra.Faces), len(rb.Faces))
		}
		for j := range ra.Faces {
			fa, fb := ra.Faces[j], rb.Faces[j]
			px := max(math.Abs(fa.X-fb.X), math.Abs(fa.Y-fb.Y), math.Abs(fa.W-fb.W), math.Abs(fa.H-fb.H))
			if len(fa.Landmarks) != len(fb.Landmarks) {
				return fmt.Errorf("%s face %d: %d landmarks against %d", ra.Image, j, len(fa.Landmarks), len(fb.Landmarks))
			}
			for k := range fa.Landmarks {
				px = max(px, math.Abs(fa.Landmarks[k][0]-fb.Landmarks[k][0]), math.Abs(fa.Landmarks[k][1]-fb.Landmarks[k][1]))
			}
			sc := math.Abs(fa.Score - fb.Score)
			side := max(fa.W, fa.H, 1)
			if px > maxPixels*side || sc > maxScore {
				return fmt.Errorf("%s face %d: differs by %.3g px and %.3g in score (bounds %.3g px = %g of the box side, %g): %+v against %+v",
					ra.Image, j, px, sc, maxPixels*side, maxPixels, maxScore, fa, fb)
			}
			px /= side
			worstPx, worstScore = max(worstPx, px), max(worstScore, sc)
			faces++
		}
	}
	fmt.Printf("smokecmp: %d images, %d faces agree; largest difference %.3g of a box side, %.3g in score\n", len(a), faces, worstPx, worstScore)
	return nil
}
