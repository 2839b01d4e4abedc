package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/capq/capq/tools/internal/report"
	"github.com/capq/capq/verify/conform"
)

// checkOutputs are the CI-facing outputs of the campaign: reports a CI
// page can show, and how much progress to print.
type checkOutputs struct {
	junit   string // JUnit XML report file
	summary string // Markdown summary file, appended to
	quiet   bool   // no progress lines
}

func registerOutputFlags(fs *flag.FlagSet, o *checkOutputs) {
	fs.StringVar(&o.junit, "junit", "", "write a JUnit XML report to `FILE`: one test case per phase and model sub-phase (per probe with --impl), failures with their reproduction command; not the --summary file")
	fs.StringVar(&o.summary, "summary", "", "append a Markdown summary to `FILE` (e.g. $GITHUB_STEP_SUMMARY)")
	fs.BoolVar(&o.quiet, "quiet", false, "print no progress, only the results")
}

// phaseLine is the line printed when a phase ends.
func phaseLine(r phaseResult) string {
	status := phaseResultWord(r)
	if r.Failed {
		status += ": " + r.Message
	}
	return fmt.Sprintf("capq check: %s: %d runs, %d steps, %s: %s", r.Name, r.Runs, r.Steps, report.Round(r.Elapsed), status)
}

// checkSuite is the campaign as a report: one case per phase, and one per
// part of a phase that has parts (model's sub-phases), named phase/part.
// A phase a signal cut short is an error, one that never ran is skipped,
// each with the reason: an interrupted campaign never reads as a pass.
func checkSuite(rep *checkReport, started time.Time) report.Suite {
	s := report.Suite{
		Name: "capq check", Started: started, Time: time.Since(started),
		Properties:  [][2]string{{"seed", fmt.Sprint(rep.Seed)}, {"duration", rep.Duration.String()}},
		Columns:     []string{"runs", "steps"},
		Interrupted: rep.Interrupted,
	}
	add := func(name string, p phaseResult) {
		c := report.Case{Name: name, Time: p.Elapsed, Values: []string{fmt.Sprint(p.Runs), fmt.Sprint(p.Steps)}, Status: report.Pass}
		switch {
		case p.ToolError:
			// The environment failed, not the queue: no reproduction.
			c.Status, c.Message = report.Error, p.Message
		case p.Failed:
			c.Status, c.Message, c.Reproduce = report.Fail, p.Message, p.Reproduce
		case p.Interrupted:
			c.Status, c.Message = report.Error, fmt.Sprintf("interrupted after %v: incomplete, not a pass", report.Round(p.Elapsed))
		case p.Skipped != "":
			c.Status, c.Message = report.Skip, p.Skipped
		}
		s.Cases = append(s.Cases, c)
	}
	for _, p := range rep.Phases {
		add(p.Name, p)
		for _, sub := range p.Sub {
			if sub.Failed && sub.Reproduce == "" {
				sub.Reproduce = p.Reproduce
			}
			add(p.Name+"/"+sub.Name, sub)
		}
	}
	return s
}

// implSuite is the report card of --impl as a report: one case per probe
// (its requirement and level in the table). A failure above the claimed
// level does not fail the check, so it is a skipped case with its
// evidence, like unsupported, n/a and inconclusive rows.
func implSuite(rep *conform.Report, impl string) report.Suite {
	s := report.Suite{
		Name: "capq check --impl", Time: rep.Elapsed,
		Properties: [][2]string{{"impl", impl}, {"name", rep.Name}, {"seed", fmt.Sprint(rep.Seed)},
			{"claimed", rep.Claimed.String()}, {"reached", rep.Reached.String()}},
		Columns: []string{"requirement", "level"},
	}
	for _, r := range rep.Results {
		c := report.Case{Name: r.Probe, Time: r.Elapsed, Values: []string{r.Req, r.Level.String()},
			Message: r.Evidence, Detail: r.Detail, Status: report.Pass}
		if r.Repro != "" {
			c.Reproduce = "capq replay --impl " + shellQuote(impl) + " " + r.Repro
			c.Artifacts = []string{r.Repro}
		}
		switch {
		case r.Verdict == conform.Fail && r.Level <= rep.Claimed:
			c.Status = report.Fail
			c.Message = r.Req + " " + r.Title + ": " + r.Evidence
		case r.Verdict == conform.Fail:
			c.Status = report.Skip
			c.Message = "fails above the claimed level " + rep.Claimed.String() + ": " + r.Evidence
		case r.Verdict != conform.Pass:
			c.Status = report.Skip
			c.Message = string(r.Verdict) + ": " + r.Evidence
		default:
			c.Message = ""
		}
		s.Cases = append(s.Cases, c)
	}
	return s
}
