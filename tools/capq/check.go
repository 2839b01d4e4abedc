package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/capq/capq/tools/internal/report"
)

// defaultCheckDuration is the length of `capq check` without --duration:
// the README's main-job command must finish in about a minute.
const defaultCheckDuration = 60 * time.Second

// phaseResult is what one phase of the campaign did.
type phaseResult struct {
	Name    string        `json:"name"`
	Runs    int           `json:"runs"`
	Steps   int           `json:"steps"`
	Elapsed time.Duration `json:"elapsed_ns"`
	Failed  bool          `json:"failed"`
	Message string        `json:"message,omitempty"` // the failure, for people
	Skipped string        `json:"skipped,omitempty"` // why the phase did not run
	// ToolError is set with Failed when the phase could not do its work
	// (a process did not start, a scratch directory could not be made):
	// an error of the environment, not a finding about the queue, so it
	// has no reproduction command.
	ToolError bool `json:"tool_error,omitempty"`
	// Interrupted is set when a signal stopped the phase before its
	// budget ran out; NotRun when the campaign was stopped before the
	// phase began. Neither is a pass.
	Interrupted bool `json:"interrupted,omitempty"`
	NotRun      bool `json:"not_run,omitempty"`
	// Reproduce is the command that replays a failure, when the phase
	// knows a narrower one than the campaign's.
	Reproduce string `json:"reproduce,omitempty"`
	// Sub are the parts of a phase that has its own phases (model).
	Sub []phaseResult `json:"sub,omitempty"`
}

// phaseRun is what a phase gets: its budget, the seed, a scratch
// directory, and a way to report progress (a fraction in [0, 1] and a
// word on what it is doing).
type phaseRun struct {
	ctx      context.Context
	seed     uint64
	budget   time.Duration
	dir      string // a fresh directory for this phase
	progress func(frac float64, what string)
	impl     string // --impl command, for the protocol phase
}

// phase is one part of the campaign. share is its part of --duration.
type phase struct {
	name  string
	share float64
	run   func(p *phaseRun) phaseResult
}

// checkReport is the output of `capq check --json`.
type checkReport struct {
	Seed     uint64        `json:"seed"`
	Duration time.Duration `json:"duration_ns"`
	Impl     string        `json:"impl,omitempty"`
	Phases   []phaseResult `json:"phases"`
	Passed   bool          `json:"passed"`
	// Interrupted is set when a signal stopped the campaign: Passed is
	// then false, whatever the phases that ran found.
	Interrupted bool `json:"interrupted,omitempty"`
	// Inconclusive is set when no phase completed a single run (a
	// --duration too short to test anything): Passed is then false.
	Inconclusive bool   `json:"inconclusive,omitempty"`
	Reproduce    string `json:"reproduce,omitempty"`
}

// checkPhases returns the phases of a campaign against capq's own queue.
func checkPhases() []phase {
	return []phase{
		{name: "model", share: 0.55, run: modelPhase},
		{name: "killcrash", share: 0.25, run: killCrashPhase},
		{name: "powercut", share: 0.10, run: powerCutPhase},
		{name: "fuzz", share: 0.10, run: fuzzPhase},
	}
}

