package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/capq/capq/tools/internal/report"
	"github.com/capq/capq/verify/conform"
)

// This file is `capq check --impl` and `capq replay`: flags and printing
// only. The conformance machinery is package verify/conform.

// implOptions are the flags of check that only --impl uses.
type implOptions struct {
	report  string
	level   string
	timeout time.Duration
	probes  string
	strace  string
	steps   int
	scratch string
	out     checkOutputs // --junit, --summary, --quiet (check_report.go)
}

func registerImplFlags(fs *flag.FlagSet, o *implOptions) {
	fs.StringVar(&o.report, "report", "", "with --impl: also write the report card as Markdown to `FILE`")
	fs.StringVar(&o.level, "level", "", "with --impl: the `LEVEL` the implementation claims (reference, durable, hardened; default: hello's, else reference)")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "with --impl: the longest wait for one reply")
	fs.StringVar(&o.probes, "probe", "", "with --impl: run only these comma-separated `probes`")
	fs.StringVar(&o.strace, "strace", "", "with --impl: the strace `binary` for the durability probes (none: no tracing, so they are inconclusive)")
	countVar(fs, &o.steps, "steps", 60, "with --impl: the length of the random campaign probe")
	fs.StringVar(&o.scratch, "out", "", "with --impl: the scratch `DIR` (a probe directory each, and repro/ with the transcripts of failures; kept)")
}

// implHelp lists the probes for `check --help`.
func implHelp() string {
	var b strings.Builder
	b.WriteString("Probes of --impl (the phase that checks another implementation), one row\nof the report card each:\n")
	for _, p := range conform.Probes() {
		fmt.Fprintf(&b, "  %-18s %-7s %-9s %s\n", p.Name, p.Req, p.Level, p.Title)
	}
	return b.String()
}

// newSignalContext is ctx, cancelled on SIGINT, SIGTERM and SIGHUP (as
// drain's). Cancelling it kills every implementation process group the
// check started.
func newSignalContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, drainSignals...)
}

