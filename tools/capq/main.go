package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/capq/capq/verify/crashtest"
)

// Exit codes, the usual Unix way.
const (
	exitOK    = 0 // success
	exitFail  = 1 // a check found violations, or an operation failed
	exitUsage = 2 // usage error or bad input
)

func main() {
	// A kill-crash child (see verify/crashtest) is this very binary
	// re-executed by `capq check` with an environment variable set.
	crashtest.MaybeRunChild()
	// Likewise an implementation guard of check --impl (guard_linux.go).
	maybeRunGuard()
	os.Exit(mainExit())
}

// mainExit is the command as a process runs it: the start-up checks, then
// run on the process's arguments and streams.
func mainExit() int {
	if err := checkDescriptors(); err != nil {
		fmt.Fprintf(os.Stderr, "capq: %v\n", err)
		return exitFail
	}
	return run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
}

// env is what every subcommand receives: its streams and the global
// settings. Subcommands never touch os.Stdout or os.Stderr directly, so
// tests and the adapter can run them on other streams.
type env struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	dir    string // queue directory: --dir, else $CAPQ_DIR, else the reference's default
}

// command is one subcommand.
type command struct {
	name    string
	args    string // synopsis of the arguments after the flags; empty: run refuses any
	summary string // one line for the command list
	hidden  bool   // not listed (internal entry points)
	// flags registers the subcommand's flags on fs; it may be nil.
	flags func(fs *flag.FlagSet)
	run   func(e *env, fs *flag.FlagSet) error
	// help is a paragraph printed by --help after the synopsis.
	help string
}

// commands returns the subcommands, in the order --help lists them.
func commands() []*command {
	return []*command{
		appendCmd(), lsCmd(), countCmd(), showCmd(), statsCmd(), drainCmd(),
		verifyCmd(), recoverCmd(), requeueCmd(), auditCmd(), pruneCmd(),
		checkCmd(), replayCmd(), benchCmd(), adapterCmd(),
	}
}

// exitError carries an exit code with the message to print.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErrorf reports bad usage or bad input: exit code 2.
func usageErrorf(format string, a ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, a...)}
}

// failf reports a failed operation or check: exit code 1.
func failf(format string, a ...any) error {
	return &exitError{code: exitFail, err: fmt.Errorf(format, a...)}
}

// errSilent is an exit status whose message has been printed already.
func errSilent(code int) error { return &exitError{code: code, err: errors.New("")} }

// defaultDir returns $CAPQ_DIR, or the reference's ~/.iai-mcp/pending.
func defaultDir() string {
	if d := os.Getenv("CAPQ_DIR"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(".iai-mcp", "pending")
	}
	return filepath.Join(home, ".iai-mcp", "pending")
}

// run is the whole command: it parses the global flags, dispatches to a
// subcommand and turns its error into an exit code, printing the message on
// stderr.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmds := commands()
	global := flag.NewFlagSet("capq", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	dir := global.String("dir", defaultDir(), "queue directory")
	global.Usage = func() {}
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			mainUsage(stdout, cmds)
			return exitOK
		}
		fmt.Fprintf(stderr, "capq: %v\n", err)
		mainUsage(stderr, cmds)
		return exitUsage
	}
	rest := global.Args()
	if len(rest) == 0 {
		fmt.Fprintln(stderr, "capq: missing subcommand")
		mainUsage(stderr, cmds)
		return exitUsage
	}
	name := rest[0]
	if name == "help" {
		if len(rest) > 1 {
			for _, c := range cmds {
				if c.name == rest[1] {
					fs := newFlagSet(c, dir)
					cmdUsage(stdout, c, fs)
					return exitOK
				}
			}
		}
		mainUsage(stdout, cmds)
		return exitOK
	}
	var cmd *command
	for _, c := range cmds {
		if c.name == name {
			cmd = c
		}
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "capq: unknown subcommand %q\n", name)
		mainUsage(stderr, cmds)
		return exitUsage
	}
	fs := newFlagSet(cmd, dir)
	if err := fs.Parse(rest[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			cmdUsage(stdout, cmd, fs)
			return exitOK
		}
		fmt.Fprintf(stderr, "capq %s: %v\n", cmd.name, err)
		cmdUsage(stderr, cmd, fs)
		return exitUsage
	}
	e := &env{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr, dir: *dir}
	var err error
	if cmd.args == "" && fs.NArg() > 0 {
		// One check for every subcommand whose synopsis has no arguments.
		err = usageErrorf("usage: %s takes no arguments", cmd.name)
	} else {
		err = cmd.run(e, fs)
	}
	if err == nil {
		return exitOK
	}
	code := exitFail
	var xe *exitError
	if errors.As(err, &xe) {
		code = xe.code
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintf(stderr, "capq %s: %s\n", cmd.name, msg)
	}
	if code == exitUsage && errors.As(err, &xe) && strings.HasPrefix(xe.err.Error(), "usage:") {
		cmdUsage(stderr, cmd, fs)
	}
	return code
}

// newFlagSet builds the flag set of c. Every subcommand also accepts --dir
// after its name, defaulting to the global one.
func newFlagSet(c *command, dir *string) *flag.FlagSet {
	fs := flag.NewFlagSet("capq "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(dir, "dir", *dir, "queue `DIR`: $CAPQ_DIR, else ~/.iai-mcp/pending")
	// The flag starts at the global --dir's value, so that a subcommand
	// keeps it; but the usage must state the rule, not echo that value as a
	// default (an empty DefValue prints none).
	fs.Lookup("dir").DefValue = ""
	if c.flags != nil {
		c.flags(fs)
	}
	return fs
}

func mainUsage(w io.Writer, cmds []*command) {
	fmt.Fprint(w, `capq operates and checks capq queue directories.

Usage:
	capq [--dir DIR] SUBCOMMAND [flags] [args]

Subcommands:
`)
	for _, c := range cmds {
		if !c.hidden {
			fmt.Fprintf(w, "\t%-8s %s\n", c.name, c.summary)
		}
	}
	fmt.Fprint(w, `
The queue directory is --dir, else $CAPQ_DIR, else ~/.iai-mcp/pending.
Exit status: 0 success, 1 a check found violations or an operation failed,
2 usage error or bad input. Run "capq SUBCOMMAND --help" for details.
`)
}

func cmdUsage(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: capq %s [flags]", c.name)
	if c.args != "" {
		fmt.Fprintf(w, " %s", c.args)
	}
	fmt.Fprintf(w, "\n\n%s\n", c.summary)
	if c.help != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.help))
	}
	fmt.Fprintln(w, "\nFlags:")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}
