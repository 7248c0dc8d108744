package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vigil-edge/vigil/infer"
	"github.com/vigil-edge/vigil/infer/onnx"
	"github.com/vigil-edge/vigil/models"
	"github.com/vigil-edge/vigil/quant"
)

func init() {
	c := &command{
		name:    "quantize",
		summary: "calibrate a float model on a folder of images and write an int8 .vq model",
		usage: `usage: vigil quantize --model IN --calib DIR [--method minmax|percentile|entropy] --out OUT.vq [--report FILE.json]

Runs the float model IN (a .vq file with float weights, an .onnx file, or the name of an
embedded model) over every image in DIR (JPEG or PNG, searched recursively, sorted by path),
each resized to the model's input, records the range of every tensor with the chosen observer,
and writes OUT.vq with int8 weights (symmetric, per output channel, [-127, 127]) and int8
activation parameters.

It then prints a report: per layer, the SQNR (dB) of the int8 tensor against the float one on
the first calibration image, and per output the mean cosine similarity and the largest absolute
difference between int8 and float outputs over all calibration images. --report also writes
the report as JSON.`,
	}
	c.run = func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		fs := c.newFlagSet(stdout, stderr)
		in := fs.String("model", "", "float model: .vq, .onnx or an embedded model name")
		calib := fs.String("calib", "", "folder of calibration images")
		method := fs.String("method", "percentile", "range observer: minmax, percentile or entropy")
		out := fs.String("out", "", "int8 .vq file to write")
		report := fs.String("report", "", "also write the report as JSON to this file")
		maxImages := fs.Int("max-images", 200, "use at most this many calibration images")
		equalize := fs.Bool("equalize", false, "equalize the channel ranges of convolution pairs before calibrating (cross-layer equalization; for depthwise-separable models whose int8 SQNR collapses, such as BlazeFace)")
		if code, done := fs.parse(args); done {
			return code
		}
		switch {
		case fs.NArg() > 0:
			return fs.usageError("unexpected argument %q", fs.Arg(0))
		case *in == "" || *calib == "" || *out == "":
			return fs.usageError("--model, --calib and --out are required")
		case *maxImages < 1:
			return fs.usageError("--max-images must be at least 1")
		}
		if _, err := quant.NewObserver(*method); err != nil {
			return fs.usageError("--method %q: %v", *method, err)
		}
		rep, err := quantizeModel(ctx, *in, *calib, *method, *out, *maxImages, *equalize, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "vigil quantize: %v\n", err)
			return exitFail
		}
		printQuantReport(stdout, rep)
		if *report != "" {
			b, err := json.MarshalIndent(rep, "", "  ")
			if err == nil {
				err = os.WriteFile(*report, append(b, '\n'), 0o644)
			}
			if err != nil {
				fmt.Fprintf(stderr, "vigil quantize: report: %v\n", err)
				return exitFail
			}
		}
		return exitOK
	}
	register(c)
}

// quantReport is what `vigil quantize` measured.
type quantReport struct {
	Model  string `json:"model"`
	Method string `json:"method"`
	Images int    `json:"images"`
	Out    string `json:"out"`
	// Equalized is the number of convolution pairs --equalize rescaled.
	Equalized int                 `json:"equalized_pairs"`
	Layers    []infer.LayerReport `json:"layers"`
	Outputs   []outputAgreement   `json:"outputs"`
}

type outputAgreement struct {
	Name       string  `json:"name"`
	MeanCosine float64 `json:"mean_cosine"`
	MinCosine  float64 `json:"min_cosine"`
	MaxAbsDiff float64 `json:"max_abs_diff"`
}

// loadFloatModel opens a model given on the command line: .onnx, .vq or an embedded name.
func loadFloatModel(nameOrPath string) (*infer.Graph, error) {
	if strings.HasSuffix(strings.ToLower(nameOrPath), ".onnx") {
		return onnx.ImportFile(nameOrPath, onnx.Options{})
	}
	return models.Open(nameOrPath)
}

// imageFiles lists the JPEG and PNG files under dir, sorted by path.
func imageFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".jpg", ".jpeg", ".png":
			if !d.IsDir() {
				files = append(files, p)
			}
		}
		return nil
	})
	sort.Strings(files)
	return files, err
}

// progress draws a one-line progress bar on w.
func progress(w io.Writer, what string, done, total int) {
	const width = 30
	n := width * done / max(total, 1)
	fmt.Fprintf(w, "\r%s [%s%s] %d/%d", what, strings.Repeat("#", n), strings.Repeat(" ", width-n), done, total)
	if done == total {
		fmt.Fprintln(w)
	}
}

