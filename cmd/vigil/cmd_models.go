package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/vigil-edge/vigil/infer"
	"github.com/vigil-edge/vigil/models"
	"github.com/vigil-edge/vigil/models/build"
)

func init() {
	c := &command{
		name:    "models",
		summary: "list the models compiled into vigil, or rebuild them (models build)",
		usage: `usage: vigil models
       vigil models build [--out DIR] [--testdata DIR] [--only a,b]

Without arguments, lists the embedded models: name, input shape, weight type, size, parameters
and licence.

"models build" regenerates the embedded .vq files from the pinned model files fetched by
scripts/fetch-models.sh (models/cache, or $VIGIL_MODELS), calibrated on the photographs in
../shared/testdata. The result is byte-for-byte reproducible; "make models" runs it.`,
	}
	c.run = func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		if len(args) > 0 && args[0] == "build" {
			return modelsBuild(c, args[1:], stdout, stderr)
		}
		fs := c.newFlagSet(stdout, stderr)
		if code, done := fs.parse(args); done {
			return code
		}
		if fs.NArg() > 0 {
			return fs.usageError("unknown argument %q (did you mean \"models build\"?)", fs.Arg(0))
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tINPUT\tWEIGHTS\tSIZE\tPARAMS\tLICENCE\tSOURCE")
		for _, name := range models.Names() {
			b, err := models.Bytes(name)
			if err != nil {
				fmt.Fprintf(stderr, "vigil models: %v\n", err)
				return exitFail
			}
			g, err := infer.Decode(b)
			if err != nil {
				fmt.Fprintf(stderr, "vigil models: embedded %s: %v\n", name, err)
				return exitFail
			}
			s := infer.Summarize(g, len(b))
			kind := "float32"
			if s.Int8 {
				kind = "int8"
			}
			in := s.Input
			fmt.Fprintf(tw, "%s\t%dx%dx%d\t%s\t%s\t%d\t%s\t%s\n", name, in[1], in[2], in[3], kind, humanBytes(s.Bytes), s.Params, s.License, s.Source)
		}
		tw.Flush()
		return exitOK
	}
	register(c)
}

func humanBytes(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func modelsBuild(c *command, args []string, stdout, stderr io.Writer) int {
	fs := c.newFlagSet(stdout, stderr)
	out := fs.String("out", "", "output folder (default: models/embed in the source tree)")
	testdata := fs.String("testdata", "", "the shared photographs (default: ../shared/testdata beside the source tree)")
	only := fs.String("only", "", "comma-separated model names to build (default: all)")
	if code, done := fs.parse(args); done {
		return code
	}
	if fs.NArg() > 0 {
		return fs.usageError("unexpected argument %q", fs.Arg(0))
	}
	cache, err := models.CacheDir()
	if err != nil {
		fmt.Fprintf(stderr, "vigil models build: %v\n", err)
		return exitFail
	}
	root := filepath.Dir(filepath.Dir(cache)) // models/cache -> the source tree
	if *out == "" {
		*out = filepath.Join(root, "models", "embed")
	}
	if *testdata == "" {
		*testdata = filepath.Join(root, "..", "shared", "testdata")
	}
	cfg := &build.Config{Cache: cache, Testdata: *testdata, Out: *out, Log: stderr}
	if *only != "" {
		cfg.Only = strings.Split(*only, ",")
	}
	if err := build.Run(cfg); err != nil {
		fmt.Fprintf(stderr, "vigil models build: %v\n", err)
		return exitFail
	}
	return exitOK
}
