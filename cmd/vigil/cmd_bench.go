package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vigil-edge/vigil/detect"
	"github.com/vigil-edge/vigil/infer"
	"github.com/vigil-edge/vigil/infer/onnx"
	"github.com/vigil-edge/vigil/infer/onnxexport"
	"github.com/vigil-edge/vigil/models"
	"github.com/vigil-edge/vigil/neon"
)

func init() {
	c := &command{
		name:    "bench",
		summary: "time the models on our float and int8 executors and on ONNX Runtime and OpenCV DNN",
		usage: `usage: vigil bench [--json] [--image FILE] [--models a,b] [--iters N] [--budget D] [--threads N]

Runs each embedded model and the UltraFace RFB-320 and MobileFaceNet ONNX fixtures (when
scripts/fetch-models.sh has fetched them) through: vigil's float executor (1 thread), vigil's
int8 executor (1 thread and --threads), ONNX Runtime (1 thread and --threads; from
onnxruntime-node's libonnxruntime.so, when present) and OpenCV DNN (1 thread), all on the same
input, interleaved run by run so machine noise falls on every engine alike. It reports the
median and 90th percentile latency of one inference and each engine's ratio to vigil int8 at
the same thread count (above 1: slower than vigil). A peer that is not installed, or that cannot
run a model, is reported as skipped, never estimated. The embedded models come from tfjs weights:
the peers run them as exported by vigil (infer/onnxexport), the very network vigil runs.

The input is --image (default: a photograph from ../shared/testdata when present, else a
synthetic image) resized to each model's input. Models without calibrated ranges (the ONNX
fixtures) are calibrated on that image before the int8 run.

With --json: one JSON object per (model, engine, threads) with fields model, engine, threads,
median_ms, p90_ms, impl (and runs, skipped, ratio_to_vigil_int8).`,
	}
	c.run = func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		fs := c.newFlagSet(stdout, stderr)
		asJSON := fs.Bool("json", false, "one JSON object per (model, engine, threads)")
		image := fs.String("image", "", "input photograph (JPEG or PNG)")
		only := fs.String("models", "", "comma-separated model names to run (default: all)")
		iters := fs.Int("iters", 30, "timed runs per engine (--budget stops earlier, but never before 5 runs)")
		budget := fs.Duration("budget", 20*time.Second, "stop timing a model after this long (0: no limit)")
		threads := fs.Int("threads", runtime.NumCPU(), "thread count of the multi-thread runs")
		if code, done := fs.parse(args); done {
			return code
		}
		if fs.NArg() > 0 {
			return fs.usageError("unexpected argument %q", fs.Arg(0))
		}
		if *iters < 1 || *threads < 1 {
			return fs.usageError("--iters and --threads must be at least 1")
		}
		im, imName, err := benchImage(*image)
		if err != nil {
			fmt.Fprintf(stderr, "vigil bench: %v\n", err)
			return exitFail
		}
		cases, notes := benchCases()
		if *only != "" {
			want := strings.Split(*only, ",")
			cases = slices.DeleteFunc(cases, func(c benchCase) bool { return !slices.Contains(want, c.name) })
			if len(cases) == 0 && !slices.Contains(want, mtcnnBenchName) {
				return fs.usageError("--models %q matches no model", *only)
			}
		}
		if !*asJSON {
			fmt.Fprintf(stdout, "vigil bench: int8 kernels %s, %s/%s, %d CPUs, input %s\n", neon.Impl(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), imName)
			for _, n := range notes {
				fmt.Fprintf(stdout, "note: %s\n", n)
			}
		}
		enc := json.NewEncoder(stdout)
		failed := false
		if *only == "" || slices.Contains(strings.Split(*only, ","), mtcnnBenchName) {
			cases = append(cases, benchCase{name: mtcnnBenchName})
		}
		for _, bc := range cases {
			if ctx.Err() != nil {
				break
			}
			run := benchOne
			if bc.name == mtcnnBenchName {
				run = benchMTCNN
			}
			results, err := run(bc, im, *iters, *budget, *threads)
			if err != nil {
				fmt.Fprintf(stderr, "vigil bench: %s: %v\n", bc.name, err)
				failed = true
				continue
			}
			if *asJSON {
				for _, r := range results {
					enc.Encode(r)
				}
				continue
			}
			printBench(stdout, bc.name, results)
		}
		if failed {
			return exitFail
		}
		return exitOK
	}
	register(c)
}

