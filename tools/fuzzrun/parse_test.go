package main

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseProgress(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		line string
		want Progress
		ok   bool
	}{
		{"fuzz: elapsed: 3s, execs: 1234 (411/sec), new interesting: 5 (total: 12)",
			Progress{Elapsed: 3 * time.Second, Execs: 1234, Rate: 411, NewInteresting: 5, Total: 12}, true},
		{"fuzz: elapsed: 1m3s, execs: 89051 (28403/sec), new interesting: 10 (total: 64)",
			Progress{Elapsed: 63 * time.Second, Execs: 89051, Rate: 28403, NewInteresting: 10, Total: 64}, true},
		{"fuzz: elapsed: 1h0m0s, execs: 0 (0/sec), new interesting: 0 (total: 0)",
			Progress{Elapsed: time.Hour}, true},
		{"fuzz: elapsed: 11s, execs: 135368 (13739/sec)",
			Progress{Elapsed: 11 * time.Second, Execs: 135368, Rate: 13739}, true},
		{"fuzz: elapsed: 0s, gathering baseline coverage: 0/43 completed",
			Progress{Baseline: true, Total: 43}, true},
		{"fuzz: elapsed: 2s, gathering baseline coverage: 43/43 completed, now fuzzing with 2 workers",
			Progress{Elapsed: 2 * time.Second, Baseline: true, Total: 43, Done: 43}, true},
		{"fuzz: elapsed: 0s, testing seed corpus: 17/17 completed, now fuzzing with 1 workers",
			Progress{Baseline: true, Total: 17, Done: 17}, true},
		{"  fuzz: elapsed: 3s, execs: 7 (2/sec), new interesting: 0 (total: 1)\r",
			Progress{Elapsed: 3 * time.Second, Execs: 7, Rate: 2, Total: 1}, true},
		{"fuzz: elapsed: 3s, execs: many (2/sec)", Progress{}, false},
		{"fuzz: elapsed: soon, execs: 7 (2/sec)", Progress{}, false},
		{"fuzz: minimizing 78-byte failing input file", Progress{}, false},
		{"--- FAIL: FuzzX (0.12s)", Progress{}, false},
		{"", Progress{}, false},
	} {
		got, ok := ParseProgress(tc.line)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseProgress(%q) = %+v, %v; want %+v, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

// Transcripts of go test -fuzz runs, as go1.26 prints them.
const (
	passTranscript = `fuzz: elapsed: 0s, gathering baseline coverage: 0/43 completed
fuzz: elapsed: 0s, gathering baseline coverage: 43/43 completed, now fuzzing with 1 workers
fuzz: elapsed: 3s, execs: 12605 (4202/sec), new interesting: 11 (total: 54)
fuzz: elapsed: 6s, execs: 24000 (3798/sec), new interesting: 12 (total: 55)
PASS
ok  	github.com/capq/capq/fuzz	6.082s
`
	failTranscript = `fuzz: elapsed: 0s, gathering baseline coverage: 0/37 completed
fuzz: elapsed: 0s, gathering baseline coverage: 37/37 completed, now fuzzing with 1 workers
fuzz: elapsed: 3s, execs: 500 (166/sec), new interesting: 2 (total: 39)
fuzz: minimizing 86-byte failing input file
fuzz: elapsed: 4s, minimizing
--- FAIL: FuzzAppendedAt (1.08s)
    --- FAIL: FuzzAppendedAt (0.00s)
        appendedat_test.go:166: clock 10000-01-01 00:01:02 +0000 UTC: the record did not come back
    
    Failing input written to testdata/fuzz/FuzzAppendedAt/ff5ed36075917ded
    To re-run:
    go test -run=FuzzAppendedAt/ff5ed36075917ded
FAIL
exit status 1
FAIL	github.com/capq/capq/fuzz	1.083s
`
	cacheFailTranscript = `fuzz: elapsed: 0s, gathering baseline coverage: 0/37 completed
failure while testing seed corpus entry: FuzzAppendedAt/kb2-year-10000-clock
fuzz: elapsed: 0s, gathering baseline coverage: 11/37 completed
--- FAIL: FuzzAppendedAt (0.29s)
    --- FAIL: FuzzAppendedAt (0.00s)
        appendedat_test.go:180: clock 10000-01-01 00:01:02 +0000 UTC: quarantined
    
FAIL
exit status 1
FAIL	github.com/capq/capq/fuzz	0.302s
`
	seedFailTranscript = `--- FAIL: FuzzDifferential (0.04s)
    --- FAIL: FuzzDifferential/seed#28 (0.00s)
        differential_test.go:143: disagreement on "x"
FAIL
exit status 1
FAIL	github.com/capq/capq/fuzz	0.068s
`
)

func TestOutcome(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		transcript string
		want       outcome
		wantMsg    string // a line the kept message must contain
	}{
		{"pass", passTranscript, outcome{
			last:     Progress{Elapsed: 6 * time.Second, Execs: 24000, Rate: 3798, NewInteresting: 12, Total: 55},
			seen:     true,
			passed:   true,
			baseline: 43,
		}, ""},
		{"fail", failTranscript, outcome{
			last:         Progress{Elapsed: 3 * time.Second, Execs: 500, Rate: 166, NewInteresting: 2, Total: 39},
			seen:         true,
			failed:       true,
			baseline:     37,
			failingInput: "testdata/fuzz/FuzzAppendedAt/ff5ed36075917ded",
			rerun:        "FuzzAppendedAt/ff5ed36075917ded",
		}, "appendedat_test.go:166: clock 10000-01-01 00:01:02 +0000 UTC: the record did not come back"},
		{"seed failure", seedFailTranscript, outcome{failed: true, rerun: "FuzzDifferential/seed#28"}, `differential_test.go:143: disagreement on "x"`},
		{"corpus failure", cacheFailTranscript, outcome{
			last:     Progress{Baseline: true, Done: 11, Total: 37},
			seen:     true,
			failed:   true,
			baseline: 37,
			rerun:    "FuzzAppendedAt/kb2-year-10000-clock",
		}, "appendedat_test.go:180: clock 10000-01-01 00:01:02 +0000 UTC: quarantined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o outcome
			for line := range strings.Lines(tc.transcript) {
				o.feed(strings.TrimRight(line, "\n"))
			}
			msg := o.message
			if !reflect.DeepEqual(o.report, o.message) {
				t.Errorf("report %q differs from the (short) message %q", o.report, o.message)
			}
			o.message, o.report = nil, nil
			if !reflect.DeepEqual(o, tc.want) {
				t.Errorf("outcome = %+v\nwant      %+v", o, tc.want)
			}
			found := tc.wantMsg == ""
			for _, l := range msg {
				found = found || l == tc.wantMsg
				if strings.HasPrefix(l, "FAIL") || strings.HasPrefix(l, "exit status") || strings.HasPrefix(l, "fuzz: elapsed") {
					t.Errorf("message keeps noise line %q", l)
				}
			}
			if !found {
				t.Errorf("message %q lacks %q", msg, tc.wantMsg)
			}
		})
	}
}

