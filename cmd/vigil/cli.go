package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// A command is one `vigil <name>` subcommand. Each lives in its own file (cmd_<name>.go) and
// adds itself to the registry with register in an init function.
type command struct {
	name    string // as typed after vigil
	summary string // one line for `vigil -h`
	usage   string // the full help text, printed by `vigil <name> -h` before the flag list

	// run parses args (everything after the command name) with its own flag set made by
	// newFlagSet (then fs.parse), does the work and returns the exit code: exitOK, exitFail or
	// exitUsage.
	// ctx is cancelled on SIGINT or SIGTERM; cancellation is not a failure.
	run func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// Exit codes shared by every command.
const (
	exitOK    = 0
	exitFail  = 1 // the command ran and failed
	exitUsage = 2 // wrong command, flag or argument: usage was printed
)

var commands = map[string]*command{}

// register adds c to the registry. It panics on a duplicate or incomplete command, which can
// only be a programming error caught by the first test run.
func register(c *command) {
	if c.name == "" || c.run == nil || c.summary == "" {
		panic(fmt.Sprintf("vigil: command %q registered without a name, summary or run function", c.name))
	}
	if _, dup := commands[c.name]; dup {
		panic(fmt.Sprintf("vigil: command %q registered twice", c.name))
	}
	commands[c.name] = c
}

// flagSet is a command's flag.FlagSet together with where help and errors go.
// Commands define their flags on the embedded FlagSet and then call parse.
type flagSet struct {
	*flag.FlagSet
	cmd            *command
	stdout, stderr io.Writer
}

// newFlagSet returns the flag set a command parses its arguments with: errors are returned,
// not fatal; -h prints the command's usage text and its flags to stdout; a wrong flag prints
// the error and the usage to stderr.
func (c *command) newFlagSet(stdout, stderr io.Writer) *flagSet {
	fs := &flagSet{FlagSet: flag.NewFlagSet("vigil "+c.name, flag.ContinueOnError), cmd: c, stdout: stdout, stderr: stderr}
	fs.SetOutput(stderr)
	fs.Usage = func() { fs.printUsage(fs.Output()) }
	return fs
}

func (fs *flagSet) printUsage(w io.Writer) {
	fmt.Fprintf(w, "%s\n", strings.TrimRight(fs.cmd.usageText(), "\n"))
	var hasFlags bool
	fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		fmt.Fprintf(w, "\nflags:\n")
		out := fs.Output()
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(out)
	}
}

func (c *command) usageText() string {
	if c.usage != "" {
		return c.usage
	}
	return "usage: vigil " + c.name + " [flags]\n\n" + c.summary
}

// parse parses args and turns the outcome into an exit code: done is true when the command
// must return code at once, because help was asked for (exitOK, usage on stdout) or the flags
// were wrong (exitUsage, the error and the usage on stderr).
func (fs *flagSet) parse(args []string) (code int, done bool) {
	var buf bytes.Buffer
	fs.SetOutput(&buf)
	err := fs.Parse(args)
	fs.SetOutput(fs.stderr)
	switch {
	case err == nil:
		return exitOK, false
	case errors.Is(err, flag.ErrHelp):
		fs.stdout.Write(buf.Bytes())
		return exitOK, true
	default:
		fs.stderr.Write(buf.Bytes())
		return exitUsage, true
	}
}

// usageError reports a wrong argument that the flag package cannot see (a missing or extra
// positional argument, a bad combination): the message, then the usage, on stderr.
func (fs *flagSet) usageError(format string, args ...any) int {
	fmt.Fprintf(fs.stderr, "%s: %s\n", fs.Name(), fmt.Sprintf(format, args...))
	fs.printUsage(fs.stderr)
	return exitUsage
}

// dispatch runs `vigil args...` and returns the process exit code.
func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printHelp(stderr)
		return exitUsage
	}
	switch name := args[0]; name {
	case "-h", "-help", "--help", "help":
		if name == "help" && len(args) > 1 {
			// `vigil help CMD` is the same as `vigil CMD -h`.
			if c, ok := commands[args[1]]; ok {
				c.newFlagSet(stdout, stderr).printUsage(stdout)
				return exitOK
			}
			fmt.Fprintf(stderr, "vigil: unknown command %q; run 'vigil help' for the list\n", args[1])
			return exitUsage
		}
		printHelp(stdout)
		return exitOK
	default:
		c, ok := commands[name]
		if !ok {
			fmt.Fprintf(stderr, "vigil: unknown command %q; run 'vigil help' for the list\n", name)
			return exitUsage
		}
		return c.run(ctx, args[1:], stdout, stderr)
	}
}

func printHelp(w io.Writer) {
	fmt.Fprintf(w, "vigil watches cameras, detects and recognises faces, and publishes events over MQTT.\n\n")
	fmt.Fprintf(w, "usage: vigil <command> [flags]\n\ncommands:\n")
	names := make([]string, 0, len(commands))
	width := 0
	for n := range commands {
		names = append(names, n)
		width = max(width, len(n))
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-*s  %s\n", width, n, commands[n].summary)
	}
	fmt.Fprintf(w, "\nRun 'vigil <command> -h' for a command's flags.\n")
}