func runImplCheck(e *env, impl string, seed uint64, asJSON, keep bool, o implOptions) error {
	ctx, stop := newSignalContext(e.ctx)
	defer stop()
	defer conform.KillAll() // whatever the exit path
	setImplGuard()          // and when capq itself is SIGKILLed
	claimed, err := conform.ParseLevel(o.level)
	if err != nil {
		return usageErrorf("usage: --level: %v", err)
	}
	// A zero or negative timeout would wait for ever on a silent
	// implementation; a campaign of no steps judges nothing.
	if o.timeout <= 0 {
		return usageErrorf("usage: --timeout must be positive, not %s", o.timeout)
	}
	if o.steps <= 0 {
		return usageErrorf("usage: --steps must be positive, not %d", o.steps)
	}
	if o.scratch != "" {
		if fi, err := os.Stat(o.scratch); err == nil && !fi.IsDir() {
			return usageErrorf("usage: --out %s is not a directory", o.scratch)
		}
	}
	// Every report file is opened before the first probe: a path that
	// cannot be written is bad input, found now rather than at the end.
	if o.report != "" && (o.report == o.out.junit || o.report == o.out.summary) {
		return usageErrorf("usage: --report names the same file as --junit or --summary")
	}
	outs, err := report.OpenOutputs(o.out.junit, o.out.summary)
	if err != nil {
		return usageErrorf("usage: %v", err)
	}
	defer outs.Close()
	var card *os.File
	if o.report != "" {
		if card, err = os.Create(o.report); err != nil {
			return usageErrorf("usage: --report: %v", err)
		}
		defer card.Close()
	}
	var probes []string
	if o.probes != "" {
		for _, p := range strings.Split(o.probes, ",") {
			probes = append(probes, strings.TrimSpace(p))
		}
	}
	root := o.scratch
	if root != "" {
		err = os.MkdirAll(root, 0o700)
		keep = true // the user's directory: never removed
	} else {
		root, err = os.MkdirTemp("", "capq-check-impl-")
	}
	if err != nil {
		return failf("%v", err)
	}
	bar := report.New(e.stderr, report.Options{Prefix: "capq check", Quiet: o.out.quiet})
	defer bar.Close()
	var task *report.Task
	bar.Printf("capq check: --impl %s, seed %d, scratch %s", shellQuote(impl), seed, root)
	rep, err := conform.Run(ctx, conform.Config{
		Impl: impl, Seed: seed, Timeout: o.timeout, Claimed: claimed, Dir: root, Probes: probes,
		Strace: o.strace, CampaignSteps: o.steps,
		Progress: func(name string, i, n int) {
			// A live line per probe on a terminal; a plain line per probe
			// otherwise, as probes are short.
			if task != nil {
				task.Done("")
			}
			if !bar.Live() {
				bar.Printf("capq check: probe %d/%d: %s", i+1, n, name)
			}
			task = bar.Start(fmt.Sprintf("probe %d/%d: %s", i+1, n, name), 0)
		},
	})
	bar.Close()
	failed := err != nil || rep.Failed()
	if failed || keep {
		fmt.Fprintf(e.stderr, "capq check: scratch directory and transcripts kept in %s\n", root)
	} else {
		defer os.RemoveAll(root)
	}
	interrupted := ctx.Err() != nil
	if err != nil && rep == nil && !interrupted {
		if errors.Is(err, conform.ErrUnknownProbe) {
			return usageErrorf("usage: %v", err)
		}
		// The implementation did not start or never answered hello: the
		// reports still say so, as an error, so that CI shows why.
		s := report.Suite{Name: "capq check --impl", Properties: [][2]string{{"impl", impl}, {"seed", fmt.Sprint(seed)}},
			Cases: []report.Case{{Name: "hello", Status: report.Error, Message: err.Error()}}}
		if card != nil {
			fmt.Fprintf(card, "### capq check --impl: ERROR\n\n%s\n", err)
		}
		if werr := outs.Write(s); werr != nil {
			fmt.Fprintf(e.stderr, "capq check: %v\n", werr)
		}
		return failf("%v", err)
	}
	if rep == nil { // interrupted during hello
		rep = &conform.Report{Impl: impl, Seed: seed, Claimed: claimed, Interrupted: true}
	}
	if asJSON {
		if werr := rep.WriteJSON(e.stdout); werr != nil {
			return failf("%v", werr)
		}
	} else {
		rep.WriteTable(e.stdout)
	}
	if interrupted {
		// The grade of an incomplete run means nothing: say so where the
		// table's verdict is read (and keep --json's stdout one JSON
		// object, which says "interrupted": true).
		w := e.stdout
		if asJSON {
			w = e.stderr
		}
		fmt.Fprintln(w, "INTERRUPTED: the check is incomplete, not a pass")
	}
	if card != nil {
		rep.WriteMarkdown(card)
		if interrupted {
			fmt.Fprintln(card, "\n**INTERRUPTED**: the check is incomplete, not a pass.")
		}
	}
	suite := implSuite(rep, impl)
	if interrupted {
		suite.Interrupted = true
		suite.Cases = append(suite.Cases, notRunProbes(rep, probes)...)
	}
	if werr := outs.Write(suite); werr != nil {
		return usageErrorf("%v", werr)
	}
	switch {
	case interrupted:
		return failf("interrupted: the check is incomplete, not a pass")
	case err != nil:
		return failf("%v", err)
	case rep.Failed():
		// Short of the claimed level, for whatever reason: a failure or
		// a row that could not be judged (a claim not confirmed is not
		// met, and CI reads the exit status).
		for _, r := range rep.Results {
			switch {
			case r.Verdict == conform.Fail:
				fmt.Fprintf(e.stderr, "capq check: FAIL %s %s: %s\n", r.Req, r.Title, r.Detail)
				if r.Repro != "" {
					fmt.Fprintf(e.stderr, "  reproduce: capq replay --impl %s %s\n", shellQuote(impl), r.Repro)
				}
			case r.Verdict == conform.Inconclusive && r.Level <= rep.Claimed:
				fmt.Fprintf(e.stderr, "capq check: INCONCLUSIVE %s %s (level %s, claimed %s): %s\n", r.Req, r.Title, r.Level, rep.Claimed, r.Evidence)
			}
		}
		return errSilent(exitFail)
	}
	return nil
}

