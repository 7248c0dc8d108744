package main

// vigil detect: find faces in image files. It parses flags and calls package detect; the
// detector flags are shared with `vigil eval detect` (cmd_eval.go).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/color"
	"image/jpeg"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vigil-edge/vigil/detect"
	"github.com/vigil-edge/vigil/infer"
)

// detectorFlags are the flags that choose and tune a detector.
type detectorFlags struct {
	detector  string
	minFace   float64
	threshold float64
	float     bool
	threads   int
	calib     string
	inputSize int
}

func (o *detectorFlags) register(fs *flagSet) {
	fs.StringVar(&o.detector, "detector", detect.NameMTCNN, "detector: "+strings.Join(detect.Names, ", ")+", or a .vq model file")
	fs.Float64Var(&o.minFace, "min-face", 20, "smallest face to find, in pixels (mtcnn and sliding-window models)")
	fs.Float64Var(&o.threshold, "threshold", 0, "minimum face score (0: the detector's default)")
	fs.BoolVar(&o.float, "float", false, "run the float32 executor instead of int8")
	fs.IntVar(&o.threads, "threads", 0, "threads per network (0: one per CPU)")
	fs.StringVar(&o.calib, "calib", "", "folder of photographs to calibrate int8 ranges on (default: embedded int8 models, else the images given)")
	fs.IntVar(&o.inputSize, "input-size", 0, "tiny detector input side, a multiple of 32 (0: 416)")
}

func (o *detectorFlags) precision() infer.Precision {
	if o.float {
		return infer.Float32
	}
	return infer.Int8
}

// open builds the detector. For int8 without calibrated ranges it calibrates on --calib's
// photographs or, failing that, on fallback (the images about to be processed), and says so
// on stderr.
func (o *detectorFlags) open(fallback func() []*infer.Image, stderr io.Writer) (detect.Detector, error) {
	if o.threshold < 0 || o.threshold > 1 {
		return nil, fmt.Errorf("--threshold %v: want a score in [0, 1]", o.threshold)
	}
	if o.minFace <= 0 {
		return nil, fmt.Errorf("--min-face %v: want a positive number of pixels", o.minFace)
	}
	c := detect.Config{
		Options:   detect.Options{Precision: o.precision(), Threads: o.threads},
		MinFace:   o.minFace,
		Threshold: float32(o.threshold),
		InputSize: o.inputSize,
	}
	if c.Precision == infer.Int8 && o.calib != "" {
		ims, err := loadFolder(o.calib)
		if err != nil {
			return nil, fmt.Errorf("--calib: %w", err)
		}
		c.Calibration = ims
	}
	d, err := detect.Open(o.detector, c)
	if errors.Is(err, detect.ErrNeedCalibration) && fallback != nil {
		if c.Calibration = fallback(); len(c.Calibration) > 0 {
			fmt.Fprintf(stderr, "vigil: %s int8: no --calib folder and no embedded int8 model: calibrating on the %d images given\n", o.detector, len(c.Calibration))
			d, err = detect.Open(o.detector, c)
		}
	}
	return d, err
}

// loadFolder decodes every JPEG and PNG under dir, in path order.
func loadFolder(dir string) ([]*infer.Image, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".jpg", ".jpeg", ".png":
			if !d.IsDir() {
				paths = append(paths, p)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("%s: no JPEG or PNG images", dir)
	}
	sort.Strings(paths)
	out := make([]*infer.Image, 0, len(paths))
	for _, p := range paths {
		im, err := infer.LoadImage(p)
		if err != nil {
			return nil, err
		}
		out = append(out, im)
	}
	return out, nil
}

// detFaceJSON and detImageJSON are the --json output, one detImageJSON per line.
type detFaceJSON struct {
	X         float32      `json:"x"`
	Y         float32      `json:"y"`
	W         float32      `json:"w"`
	H         float32      `json:"h"`
	Score     float32      `json:"score"`
	Landmarks [][2]float32 `json:"landmarks"`
}

type detImageJSON struct {
	Image  string        `json:"image"`
	Width  int           `json:"width"`
	Height int           `json:"height"`
	Faces  []detFaceJSON `json:"faces"`
}

