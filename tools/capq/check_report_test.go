//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/capq/capq/tools/internal/report"
	"github.com/capq/capq/tools/internal/report/ptytest"
)

// The JUnit report of a campaign parses and has one test case per phase
// (and per part of the model phase), and the Markdown summary has a row
// per phase.
func TestCheckJUnitAndSummary(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	junit, md := filepath.Join(dir, "junit.xml"), filepath.Join(dir, "summary.md")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"check", "--duration", "1s", "--seed", "7", "--phase", "powercut,fuzz",
		"--junit", junit, "--summary", md}, nil, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	var doc struct {
		Tests  int `xml:"tests,attr"`
		Suites []struct {
			Name  string `xml:"name,attr"`
			Props []struct {
				Name  string `xml:"name,attr"`
				Value string `xml:"value,attr"`
			} `xml:"properties>property"`
			Cases []struct {
				Class   string    `xml:"classname,attr"`
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("JUnit report does not parse: %v\n%s", err, b)
	}
	if doc.Tests != 2 || len(doc.Suites) != 1 || len(doc.Suites[0].Cases) != 2 {
		t.Fatalf("JUnit report: %+v", doc)
	}
	s := doc.Suites[0]
	if s.Name != "capq check" || s.Cases[0].Name != "powercut" || s.Cases[1].Name != "fuzz" ||
		s.Cases[0].Class != "capq check" || s.Cases[0].Failure != nil || s.Cases[1].Failure != nil {
		t.Errorf("JUnit cases %+v", s)
	}
	if len(s.Props) == 0 || s.Props[0].Name != "seed" || s.Props[0].Value != "7" {
		t.Errorf("JUnit properties %+v, want the seed first", s.Props)
	}
	b, err = os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	for _, re := range []string{`(?m)^### capq check: passed$`, "seed `7`", `(?m)^\| powercut \| pass \| [1-9]\d* \| [1-9]\d* \| `, `(?m)^\| fuzz \| pass \| `} {
		if !regexp.MustCompile(re).Match(b) {
			t.Errorf("summary lacks %s:\n%s", re, b)
		}
	}
}

// A failing phase is a JUnit failure that carries the command reproducing
// it, and a model phase's parts are cases of their own.
func TestCheckSuiteFailure(t *testing.T) {
	t.Parallel()
	rep := &checkReport{Seed: 9, Duration: time.Minute, Phases: []phaseResult{
		{Name: "model", Runs: 3, Steps: 30, Failed: true, Message: "R9 lost a record", Reproduce: "go run ./tools/capq check --seed 9 --phase model",
			Sub: []phaseResult{{Name: "model", Runs: 2}, {Name: "power-loss", Runs: 1, Failed: true, Message: "R9 lost a record"}}},
		{Name: "fuzz", Skipped: "interrupted"},
	}}
	var b bytes.Buffer
	if err := report.WriteJUnit(&b, checkSuite(rep, time.Now())); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cases []struct {
			Name    string `xml:"name,attr"`
			Failure *struct {
				Message string `xml:"message,attr"`
				Body    string `xml:",chardata"`
			} `xml:"failure"`
			Skipped *struct{} `xml:"skipped"`
		} `xml:"testsuite>testcase"`
	}
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range doc.Cases {
		names = append(names, c.Name)
	}
	if strings.Join(names, " ") != "model model/model model/power-loss fuzz" {
		t.Fatalf("cases %q", names)
	}
	for _, i := range []int{0, 2} {
		f := doc.Cases[i].Failure
		if f == nil || f.Message != "R9 lost a record" || !strings.Contains(f.Body, "reproduce: go run ./tools/capq check --seed 9 --phase model") {
			t.Errorf("case %s: failure %+v", names[i], f)
		}
	}
	if doc.Cases[1].Failure != nil || doc.Cases[3].Skipped == nil {
		t.Errorf("statuses: %+v", doc.Cases)
	}
}

var periodicRE = regexp.MustCompile(`(?m)^capq check: \[1/1\] powercut: \d+ power cuts, [0-9.]+m?s elapsed, [0-9.]+m?s left$`)

// The progress display through the command: plain periodic lines on
// stderr when it is not a terminal, nothing extra with --quiet, a live
// line redrawn in place on a pseudo-terminal.
func TestCheckProgress(t *testing.T) {
	t.Setenv(report.IntervalEnv, "200ms")
	args := []string{"check", "--duration", "2s", "--seed", "7", "--phase", "powercut"}

	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), args, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	if n := len(periodicRE.FindAllString(stderr.String(), -1)); n < 4 || strings.Contains(stderr.String(), "\r") {
		t.Errorf("not a terminal: %d periodic lines, want at least 4, and no carriage return:\n%s", n, stderr.String())
	}
	if !regexp.MustCompile(`(?m)^capq check: powercut: \d+ runs, \d+ steps, \S+: ok$`).MatchString(stderr.String()) {
		t.Errorf("no final line for the phase:\n%s", stderr.String())
	}

	stdout.Reset()
	stderr.Reset()
	if code := run(context.Background(), append(args, "--quiet"), nil, &stdout, &stderr); code != 0 {
		t.Fatalf("--quiet: exit %d\n%s", code, stderr.String())
	}
	if stderr.Len() != 0 || !strings.Contains(stdout.String(), "PASS seed=7") {
		t.Errorf("--quiet: stderr %q (want nothing), stdout:\n%s", stderr.String(), stdout.String())
	}

	ctl, term, err := ptytest.Open()
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	var screen bytes.Buffer
	copied := make(chan struct{})
	go func() {
		io.Copy(&screen, ctl) // ends with EIO once the terminal end is closed
		close(copied)
	}()
	stdout.Reset()
	code := run(context.Background(), args, nil, &stdout, term)
	term.Close()
	select {
	case <-copied:
	case <-time.After(10 * time.Second):
		t.Fatal("the pseudo-terminal was not closed")
	}
	got := screen.String()
	if code != 0 {
		t.Fatalf("on a terminal: exit %d\n%q", code, got)
	}
	live := regexp.MustCompile(`\r\x1b\[Kcapq check: \[1/1\] powercut: \d+ power cuts, [0-9.]+m?s elapsed, [0-9.]+m?s left`)
	if n := len(live.FindAllString(got, -1)); n < 5 {
		t.Errorf("on a terminal: %d redraws of the live line, want at least 5:\n%q", n, got)
	}
	if periodicRE.MatchString(strings.ReplaceAll(got, "\r\n", "\n")) {
		t.Errorf("on a terminal, progress printed as plain lines:\n%q", got)
	}
	if !strings.Contains(got, "\r\x1b[Kcapq check: powercut: ") {
		t.Errorf("the live line is not replaced by the phase's result:\n%q", got)
	}
}
