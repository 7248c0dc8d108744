package main

// vigil eval: accuracy evaluations, one subcommand each. This file holds the dispatcher and
// `eval detect`; other evaluations add themselves from their own files with registerEval:
//
//	func init() {
//		registerEval("faces", "face recognition on a folder of identities", evalFacesUsage, runEvalFaces)
//	}
//
// where run has the signature of runEvalFaces: it gets a *command named "eval faces" (so
// c.newFlagSet gives flag errors and -h output that name `vigil eval faces`) and the
// arguments after `vigil eval faces`.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/vigil-edge/vigil/detect"
	"github.com/vigil-edge/vigil/infer"
)

// evalRun runs one evaluation; c is its command (name "eval NAME", summary, usage).
type evalRun func(ctx context.Context, c *command, args []string, stdout, stderr io.Writer) int

type evalCommand struct {
	c   *command
	run evalRun
}

var evalCommands = map[string]evalCommand{}

// registerEval adds `vigil eval NAME`. It panics on a duplicate or incomplete one (a
// programming error the first test run catches).
func registerEval(name, summary, usage string, run evalRun) {
	if name == "" || run == nil || summary == "" {
		panic(fmt.Sprintf("vigil: eval %q registered without a name, summary or run function", name))
	}
	if _, dup := evalCommands[name]; dup {
		panic(fmt.Sprintf("vigil: eval %q registered twice", name))
	}
	evalCommands[name] = evalCommand{c: &command{name: "eval " + name, summary: summary, usage: usage}, run: run}
}

func evalUsage() string {
	names := make([]string, 0, len(evalCommands))
	width := 0
	for n := range evalCommands {
		names = append(names, n)
		width = max(width, len(n))
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("usage: vigil eval <evaluation> [flags]\n\nMeasures accuracy on labelled data. Evaluations:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, n, evalCommands[n].c.summary)
	}
	b.WriteString("\nRun 'vigil eval <evaluation> -h' for its flags.")
	return b.String()
}

func init() {
	c := &command{name: "eval", summary: "measure accuracy on labelled data (eval detect, ...)"}
	c.run = func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		c.usage = evalUsage()
		if len(args) == 0 {
			fmt.Fprintln(stderr, c.usage)
			return exitUsage
		}
		switch args[0] {
		case "-h", "-help", "--help", "help":
			fmt.Fprintln(stdout, c.usage)
			return exitOK
		}
		e, ok := evalCommands[args[0]]
		if !ok {
			fmt.Fprintf(stderr, "vigil eval: unknown evaluation %q\n%s\n", args[0], c.usage)
			return exitUsage
		}
		return e.run(ctx, e.c, args[1:], stdout, stderr)
	}
	register(c)

	registerEval("detect", "face detection: precision, recall and AP on a dlib imglab XML file", `usage: vigil eval detect --xml FILE.xml [flags]

Runs a detector over the images of a dlib imglab XML file (paths relative to the XML file;
boxes with ignore='1' neither count as faces nor as false positives) and prints, at the IoU
threshold, true and false positives, misses, precision, recall, average precision (VOC
all-point interpolation over the detections' scores) and the false positives on images listed
without boxes. With --json, one object: images, faces, tp, fp, fn, precision, recall, ap,
detector, iou (and negative_fp, the false positives on images without boxes).

int8 calibration: see 'vigil detect -h'. Give --calib a folder of other photographs: without
it (and without embedded int8 models) the detector is calibrated on the evaluation images.`,
		runEvalDetect)
}

func runEvalDetect(ctx context.Context, c *command, args []string, stdout, stderr io.Writer) int {
	fs := c.newFlagSet(stdout, stderr)
	var o detectorFlags
	o.register(fs)
	xml := fs.String("xml", "", "dlib imglab XML file with the labelled images (required)")
	iou := fs.Float64("iou", 0.5, "IoU at which a detection matches a labelled face")
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	if code, done := fs.parse(args); done {
		return code
	}
	if fs.NArg() > 0 {
		return fs.usageError("unexpected argument %q", fs.Arg(0))
	}
	if *xml == "" {
		return fs.usageError("--xml is required")
	}
	if !(*iou > 0 && *iou <= 1) {
		return fs.usageError("--iou %v: want a value in (0, 1]", *iou)
	}
	ds, err := detect.ReadImglab(*xml)
	if err != nil {
		fmt.Fprintf(stderr, "vigil eval detect: %v\n", err)
		return exitFail
	}
	ims := make([]*infer.Image, len(ds.Images))
	for i, li := range ds.Images {
		if ims[i], err = infer.LoadImage(li.Path); err != nil {
			fmt.Fprintf(stderr, "vigil eval detect: %s: %v\n", li.Path, trimPath(err, li.Path))
			return exitFail
		}
	}
	d, err := o.open(func() []*infer.Image { return ims }, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "vigil eval detect: %v\n", err)
		return exitFail
	}
	defer d.Close()
	dets := make([][]detect.Detection, len(ims))
	for i, im := range ims {
		if ctx.Err() != nil {
			return exitFail
		}
		if dets[i], err = d.Detect(im); err != nil {
			fmt.Fprintf(stderr, "vigil eval detect: %s: %v\n", ds.Images[i].Path, err)
			return exitFail
		}
	}
	res, err := detect.Evaluate(ds, dets, *iou)
	if err != nil {
		fmt.Fprintf(stderr, "vigil eval detect: %v\n", err)
		return exitFail
	}
	res.Detector = o.detector + " " + o.precision().String()
	if *asJSON {
		b, _ := json.Marshal(res)
		fmt.Fprintf(stdout, "%s\n", b)
		return exitOK
	}
	fmt.Fprintf(stdout, "detector   %s\nimages     %d\nfaces      %d\nIoU        %.2f\n", res.Detector, res.Images, res.Faces, res.IoU)
	fmt.Fprintf(stdout, "tp %d  fp %d  fn %d\nprecision  %.4f\nrecall     %.4f\nAP         %.4f\n", res.TP, res.FP, res.FN, res.Precision, res.Recall, res.AP)
	fmt.Fprintf(stdout, "false positives on images without faces: %d\n", res.NegativeFP)
	return exitOK
}
