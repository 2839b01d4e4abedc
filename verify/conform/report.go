package conform

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Level is a conformance level: each requirement belongs to one, and an
// implementation reaches a level when no requirement of that level or a
// lower one fails or is inconclusive (spec/PROTOCOL.md, "Levels").
type Level int

// The levels, weakest first.
const (
	LevelNone      Level = iota // not even the reference level
	LevelReference              // what the reference's test suite and format require
	LevelDurable                // and acknowledged appends and deletes survive a power cut
	LevelHardened               // and capq's stricter promises: verbatim bytes, hostile files, bounds
)

var levelNames = []string{"none", "reference", "durable", "hardened"}

// String returns the level's name.
func (l Level) String() string {
	if l < 0 || int(l) >= len(levelNames) {
		return fmt.Sprintf("level(%d)", int(l))
	}
	return levelNames[l]
}

// ParseLevel parses a level an implementation can claim: reference,
// durable or hardened ("" is LevelNone: no claim; "none" is not a claim).
func ParseLevel(s string) (Level, error) {
	if s == "" {
		return LevelNone, nil
	}
	for i, n := range levelNames {
		if i > 0 && n == s {
			return Level(i), nil
		}
	}
	return LevelNone, fmt.Errorf("unknown level %q (want reference, durable or hardened)", s)
}

// MarshalText writes the level's name.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText reads a level's name.
func (l *Level) UnmarshalText(b []byte) error {
	if string(b) == levelNames[LevelNone] { // a report's "reached": "none"
		*l = LevelNone
		return nil
	}
	v, err := ParseLevel(string(b))
	*l = v
	return err
}

// Verdict is the outcome of one row of the report card.
type Verdict string

// The verdicts.
const (
	Pass         Verdict = "pass"
	Fail         Verdict = "fail"
	Unsupported  Verdict = "unsupported"  // the feature it needs was not announced
	NA           Verdict = "n/a"          // does not apply to this implementation
	Inconclusive Verdict = "inconclusive" // could not be judged (no strace, too noisy)
)

// Result is one row of the report card: one requirement as one probe
// observed it.
type Result struct {
	Probe    string  `json:"probe"` // the probe's name (capq replay takes it)
	Req      string  `json:"requirement"`
	Title    string  `json:"title"`
	Level    Level   `json:"level"`
	Verdict  Verdict `json:"verdict"`
	Evidence string  `json:"evidence"` // one line
	// Repro is the path of the failure's minimal reproduction: a
	// transcript that `capq replay --impl CMD FILE` re-runs.
	Repro string `json:"repro,omitempty"`
	// Detail is the failure in full: requests and replies as JSON, and
	// the implementation's stderr.
	Detail  string        `json:"detail,omitempty"`
	Elapsed time.Duration `json:"elapsed_ns"`
}

// Report is the report card of one implementation.
type Report struct {
	Impl     string   `json:"impl"`
	Name     string   `json:"name"` // hello's name
	Features []string `json:"features"`
	Claimed  Level    `json:"claimed"`
	Reached  Level    `json:"reached"`
	// Blocked says what keeps the implementation below the next level.
	Blocked string `json:"blocked,omitempty"`
	Seed    uint64 `json:"seed"`
	// Partial is set when only some probes were run (--probe): the rows
	// say what was judged, but no level is reached by a subset.
	Partial bool `json:"partial,omitempty"`
	// Interrupted is set when the run was cancelled before its end: the
	// report is incomplete, not a pass.
	Interrupted bool          `json:"interrupted,omitempty"`
	Results     []Result      `json:"results"`
	Elapsed     time.Duration `json:"elapsed_ns"`
}

// Failed reports whether the implementation falls short of its claimed
// level: a row at or below it failed or was inconclusive (a claim that
// cannot be confirmed is not met, whatever the reason).
func (r *Report) Failed() bool {
	for _, x := range r.Results {
		if (x.Verdict == Fail || x.Verdict == Inconclusive) && x.Level <= r.Claimed {
			return true
		}
	}
	return false
}

// FailedReqs returns the requirements that failed, in report order, without
// repeats.
func (r *Report) FailedReqs() []string {
	var out []string
	seen := map[string]bool{}
	for _, x := range r.Results {
		if x.Verdict == Fail && !seen[x.Req] {
			seen[x.Req] = true
			out = append(out, x.Req)
		}
	}
	return out
}

// grade computes Reached and Blocked from the results: the highest level
// such that no row of that level or below failed or was inconclusive.
func (r *Report) grade() {
	r.Reached, r.Blocked = LevelHardened, ""
	for l := LevelReference; l <= LevelHardened; l++ {
		for _, x := range r.Results {
			if x.Level == l && (x.Verdict == Fail || x.Verdict == Inconclusive) {
				r.Reached = l - 1
				r.Blocked = fmt.Sprintf("%s %s: %s", x.Req, x.Verdict, x.Title)
				return
			}
		}
	}
}

// WriteJSON writes the report as one indented JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// WriteTable writes the report card as an aligned text table.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "capq conformance report: %s (%s)\n", r.Name, r.Impl)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "REQ\tTITLE\tLEVEL\tVERDICT\tEVIDENCE")
	for _, x := range r.Results {
		ev := x.Evidence
		if x.Repro != "" {
			ev += " [repro: " + x.Repro + "]"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", x.Req, x.Title, x.Level, x.Verdict, ev)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	r.writeVerdict(w)
	return nil
}

func (r *Report) writeVerdict(w io.Writer) {
	if r.Partial || r.Interrupted {
		why := "only the probes selected were run"
		if r.Interrupted {
			why = "interrupted: the check is incomplete"
		}
		fmt.Fprintf(w, "claimed level: %s; reached: partial (%s: no level is reached)", r.Claimed, why)
		if r.Failed() {
			fmt.Fprintf(w, "; short of the claim: %s", r.Blocked)
		}
		fmt.Fprintf(w, "; seed %d\n", r.Seed)
		return
	}
	fmt.Fprintf(w, "claimed level: %s; reached: %s", r.Claimed, r.Reached)
	if r.Blocked != "" {
		fmt.Fprintf(w, " (next level blocked by %s)", r.Blocked)
	}
	fmt.Fprintf(w, "; seed %d\n", r.Seed)
}

// WriteMarkdown writes the report card as a Markdown document.
func (r *Report) WriteMarkdown(w io.Writer) error {
	fmt.Fprintf(w, "# capq conformance report: %s\n\nImplementation: `%s`; features: %s.\n\n", mdCell(r.Name), mdCell(r.Impl), strings.Join(r.Features, ", "))
	fmt.Fprintln(w, "| requirement | title | level | verdict | evidence | reproduction |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- |")
	for _, x := range r.Results {
		repro := ""
		if x.Repro != "" {
			repro = "`" + x.Repro + "`"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", x.Req, mdCell(x.Title), x.Level, x.Verdict, mdCell(x.Evidence), repro)
	}
	fmt.Fprintln(w)
	r.writeVerdict(w)
	for _, x := range r.Results {
		if x.Verdict == Fail && x.Detail != "" {
			fmt.Fprintf(w, "\n## %s %s: %s\n\n```\n%s\n```\n", x.Req, x.Verdict, x.Title, strings.TrimSpace(x.Detail))
		}
	}
	return nil
}

func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