// benchCase is one model of the benchmark.
type benchCase struct {
	name string
	load func() (*infer.Graph, error)
	// onnx returns the ONNX model the peers run: the fixture's own file, or
	// the embedded model exported by infer/onnxexport.
	onnx func(g *infer.Graph) ([]byte, error)
	// peerOutputs are the tensors the peers fetch, when vigil's graph stops
	// before the file's outputs (UltraFace's prior decoding is done in Go).
	peerOutputs []string
}

func benchCases() ([]benchCase, []string) {
	var cases []benchCase
	var notes []string
	for _, name := range models.Names() {
		cases = append(cases, benchCase{name: name, load: func() (*infer.Graph, error) { return models.Load(name) }, onnx: exportForPeers})
	}
	for _, f := range []struct {
		name, dir, file string
		load            func(path string) (*infer.Graph, error)
		outputs         []string
	}{
		{"ultraface-rfb320", "faceplugin", "fr_detect.onnx", detect.ImportUltraFace, []string{"scores", "462"}},
		{"mobilefacenet", "faceplugin", "fr_feature.onnx", func(p string) (*infer.Graph, error) { return onnx.ImportFile(p, onnx.Options{}) }, nil},
		{"blazeface-front", "blazeface", "face_detection_front_128x128_barracuda.onnx", detect.ImportBlazeFace, nil},
	} {
		path, err := models.CachePath(f.dir, f.file)
		if err != nil {
			notes = append(notes, fmt.Sprintf("%s skipped: %v", f.name, err))
			continue
		}
		cases = append(cases, benchCase{name: f.name, peerOutputs: f.outputs,
			load: func() (*infer.Graph, error) { return f.load(path) },
			onnx: func(*infer.Graph) ([]byte, error) { return os.ReadFile(path) }})
	}
	return cases, notes
}

// exportForPeers exports an embedded model to ONNX; the export's input is NCHW.
func exportForPeers(g *infer.Graph) ([]byte, error) {
	if g.Meta.Extra == nil {
		g.Meta.Extra = map[string]string{}
	}
	g.Meta.Extra[onnx.LayoutKey+g.Inputs[0].Name] = "nchw"
	return onnxexport.Marshal(g)
}

// benchImage loads the benchmark input, or makes a deterministic synthetic one.
func benchImage(path string) (*infer.Image, string, error) {
	if path == "" {
		if dir, err := models.CacheDir(); err == nil {
			cand := filepath.Join(dir, "..", "..", "..", "shared", "testdata", "faces", "2008_001322.jpg")
			if _, err := os.Stat(cand); err == nil {
				path = cand
			}
		}
	}
	if path == "" {
		im := infer.NewImage(640, 480)
		for i := range im.Pix {
			im.Pix[i] = uint8((i*7 + (i/1920)*13) % 251)
		}
		return im, "synthetic 640x480", nil
	}
	im, err := infer.LoadImage(path)
	if err != nil {
		return nil, "", err
	}
	return im, filepath.Base(path), nil
}

func benchOne(bc benchCase, im *infer.Image, iters int, budget time.Duration, threads int) ([]benchResult, error) {
	g, err := bc.load()
	if err != nil {
		return nil, err
	}
	shape := g.Inputs[0].Shape
	shape[0] = 1
	g.Inputs[0].Shape = shape
	x := make([]float32, shape.Elems())
	if err := g.Meta.Preprocess(x, shape[2], shape[1], im, 0, 0, float32(im.W), float32(im.H)); err != nil {
		return nil, err
	}
	if len(g.Ranges) == 0 {
		// Calibrate on the input and a mirrored copy: enough for a speed measurement.
		ranges, err := infer.Calibrate(g, [][]float32{x, mirrorNHWC(x, shape)}, "minmax")
		if err != nil {
			return nil, fmt.Errorf("calibrating: %w", err)
		}
		g.Ranges = ranges
	}
	var runners []*benchRunner
	defer func() {
		for _, r := range runners {
			if r.close != nil {
				r.close()
			}
		}
	}()
	add := func(r *benchRunner) { runners = append(runners, r) }
	threadCounts := []int{1}
	if threads > 1 {
		threadCounts = append(threadCounts, threads)
	}
	add(vigilRunner(bc.name, g, infer.Float32, 1, x))
	for _, t := range threadCounts {
		add(vigilRunner(bc.name, g, infer.Int8, t, x))
	}
	onnxModel, err := bc.onnx(g)
	for _, t := range threadCounts {
		if err != nil {
			add(&benchRunner{model: bc.name, engine: "onnxruntime", threads: t, skip: err.Error()})
			continue
		}
		add(ortRunner(bc.name, onnxModel, g, x, bc.peerOutputs, t))
	}
	if err != nil {
		add(&benchRunner{model: bc.name, engine: "opencv-dnn", threads: 1, skip: err.Error()})
	} else {
		add(openCVRunner(bc.name, onnxModel, g, x))
	}
	for _, r := range runners {
		if r.skip == "" && r.run == nil {
			r.skip = "could not be prepared"
		}
	}
	if err := runInterleaved(runners, min(2, iters), iters, budget); err != nil {
		return nil, err
	}
	return summarize(runners), nil
}