func init() {
	c := &command{
		name:    "detect",
		summary: "find faces in image files",
		usage: `usage: vigil detect [flags] IMAGE...

Finds faces in JPEG or PNG files with the MTCNN cascade (default) or another detector and
prints, for each image, its faces in the image's pixels: x, y, width, height, score and, for
MTCNN (5) and BlazeFace (6), landmarks. With --json, one JSON object per image per line:
  {"image": PATH, "width": W, "height": H, "faces": [{"x":..,"y":..,"w":..,"h":..,"score":..,"landmarks": [[x,y],...]}]}
With --out DIR, writes DIR/NAME.jpg with the faces drawn. A file that cannot be read or
decoded is reported on stderr with its path; the others are still processed and the exit
code is 1.

int8 (the default) needs calibrated activation ranges: the embedded int8 models carry them;
otherwise --calib DIR calibrates on those photographs, and failing that on the images given.`,
	}
	c.run = func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		fs := c.newFlagSet(stdout, stderr)
		var o detectorFlags
		o.register(fs)
		asJSON := fs.Bool("json", false, "print one JSON object per image per line")
		out := fs.String("out", "", "folder to write annotated JPEGs to")
		if code, done := fs.parse(args); done {
			return code
		}
		if fs.NArg() == 0 {
			return fs.usageError("no image given")
		}
		return runDetect(ctx, &o, fs.Args(), *asJSON, *out, stdout, stderr)
	}
	register(c)
}

func runDetect(ctx context.Context, o *detectorFlags, paths []string, asJSON bool, outDir string, stdout, stderr io.Writer) int {
	code := exitOK
	// Decode every image first: bad files are reported once, and int8 may calibrate on the good ones.
	ims := make([]*infer.Image, len(paths))
	var good []*infer.Image
	for i, p := range paths {
		im, err := infer.LoadImage(p)
		if err != nil {
			fmt.Fprintf(stderr, "vigil detect: %s: %v\n", p, trimPath(err, p))
			code = exitFail
			continue
		}
		ims[i] = im
		good = append(good, im)
	}
	if len(good) == 0 {
		return exitFail
	}
	if outDir != "" {
		if err := os.MkdirAll(outDir, 0o755); err != nil {
			fmt.Fprintf(stderr, "vigil detect: --out: %v\n", err)
			return exitFail
		}
	}
	d, err := o.open(func() []*infer.Image { return good }, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "vigil detect: %v\n", err)
		return exitFail
	}
	defer d.Close()
	enc := json.NewEncoder(stdout)
	for i, p := range paths {
		if ctx.Err() != nil {
			return code
		}
		im := ims[i]
		if im == nil {
			continue
		}
		dets, err := d.Detect(im)
		if err != nil {
			fmt.Fprintf(stderr, "vigil detect: %s: %v\n", p, err)
			code = exitFail
			continue
		}
		if asJSON {
			rec := detImageJSON{Image: p, Width: im.W, Height: im.H, Faces: make([]detFaceJSON, 0, len(dets))}
			for _, x := range dets {
				lm := x.Landmarks
				if lm == nil {
					lm = [][2]float32{}
				}
				rec.Faces = append(rec.Faces, detFaceJSON{X: x.Box.X, Y: x.Box.Y, W: x.Box.W, H: x.Box.H, Score: x.Score, Landmarks: lm})
			}
			if err := enc.Encode(rec); err != nil {
				fmt.Fprintf(stderr, "vigil detect: %v\n", err)
				return exitFail
			}
		} else {
			fmt.Fprintf(stdout, "%s: %dx%d, %d faces\n", p, im.W, im.H, len(dets))
			for _, x := range dets {
				fmt.Fprintf(stdout, "  x %.1f y %.1f w %.1f h %.1f score %.3f", x.Box.X, x.Box.Y, x.Box.W, x.Box.H, x.Score)
				for _, l := range x.Landmarks {
					fmt.Fprintf(stdout, " (%.1f,%.1f)", l[0], l[1])
				}
				fmt.Fprintln(stdout)
			}
		}
		if outDir != "" {
			if err := writeAnnotated(outDir, p, im, dets); err != nil {
				fmt.Fprintf(stderr, "vigil detect: %s: --out: %v\n", p, err)
				code = exitFail
			}
		}
	}
	return code
}

// writeAnnotated writes DIR/NAME.jpg: the image with boxes and landmarks drawn.
func writeAnnotated(dir, path string, im *infer.Image, dets []detect.Detection) error {
	rgba := detect.ToRGBA(im)
	detect.Annotate(rgba, dets, color.RGBA{R: 255, G: 40, B: 40, A: 255}, max(1, min(im.W, im.H)/200))
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)) + ".jpg"
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		return err
	}
	if err := jpeg.Encode(f, rgba, &jpeg.Options{Quality: 90}); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// trimPath drops a leading "PATH: " from err's text (the caller prints the path itself).
func trimPath(err error, path string) string {
	return strings.TrimPrefix(err.Error(), path+": ")
}