func checkCmd() *command {
	var (
		duration time.Duration
		seed     uint64
		impl     string
		only     string
		asJSON   bool
		keep     bool
		implOpts implOptions
		out      checkOutputs
	)
	return &command{
		name:    "check",
		summary: "run the conformance campaign (model, kill-crash, power-loss, fuzz) or check another implementation",
		help: `By default the campaign runs against capq's own queue in a temporary
directory, in four phases: model (package model's state machines: the real
queue and a model of the spec side by side on the in-memory file system,
with errno faults, process kills and power cuts, then concurrency with a
linearizability check), killcrash (appender and consumer processes, this
binary re-executed, SIGKILLed at random moments on the real disk), powercut
(the real queue on the in-memory file system, the power cut at a random
file-system call, what survives checked against what was acknowledged) and
fuzz (random and mutated envelopes, ULIDs and records through the decoder
and a round trip). It takes about --duration in total, shared among the
phases; a live line per phase goes to stderr on a terminal (a plain line
every 10s otherwise, CAPQ_PROGRESS_INTERVAL to change; none with --quiet),
a summary table to stdout; --junit and --summary write JUnit XML and
Markdown reports for CI. On a failure the seed and the command that
reproduces it are printed and the exit status is 1; the phase's directory
is kept.

--impl 'COMMAND' checks another implementation instead: COMMAND (run by
/bin/sh -c, with CAPQ_DIR set) must speak the line protocol of
spec/PROTOCOL.md on stdin and stdout. Each probe below runs in a fresh
directory with a fresh process; the report card gives, per requirement, a
verdict (pass, fail, unsupported, n/a, inconclusive), one line of evidence
and, for a failure, the transcript that "capq replay" re-runs; and the level
reached (reference, durable, hardened). The exit status is 1 when a
requirement of the claimed level fails. capq's own queue speaks the
protocol through the hidden "capq adapter" subcommand.

` + implHelp(),
		flags: func(fs *flag.FlagSet) {
			fs.DurationVar(&duration, "duration", defaultCheckDuration, "total time to spend, shared among the phases")
			fs.Uint64Var(&seed, "seed", 0, "seed of every random choice (0: pick one and print it)")
			fs.StringVar(&impl, "impl", "", "check the implementation behind `COMMAND` (spec/PROTOCOL.md)")
			fs.StringVar(&only, "phase", "", "run only these comma-separated `phases` (model, killcrash, powercut, fuzz)")
			fs.BoolVar(&asJSON, "json", false, "print the report as one JSON object instead of a table")
			fs.BoolVar(&keep, "keep", false, "keep the scratch directories even when every phase passes")
			registerImplFlags(fs, &implOpts)
			registerOutputFlags(fs, &out)
		},
		run: func(e *env, fs *flag.FlagSet) error {
			if duration <= 0 {
				return usageErrorf("usage: --duration must be positive")
			}
			set := map[string]bool{}
			fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
			if set["phase"] && strings.TrimSpace(only) == "" {
				return usageErrorf("usage: --phase is empty (leave it out to run every phase)")
			}
			if impl == "" {
				// The --impl flags do nothing without it: refuse them
				// rather than let a typo pass for a setting.
				for _, n := range implOnlyFlags {
					if set[n] {
						return usageErrorf("usage: --%s needs --impl", n)
					}
				}
			} else if set["phase"] {
				return usageErrorf("usage: --phase selects phases of the campaign against capq's own queue; with --impl use --probe")
			}
			if seed == 0 {
				seed = uint64(time.Now().UnixNano())&(1<<53-1) | 1
			}
			if impl != "" {
				implOpts.out = out
				return runImplCheck(e, impl, seed, asJSON, keep, implOpts)
			}
			phases := checkPhases()
			if only != "" {
				want := map[string]bool{}
				for _, n := range strings.Split(only, ",") {
					want[strings.TrimSpace(n)] = true
				}
				var sel []phase
				for _, p := range phases {
					if want[p.name] {
						sel = append(sel, p)
						delete(want, p.name)
					}
				}
				if len(want) > 0 || len(sel) == 0 {
					return usageErrorf("usage: unknown phase in --phase %q", only)
				}
				phases = sel
			}
			return runCheck(e, checkOptions{duration: duration, seed: seed, impl: impl, only: only, asJSON: asJSON, keep: keep, out: out}, phases)
		},
	}
}

type checkOptions struct {
	duration time.Duration
	seed     uint64
	impl     string
	only     string
	asJSON   bool
	keep     bool
	out      checkOutputs // --junit, --summary, --quiet
}