// TestDeadlineFlake: Go 1.26's fuzzing coordinator can report its own
// -fuzztime deadline as a failure (go.dev/issue/75804); such a run is a
// flake, and a run that wrote a failing input never is.
func TestDeadlineFlake(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		lines []string
		want  bool
	}{
		{"coordinator race", []string{
			"fuzz: elapsed: 3s, execs: 33249 (11083/sec), new interesting: 2 (total: 127)",
			"--- FAIL: FuzzULIDGenerator (3.09s)",
			"    context deadline exceeded",
			"FAIL",
			"exit status 1",
		}, true},
		{"a real crasher", []string{
			"--- FAIL: FuzzX (0.10s)",
			"    --- FAIL: FuzzX (0.00s)",
			"        x_test.go:12: boom",
			"    Failing input written to testdata/fuzz/FuzzX/abc123",
			"    To re-run:",
			"    go test -run=FuzzX/abc123",
		}, false},
		{"deadline plus another message", []string{
			"--- FAIL: FuzzX (3.00s)",
			"    x_test.go:9: property violated",
			"    context deadline exceeded",
		}, false},
		{"passed", []string{"PASS", "ok  \tgithub.com/capq/capq/fuzz\t3.1s"}, false},
	} {
		var o outcome
		for _, l := range tt.lines {
			o.feed(l)
		}
		if got := o.deadlineFlake(); got != tt.want {
			t.Errorf("%s: deadlineFlake = %v, want %v", tt.name, got, tt.want)
		}
	}
}
