package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// envRunMain makes the test binary behave as the vigil binary, so the tests can check real
// exit codes and signal handling without building anything.
const envRunMain = "VIGIL_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(envRunMain) == "1" {
		main()
		return
	}
	goleak.VerifyTestMain(m)
}

// Two commands that exist only in the test binary: one with flags and a positional argument,
// one that waits for cancellation (SIGINT/SIGTERM through main's NotifyContext).
func init() {
	echo := &command{
		name:    "test-echo",
		summary: "test only: print the -word flag",
		usage:   "usage: vigil test-echo [-word W] [-n N]\n\nTest only.",
	}
	echo.run = func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		fs := echo.newFlagSet(stdout, stderr)
		word := fs.String("word", "hello", "the word to print")
		n := fs.Int("n", 1, "how many times")
		if code, done := fs.parse(args); done {
			return code
		}
		if fs.NArg() != 0 {
			return fs.usageError("unexpected argument %q", fs.Arg(0))
		}
		for range *n {
			fmt.Fprintln(stdout, *word)
		}
		return exitOK
	}
	register(echo)

	wait := &command{name: "test-wait", summary: "test only: wait for SIGINT or SIGTERM"}
	wait.run = func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		if code, done := wait.newFlagSet(stdout, stderr).parse(args); done {
			return code
		}
		fmt.Fprintln(stdout, "ready")
		<-ctx.Done()
		fmt.Fprintln(stdout, "stopped")
		return exitOK
	}
	register(wait)
}

func run(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = dispatch(context.Background(), args, &o, &e)
	return code, o.String(), e.String()
}

func TestHelpListsEveryCommand(t *testing.T) {
	for _, h := range []string{"-h", "--help", "-help", "help"} {
		code, out, errOut := run(h)
		assert.Equal(t, exitOK, code, h)
		assert.Empty(t, errOut, h)
		for name, c := range commands {
			assert.Contains(t, out, name, h)
			assert.Contains(t, out, c.summary, h)
		}
	}
}

func TestNoArgumentsIsAUsageError(t *testing.T) {
	code, out, errOut := run()
	assert.Equal(t, exitUsage, code)
	assert.Empty(t, out)
	assert.Contains(t, errOut, "usage: vigil <command>")
}

func TestUnknownCommand(t *testing.T) {
	code, out, errOut := run("frobnicate")
	assert.Equal(t, exitUsage, code)
	assert.Empty(t, out)
	assert.Contains(t, errOut, `unknown command "frobnicate"`)

	code, _, errOut = run("help", "frobnicate")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, `unknown command "frobnicate"`)
}

// Every registered command, including those added by other files, must honour the contract:
// -h prints its usage on stdout and exits 0; a wrong flag exits 2 with the usage on stderr.
func TestEveryCommandHelpAndWrongFlag(t *testing.T) {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			for _, h := range []string{"-h", "--help"} {
				code, out, errOut := run(name, h)
				assert.Equal(t, exitOK, code, "vigil %s %s", name, h)
				assert.Contains(t, out, "usage: vigil "+name, "vigil %s %s: usage on stdout", name, h)
				assert.Empty(t, errOut, "vigil %s %s", name, h)
			}
			code, out, _ := run("help", name)
			assert.Equal(t, exitOK, code)
			assert.Contains(t, out, "usage: vigil "+name)

			code, out, errOut := run(name, "-no-such-flag-xyz")
			assert.Equal(t, exitUsage, code, "vigil %s -no-such-flag-xyz", name)
			assert.Empty(t, out)
			// The message is the command's (a command with sub-commands may call it an
			// unknown sub-command); it must name the bad argument and show the usage.
			assert.Contains(t, errOut, "-no-such-flag-xyz")
			assert.Contains(t, errOut, "usage: vigil "+name)
		})
	}
}

func TestCommandFlags(t *testing.T) {
	code, out, errOut := run("test-echo", "-word", "vigil", "-n", "2")
	assert.Equal(t, exitOK, code)
	assert.Equal(t, "vigil\nvigil\n", out)
	assert.Empty(t, errOut)

	code, out, errOut = run("test-echo", "-n", "two")
	assert.Equal(t, exitUsage, code)
	assert.Empty(t, out)
	assert.Contains(t, errOut, `invalid value "two" for flag -n`)
	assert.Contains(t, errOut, "-word")

	code, _, errOut = run("test-echo", "extra")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, `unexpected argument "extra"`)
	assert.Contains(t, errOut, "usage: vigil test-echo")

	code, out, _ = run("test-echo", "-h")
	assert.Equal(t, exitOK, code)
	assert.Contains(t, out, "the word to print")
}

func TestVersion(t *testing.T) {
	code, out, errOut := run("version")
	assert.Equal(t, exitOK, code)
	assert.True(t, strings.HasPrefix(out, "vigil "), out)
	assert.Empty(t, errOut)
}

func TestRegisterRejectsDuplicatesAndIncompleteCommands(t *testing.T) {
	noop := func(context.Context, []string, io.Writer, io.Writer) int { return 0 }
	assert.Panics(t, func() { register(&command{name: "version", summary: "x", run: noop}) })
	assert.Panics(t, func() { register(&command{name: "", summary: "x", run: noop}) })
	assert.Panics(t, func() { register(&command{name: "nosummary", run: noop}) })
	assert.Panics(t, func() { register(&command{name: "norun", summary: "x"}) })
}

// The real binary: exit codes reach the process, and SIGTERM/SIGINT cancel the context so a
// command returns normally instead of being killed.
func TestBinaryExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"-h"}, exitOK},
		{[]string{"version"}, exitOK},
		{[]string{"version", "-h"}, exitOK},
		{[]string{"version", "-bogus"}, exitUsage},
		{[]string{"no-such-command"}, exitUsage},
		{nil, exitUsage},
	} {
		cmd := selfCommand(t, tc.args...)
		err := cmd.Run()
		assert.Equal(t, tc.code, cmd.ProcessState.ExitCode(), "vigil %v: %v", tc.args, err)
	}
}

func TestBinarySignalCancelsContext(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := selfCommand(t, "test-wait")
			stdout, err := cmd.StdoutPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			r := bufio.NewReader(stdout)
			line, err := r.ReadString('\n')
			require.NoError(t, err)
			require.Equal(t, "ready\n", line)
			require.NoError(t, cmd.Process.Signal(sig))
			rest, _ := io.ReadAll(r)
			require.NoError(t, cmd.Wait(), "vigil test-wait must exit 0 after %v", sig)
			assert.Equal(t, "stopped\n", string(rest))
		})
	}
}

func selfCommand(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), envRunMain+"=1")
	return cmd
}