func quantizeModel(ctx context.Context, in, calibDir, method, out string, maxImages int, equalize bool, stderr io.Writer) (*quantReport, error) {
	g, err := loadFloatModel(in)
	if err != nil {
		return nil, err
	}
	for _, n := range g.Nodes {
		if n.QW != nil {
			return nil, fmt.Errorf("%s already holds int8 weights (node %q): quantize its float source instead", in, n.Name)
		}
	}
	if len(g.Inputs) != 1 || g.Inputs[0].Shape[3] != 3 {
		return nil, fmt.Errorf("%s: quantize needs one RGB image input, the model has %d inputs (first %v)", in, len(g.Inputs), g.Inputs[0].Shape)
	}
	files, err := imageFiles(calibDir)
	if err != nil {
		return nil, fmt.Errorf("calibration folder: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("calibration folder %s holds no JPEG or PNG image", calibDir)
	}
	if len(files) > maxImages {
		files = files[:maxImages]
	}
	shape := g.Inputs[0].Shape
	shape[0] = 1
	var samples [][]float32
	for i, f := range files {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		im, err := infer.LoadImage(f)
		if err != nil {
			fmt.Fprintf(stderr, "\nvigil quantize: skipping %s: %v\n", f, err)
			continue
		}
		x := make([]float32, shape.Elems())
		if err := g.Meta.Preprocess(x, shape[2], shape[1], im, 0, 0, float32(im.W), float32(im.H)); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		samples = append(samples, x)
		progress(stderr, "loading    ", i+1, len(files))
	}
	if len(samples) == 0 {
		return nil, fmt.Errorf("no calibration image in %s could be read", calibDir)
	}
	if g.Inputs[0].Shape[0] != 1 {
		g.Inputs[0].Shape = shape
	}
	var equalized int
	if equalize {
		eq, er, err := infer.Equalize(g, samples)
		if err != nil {
			return nil, err
		}
		fmt.Fprintln(stderr, er)
		g, equalized = eq, len(er.Pairs)
	}
	fmt.Fprintf(stderr, "calibrating %d images with %s...\n", len(samples), method)
	ranges, err := infer.Calibrate(g, samples, method)
	if err != nil {
		return nil, err
	}
	q := *g
	q.Nodes = cloneNodes(g.Nodes)
	q.Ranges = ranges
	if err := infer.QuantizeWeights(&q); err != nil {
		return nil, err
	}
	g.Ranges = ranges
	rep := &quantReport{Model: in, Method: method, Images: len(samples), Out: out, Equalized: equalized}
	if rep.Layers, err = infer.LayerSQNR(g, samples[0]); err != nil {
		return nil, err
	}
	if rep.Outputs, err = compareOutputs(g, &q, samples, stderr); err != nil {
		return nil, err
	}
	if err := infer.SaveFile(out, &q); err != nil {
		return nil, err
	}
	return rep, nil
}

// cloneNodes copies nodes deeply enough for QuantizeWeights and Fold to
// rewrite them without touching the originals.
func cloneNodes(nodes []*infer.Node) []*infer.Node {
	out := make([]*infer.Node, len(nodes))
	for i, n := range nodes {
		c := *n
		c.Inputs = append([]string(nil), n.Inputs...)
		if n.W != nil {
			c.W = &infer.Tensor{Shape: n.W.Shape, Data: append([]float32(nil), n.W.Data...)}
		}
		c.B = append([]float32(nil), n.B...)
		if n.B == nil {
			c.B = nil
		}
		out[i] = &c
	}
	return out
}

// compareOutputs runs the float graph and the int8 graph on every sample.
func compareOutputs(fg, qg *infer.Graph, samples [][]float32, stderr io.Writer) ([]outputAgreement, error) {
	mf, err := infer.NewModel(fg, infer.Options{Precision: infer.Float32})
	if err != nil {
		return nil, err
	}
	mq, err := infer.NewModel(qg, infer.Options{Precision: infer.Int8})
	if err != nil {
		return nil, err
	}
	sf, sq := mf.NewSession(), mq.NewSession()
	defer sf.Close()
	defer sq.Close()
	agg := make([]outputAgreement, mf.NumOutputs())
	for i := range agg {
		agg[i] = outputAgreement{Name: fg.Outputs[i], MinCosine: 1}
	}
	for k, x := range samples {
		copy(sf.Input(0), x)
		copy(sq.Input(0), x)
		if err := sf.Run(); err != nil {
			return nil, err
		}
		if err := sq.Run(); err != nil {
			return nil, err
		}
		for i := range agg {
			c := quant.Cosine(sf.Output(i), sq.Output(i))
			agg[i].MeanCosine += c / float64(len(samples))
			agg[i].MinCosine = min(agg[i].MinCosine, c)
			agg[i].MaxAbsDiff = max(agg[i].MaxAbsDiff, quant.MaxAbsDiff(sf.Output(i), sq.Output(i)))
		}
		progress(stderr, "int8 vs float", k+1, len(samples))
	}
	return agg, nil
}

func printQuantReport(w io.Writer, r *quantReport) {
	fmt.Fprintf(w, "model %s, %s calibration on %d images -> %s\n", r.Model, r.Method, r.Images, r.Out)
	if r.Equalized > 0 {
		fmt.Fprintf(w, "equalized %d convolution pairs before calibrating\n", r.Equalized)
	}
	fmt.Fprintf(w, "\nper-layer SQNR (int8 against float, first image):\n")
	for _, l := range r.Layers {
		fmt.Fprintf(w, "  %s\n", l)
	}
	fmt.Fprintf(w, "\noutputs, int8 against float over %d images:\n", r.Images)
	for _, o := range r.Outputs {
		fmt.Fprintf(w, "  %-24s mean cosine %.5f  min cosine %.5f  max |diff| %.4g\n", o.Name, o.MeanCosine, o.MinCosine, o.MaxAbsDiff)
	}
}
