// Command vigil is the edge-vision daemon and its tools: `vigil run` watches cameras and
// publishes face events over MQTT; the other commands build, inspect and benchmark models.
//
// This file and cli.go are only the dispatcher: each command lives in its own cmd_<name>.go
// and registers itself in init, parsing its own flags and calling into the library packages.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
