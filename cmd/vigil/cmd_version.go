package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version is set at link time by release builds: -ldflags "-X main.version=v1.2.3".
var version = ""

func init() {
	c := &command{
		name:    "version",
		summary: "print the version, the Go version and the platform",
		usage:   "usage: vigil version\n\nPrints vigil's version (module version or VCS revision), the Go version and GOOS/GOARCH.",
	}
	c.run = func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		fs := c.newFlagSet(stdout, stderr)
		if code, done := fs.parse(args); done {
			return code
		}
		if fs.NArg() > 0 {
			return fs.usageError("unexpected argument %q", fs.Arg(0))
		}
		fmt.Fprintf(stdout, "vigil %s %s %s/%s\n", versionString(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return exitOK
	}
	register(c)
}

func versionString() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	return "devel-" + rev + dirty
}