// reproduceCommand is the command line that replays a campaign.
func (o checkOptions) reproduceCommand(phase string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "go run ./tools/capq check --seed %d --duration %s", o.seed, o.duration)
	if phase != "" {
		fmt.Fprintf(&b, " --phase %s", phase)
	}
	if o.impl != "" {
		fmt.Fprintf(&b, " --impl %s", shellQuote(o.impl))
	}
	return b.String()
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func runCheck(e *env, o checkOptions, phases []phase) error {
	// The report files are opened first: a path that cannot be written
	// is bad input, found before the campaign rather than after it.
	outs, err := report.OpenOutputs(o.out.junit, o.out.summary)
	if err != nil {
		return usageErrorf("usage: %v", err)
	}
	defer outs.Close()
	// SIGINT, SIGTERM (CI's cancel) and SIGHUP (a closed terminal) end
	// the campaign early; what ran is still reported, as interrupted.
	ctx, stop := signal.NotifyContext(e.ctx, drainSignals...)
	defer stop()
	root, err := os.MkdirTemp("", "capq-check-")
	if err != nil {
		return failf("%v", err)
	}
	total := 0.0
	for _, p := range phases {
		total += p.share
	}
	bar := report.New(e.stderr, report.Options{Prefix: "capq check", Quiet: o.out.quiet})
	defer bar.Close()
	bar.Printf("capq check: seed %d, %s, scratch %s", o.seed, o.duration, root)
	rep := checkReport{Seed: o.seed, Duration: o.duration, Impl: o.impl, Passed: true}
	started := time.Now()
	for i, p := range phases {
		budget := time.Duration(float64(o.duration) * p.share / total)
		dir := root + "/" + p.name
		if ctx.Err() != nil {
			// Stopped before this phase began: listed as not run, so no
			// report can be read as this phase having passed.
			rep.Phases = append(rep.Phases, phaseResult{Name: p.name, NotRun: true, Skipped: "not run: interrupted"})
			continue
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return failf("%v", err)
		}
		task := bar.Start(fmt.Sprintf("[%d/%d] %s", i+1, len(phases), p.name), budget)
		pr := &phaseRun{ctx: ctx, seed: o.seed, budget: budget, dir: dir, impl: o.impl,
			progress: func(frac float64, what string) { task.Update(what) }}
		start := time.Now()
		res := p.run(pr)
		res.Name = p.name
		res.Elapsed = time.Since(start)
		switch {
		case ctx.Err() != nil && !res.Failed:
			res.Interrupted = true
		case !res.Failed && res.Runs == 0 && res.Skipped == "":
			res.Skipped = fmt.Sprintf("inconclusive: no run completed within its budget of %v", budget)
		}
		if res.ToolError {
			res.Failed = true
		}
		if res.Failed && !res.ToolError {
			rep.Passed = false
			if res.Reproduce == "" {
				res.Reproduce = o.reproduceCommand(p.name)
			}
		}
		task.Done(phaseLine(res))
		rep.Phases = append(rep.Phases, res)
	}
	bar.Close()
	rep.Interrupted = ctx.Err() != nil
	rep.Inconclusive = !rep.Interrupted
	for _, p := range rep.Phases {
		if p.Failed || p.Runs > 0 {
			rep.Inconclusive = false
		}
	}
	if rep.Interrupted || rep.Inconclusive {
		rep.Passed = false
	}
	if !rep.Passed || o.keep {
		fmt.Fprintf(e.stderr, "capq check: scratch directories kept in %s\n", root)
	} else {
		os.RemoveAll(root)
	}
	if f := firstFailed(rep.Phases); f != "" {
		rep.Reproduce = o.reproduceCommand(f)
	}
	if o.asJSON {
		if err := writeJSON(e.stdout, rep); err != nil {
			return failf("%v", err)
		}
	} else {
		printSummary(e.stdout, &rep)
	}
	if err := outs.Write(checkSuite(&rep, started)); err != nil {
		// The results are printed; the report file is what failed, and
		// the path was the user's input.
		return usageErrorf("%v", err)
	}
	anyFailed := false
	for _, p := range rep.Phases {
		switch {
		case p.ToolError:
			anyFailed = true
			fmt.Fprintf(e.stderr, "capq check: ERROR %s (seed %d): %s\n", p.Name, o.seed, p.Message)
		case p.Failed:
			anyFailed = true
			fmt.Fprintf(e.stderr, "capq check: FAIL %s (seed %d): %s\n  reproduce: %s\n", p.Name, o.seed, p.Message, p.Reproduce)
		}
	}
	switch {
	case rep.Interrupted:
		return failf("interrupted: the campaign is incomplete, not a pass")
	case anyFailed:
		return errSilent(exitFail)
	case rep.Inconclusive:
		return failf("inconclusive: no phase completed a run in --duration %v", o.duration)
	}
	return nil
}

// implOnlyFlags are the flags of check that only --impl reads.
var implOnlyFlags = []string{"report", "level", "timeout", "probe", "strace", "steps", "out"}

func firstFailed(ps []phaseResult) string {
	for _, p := range ps {
		if p.Failed && !p.ToolError {
			return p.Name
		}
	}
	return ""
}

func printSummary(w io.Writer, rep *checkReport) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "PHASE\tRUNS\tSTEPS\tTIME\tRESULT")
	for _, p := range rep.Phases {
		result := phaseResultWord(p)
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", p.Name, p.Runs, p.Steps, p.Elapsed.Round(100*time.Millisecond), result)
		for _, s := range p.Sub {
			result := "ok"
			if s.Failed {
				result = "FAIL"
			}
			fmt.Fprintf(tw, "  %s\t%d\t%d\t%s\t%s\n", s.Name, s.Runs, s.Steps, s.Elapsed.Round(100*time.Millisecond), result)
		}
	}
	tw.Flush()
	verdict := "PASS"
	switch {
	case firstFailed(rep.Phases) != "":
		verdict = "FAIL"
	case !rep.Passed && rep.Interrupted:
		verdict = "INTERRUPTED"
	case !rep.Passed && rep.Inconclusive:
		verdict = "INCONCLUSIVE"
	case !rep.Passed:
		verdict = "ERROR"
	}
	fmt.Fprintf(w, "%s seed=%d\n", verdict, rep.Seed)
}

// phaseResultWord is a phase's RESULT column.
func phaseResultWord(p phaseResult) string {
	switch {
	case p.ToolError:
		return "ERROR"
	case p.Failed:
		return "FAIL"
	case p.NotRun:
		return "not run (interrupted)"
	case p.Interrupted:
		return "interrupted"
	case p.Skipped != "":
		return "skipped: " + p.Skipped
	}
	return "ok"
}

// jsonString is a helper for messages that quote data.
func jsonString(b []byte) string {
	s, _ := json.Marshal(string(b))
	return string(s)
}