func vigilRunner(model string, g *infer.Graph, p infer.Precision, threads int, x []float32) *benchRunner {
	engine, impl := "vigil-float", "go"
	if p == infer.Int8 {
		engine, impl = "vigil-int8", neon.Impl()
	}
	r := &benchRunner{model: model, engine: engine, threads: threads, impl: impl}
	m, err := infer.NewModel(g, infer.Options{Precision: p, Threads: threads})
	if err != nil {
		r.skip = err.Error()
		return r
	}
	s := m.NewSession()
	copy(s.Input(0), x)
	r.run = s.Run
	r.close = s.Close
	return r
}

func mirrorNHWC(x []float32, s infer.Shape) []float32 {
	out := make([]float32, len(x))
	h, w, c := s[1], s[2], s[3]
	for y := range h {
		for xx := range w {
			copy(out[(y*w+xx)*c:(y*w+xx+1)*c], x[(y*w+(w-1-xx))*c:(y*w+(w-1-xx)+1)*c])
		}
	}
	return out
}

func printBench(w io.Writer, model string, rs []benchResult) {
	fmt.Fprintf(w, "\n%s\n", model)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  engine\tthreads\tmedian ms\tp90 ms\tvs vigil-int8\timpl")
	for _, r := range rs {
		if r.Skipped != "" {
			fmt.Fprintf(tw, "  %s\t%d\tskipped: %s\t\t\t\n", r.Engine, r.Threads, r.Skipped)
			continue
		}
		ratio := "-"
		if r.Ratio > 0 && r.Engine != "vigil-int8" {
			ratio = fmt.Sprintf("%.2fx", r.Ratio)
		}
		fmt.Fprintf(tw, "  %s\t%d\t%.2f\t%.2f\t%s\t%s\n", r.Engine, r.Threads, r.MedianMS, r.P90MS, ratio, r.Impl)
	}
	tw.Flush()
}

// mtcnnBenchName is the whole MTCNN cascade on a 640x480 frame, min face 40 px.
const mtcnnBenchName = "mtcnn-640x480-minface40"

// benchMTCNN times the whole cascade (pyramid, three stages, NMS) on the
// bench image scaled to 640x480. Peers cannot run a cascade of vigil's
// making; they time its stages one by one in the rows of the mtcnn-* models.
func benchMTCNN(bc benchCase, im *infer.Image, iters int, budget time.Duration, threads int) ([]benchResult, error) {
	frame := scaleImage(im, 640, 480)
	var runners []*benchRunner
	defer func() {
		for _, r := range runners {
			if r.close != nil {
				r.close()
			}
		}
	}()
	add := func(p infer.Precision, t int) {
		engine, impl := "vigil-float", "go"
		if p == infer.Int8 {
			engine, impl = "vigil-int8", neon.Impl()
		}
		r := &benchRunner{model: bc.name, engine: engine, threads: t, impl: impl}
		d, err := detect.Open(detect.NameMTCNN, detect.Config{Options: detect.Options{Precision: p, Threads: t}, MinFace: 40})
		if err != nil {
			r.skip = err.Error()
		} else {
			r.run = func() error { _, err := d.Detect(frame); return err }
			r.close = d.Close
		}
		runners = append(runners, r)
	}
	add(infer.Float32, 1)
	add(infer.Int8, 1)
	if threads > 1 {
		add(infer.Int8, threads)
	}
	for _, e := range []string{"onnxruntime", "opencv-dnn"} {
		runners = append(runners, &benchRunner{model: bc.name, engine: e, threads: 1, skip: "a cascade of vigil's: peers time its stages in the mtcnn-* rows"})
	}
	if err := runInterleaved(runners, min(2, iters), iters, budget); err != nil {
		return nil, err
	}
	return summarize(runners), nil
}

// scaleImage resizes im to w x h (nearest neighbour; only timing depends on it).
func scaleImage(im *infer.Image, w, h int) *infer.Image {
	out := infer.NewImage(w, h)
	for y := range h {
		sy := y * im.H / h
		for x := range w {
			sx := x * im.W / w
			copy(out.Pix[3*(y*w+x):3*(y*w+x)+3], im.Pix[3*(sy*im.W+sx):])
		}
	}
	return out
}
