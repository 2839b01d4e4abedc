package main

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Progress is one status line of a fuzzing run, as cmd/go's fuzzing
// coordinator prints it every few seconds:
//
//	fuzz: elapsed: 3s, gathering baseline coverage: 12/12 completed, now fuzzing with 2 workers
//	fuzz: elapsed: 6s, execs: 1234 (411/sec), new interesting: 5 (total: 17)
//	fuzz: elapsed: 6s, execs: 1234 (411/sec)
//
// The last form is printed when the binary lacks coverage instrumentation.
type Progress struct {
	Elapsed        time.Duration // since fuzzing started
	Execs          int64         // inputs run by the workers, in total
	Rate           int64         // inputs per second over the last interval
	NewInteresting int           // inputs that found new coverage in this run
	Total          int           // size of the corpus, seeds and cache included
	Baseline       bool          // still running the corpus to gather coverage
	Done           int           // with Baseline: corpus inputs run so far
}

var (
	elapsedRE  = regexp.MustCompile(`^fuzz: elapsed: ([0-9hms.]+), (.*)$`)
	execsRE    = regexp.MustCompile(`^execs: (\d+) \((\d+)/sec\)(?:, new interesting: (\d+) \(total: (\d+)\))?$`)
	baselineRE = regexp.MustCompile(`^(?:gathering baseline coverage|testing seed corpus): (\d+)/(\d+) completed`)
)

// ParseProgress parses one line of go test -fuzz output. It reports false
// for every line that is not a coordinator status line.
func ParseProgress(line string) (Progress, bool) {
	m := elapsedRE.FindStringSubmatch(strings.TrimSpace(line))
	if m == nil {
		return Progress{}, false
	}
	d, err := time.ParseDuration(m[1])
	if err != nil {
		return Progress{}, false
	}
	p := Progress{Elapsed: d}
	if b := baselineRE.FindStringSubmatch(m[2]); b != nil {
		p.Baseline = true
		p.Done, _ = strconv.Atoi(b[1])
		p.Total, _ = strconv.Atoi(b[2])
		return p, true
	}
	e := execsRE.FindStringSubmatch(m[2])
	if e == nil {
		return Progress{}, false
	}
	p.Execs, _ = strconv.ParseInt(e[1], 10, 64)
	p.Rate, _ = strconv.ParseInt(e[2], 10, 64)
	if e[3] != "" {
		p.NewInteresting, _ = strconv.Atoi(e[3])
		p.Total, _ = strconv.Atoi(e[4])
	}
	return p, true
}

// outcome accumulates what the output of one go test -fuzz run says about
// the run, line by line.
type outcome struct {
	last         Progress // the latest status line
	seen         bool     // at least one status line
	failed       bool     // a "--- FAIL" line for the target
	passed       bool     // a "PASS" or "ok" line
	failingInput string   // path (relative to the package) of the input written
	rerun        string   // the -run argument that reruns the failing input, e.g. FuzzX/1a2b or FuzzX/seed#3
	message      []string // the failure's report: lines after "--- FAIL", at most maxMessage
	report       []string // the same, at most maxReport: the whole stack, for the signature
	baseline     int      // corpus size of the first baseline line: seeds plus restored entries
}

var (
	failingRE  = regexp.MustCompile(`^Failing input written to (\S+)$`)
	rerunRE    = regexp.MustCompile(`^go test -run=(\S+)$`)
	seedFailRE = regexp.MustCompile(`^failure while testing seed corpus entry: (\S+)$`)
	subFailRE  = regexp.MustCompile(`^--- FAIL: (Fuzz\S*/\S+) \(`)
)

// flakeNote explains the "flake" status.
const flakeNote = "Go's fuzzing coordinator reported its own -fuzztime deadline as a failure, " +
	"and no failing input was written (go.dev/issue/75804, fixed in Go 1.27): not a bug of the target"

// deadlineFlake reports whether a failed run is Go's fuzz-coordinator race
// rather than a failure of the target: the report is exactly "context
// deadline exceeded", and no failing input was written or named.
func (o *outcome) deadlineFlake() bool {
	return o.failed && o.failingInput == "" && o.rerun == "" &&
		len(o.message) == 1 && o.message[0] == "context deadline exceeded"
}

// maxMessage bounds how many lines of a failure report are shown;
// maxReport bounds how many are kept to compute the failure's signature
// (a deep stack is longer than what people want to read in a summary).
const (
	maxMessage = 40
	maxReport  = 1000
)

// feed takes one line of output.
func (o *outcome) feed(line string) {
	if p, ok := ParseProgress(line); ok {
		if p.Baseline && !o.seen {
			o.baseline = p.Total
		}
		o.last, o.seen = p, true
		return
	}
	t := strings.TrimSpace(line)
	switch {
	case strings.HasPrefix(t, "--- FAIL:"):
		o.failed = true
		if m := subFailRE.FindStringSubmatch(t); m != nil && o.rerun == "" {
			o.rerun = m[1] // a seed or testdata input; "go test -run=" may refine it
		}
		return
	case t == "PASS" || strings.HasPrefix(t, "ok "):
		o.passed = true
		return
	}
	if m := failingRE.FindStringSubmatch(t); m != nil {
		o.failingInput = m[1]
	}
	if m := seedFailRE.FindStringSubmatch(t); m != nil {
		o.failed = true
		o.rerun = m[1]
		return
	}
	if m := rerunRE.FindStringSubmatch(t); m != nil {
		o.rerun = m[1]
	}
	if o.failed && t != "" && t != "FAIL" && !strings.HasPrefix(t, "exit status") && !strings.HasPrefix(t, "FAIL\t") {
		if len(o.message) < maxMessage {
			o.message = append(o.message, t)
		}
		if len(o.report) < maxReport {
			o.report = append(o.report, t)
		}
	}
}