// notRunProbes are skipped cases for the selected probes that an
// interruption left without a result.
func notRunProbes(rep *conform.Report, selected []string) []report.Case {
	done := map[string]bool{}
	for _, r := range rep.Results {
		done[r.Probe] = true
	}
	want := map[string]bool{}
	for _, p := range selected {
		want[p] = true
	}
	var out []report.Case
	for _, p := range conform.Probes() {
		if done[p.Name] || (len(want) > 0 && !want[p.Name]) {
			continue
		}
		out = append(out, report.Case{Name: p.Name, Status: report.Skip, Values: []string{p.Req, p.Level.String()},
			Message: "not run: interrupted"})
	}
	return out
}

func replayCmd() *command {
	var (
		impl    string
		timeout time.Duration
		strace  string
	)
	return &command{
		name:    "replay",
		args:    "TRANSCRIPT",
		summary: "re-run a failure's transcript from check --impl against an implementation",
		help: `Re-runs the probe of TRANSCRIPT (a file check --impl wrote for a failure)
with its seed and, for the campaign, its steps, against --impl COMMAND:
the same requests, kills and planted files. Prints the exchange (replies as
JSON) and the verdict. Exit status 1 while it still fails, 0 once it passes.`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&impl, "impl", "", "the implementation's `COMMAND` (required: the command a transcript names is never run)")
			fs.DurationVar(&timeout, "timeout", 30*time.Second, "the longest wait for one reply")
			fs.StringVar(&strace, "strace", "", "the strace `binary` (none: no tracing)")
		},
		run: func(e *env, fs *flag.FlagSet) error {
			if fs.NArg() != 1 {
				return usageErrorf("usage: replay takes one transcript file")
			}
			tr, err := conform.ReadTranscript(fs.Arg(0))
			if err != nil {
				return usageErrorf("%v", err)
			}
			if impl == "" {
				// The transcript's own command is shell text from a file
				// that may come from anywhere (a CI artifact): never run it.
				return usageErrorf("usage: replay needs --impl COMMAND (the transcript names %s; it is not run unless given)", shellQuote(tr.Impl))
			}
			if timeout <= 0 {
				return usageErrorf("usage: --timeout must be positive, not %s", timeout)
			}
			ctx, stop := newSignalContext(e.ctx)
			defer stop()
			defer conform.KillAll()
			setImplGuard()
			root, err := os.MkdirTemp("", "capq-replay-")
			if err != nil {
				return failf("%v", err)
			}
			fmt.Fprintf(e.stderr, "capq replay: probe %s (%s %s), seed %d, against %s\n", tr.Probe, tr.Req, tr.Title, tr.Seed, shellQuote(impl))
			res, out, err := conform.Replay(ctx, conform.Config{Impl: impl, Timeout: timeout, Dir: root, Strace: strace, NoShrink: true}, tr)
			if err != nil {
				os.RemoveAll(root)
				if errors.Is(err, conform.ErrBadTranscript) {
					return usageErrorf("usage: %s: %v", fs.Arg(0), err)
				}
				return failf("%v", err)
			}
			if out != nil {
				for _, ev := range out.Events {
					writeJSON(e.stdout, ev)
				}
			}
			fmt.Fprintf(e.stdout, "%s %s: %s: %s\n", res.Req, res.Title, res.Verdict, res.Evidence)
			if res.Verdict == conform.Fail {
				if res.Detail != "" {
					fmt.Fprintf(e.stderr, "%s\n", res.Detail)
				}
				fmt.Fprintf(e.stderr, "capq replay: directory kept in %s\n", root)
				return errSilent(exitFail)
			}
			os.RemoveAll(root)
			return nil
		},
	}
}
