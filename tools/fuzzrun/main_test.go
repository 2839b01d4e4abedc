package main

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args         []string
		wantDuration time.Duration
		wantMinimize time.Duration
		wantPkgs     []string
		wantErr      bool
	}{
		{nil, time.Minute, 10 * time.Second, []string{"./fuzz/", "./model/"}, false},
		{[]string{"-smoke"}, 3 * time.Second, time.Second, []string{"./fuzz/", "./model/"}, false},
		{[]string{"-smoke", "-duration", "5s"}, 5 * time.Second, time.Second, []string{"./fuzz/", "./model/"}, false},
		{[]string{"-smoke", "-minimizetime", "0s"}, 3 * time.Second, 0, []string{"./fuzz/", "./model/"}, false},
		{[]string{"-duration", "10m", "-pkgs", " ./fuzz/ ,,"}, 10 * time.Minute, 10 * time.Second, []string{"./fuzz/"}, false},
		{[]string{"-duration", "0s"}, 0, 0, nil, true},
		{[]string{"-parallel", "0"}, 0, 0, nil, true},
		{[]string{"-targets", "("}, 0, 0, nil, true},
		{[]string{"-pkgs", ","}, 0, 0, nil, true},
		{[]string{"stray"}, 0, 0, nil, true},
		// A zero or negative grace killed every run as hung; a negative
		// minimisation time failed every target (attack item 12).
		{[]string{"-grace", "0"}, 0, 0, nil, true},
		{[]string{"-grace", "-1s"}, 0, 0, nil, true},
		{[]string{"-minimizetime", "-1s"}, 0, 0, nil, true},
		{[]string{"-stall", "2s"}, 0, 0, nil, true},
	} {
		cfg, err := parseFlags(tc.args)
		if (err != nil) != tc.wantErr {
			t.Errorf("parseFlags(%q): error %v, want error %v", tc.args, err, tc.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if cfg.duration != tc.wantDuration || cfg.minimize != tc.wantMinimize || !slices.Equal(cfg.pkgs, tc.wantPkgs) {
			t.Errorf("parseFlags(%q) = duration %v, minimize %v, pkgs %q; want %v, %v, %q",
				tc.args, cfg.duration, cfg.minimize, cfg.pkgs, tc.wantDuration, tc.wantMinimize, tc.wantPkgs)
		}
	}
}

func TestFuzzArgs(t *testing.T) {
	t.Parallel()
	tg := target{Pkg: "./fuzz/", ImportPath: "github.com/capq/capq/fuzz", Name: "FuzzX"}
	cfg := config{duration: 3 * time.Second, minimize: time.Second, parallel: 2}
	want := []string{"test", "-run=^$", "-fuzz=^FuzzX$", "-fuzztime=3s", "-fuzzminimizetime=1s", "-parallel=2", "./fuzz/"}
	if got := fuzzArgs(cfg, tg); !slices.Equal(got, want) {
		t.Errorf("fuzzArgs = %q, want %q", got, want)
	}
	cfg.cache = "/c"
	want = append(want, "-args", "-test.fuzzcachedir="+filepath.Join("/c", "github.com/capq/capq/fuzz"))
	if got := fuzzArgs(cfg, tg); !slices.Equal(got, want) {
		t.Errorf("fuzzArgs with -cache = %q, want %q", got, want)
	}
}

func TestWriteText(t *testing.T) {
	t.Parallel()
	sum := Summary{
		Duration: "3s", Parallel: 2, GoVersion: "go1.26.8", CPUs: 2, Failed: 1,
		Results: []Result{
			{Package: "github.com/capq/capq/fuzz", Target: "FuzzA", Status: "pass", Execs: 9000, ExecsPerSec: 3000, NewInteresting: 4, Corpus: 40, Seconds: 5},
			{Package: "github.com/capq/capq/fuzz", Target: "FuzzB", Status: "fail", Execs: 10, ExecsPerSec: 5, Seconds: 2,
				Log: ".fuzzrun/fuzz.FuzzB.log", Message: []string{"b_test.go:9: boom"},
				FailingInput: "./fuzz/testdata/fuzz/FuzzB/abc", Reproduce: "go test -run='FuzzB/abc' ./fuzz/"},
		},
	}
	var b strings.Builder
	writeText(&b, sum)
	text := b.String()
	for _, want := range []string{
		"FAIL github.com/capq/capq/fuzz.FuzzB (log: .fuzzrun/fuzz.FuzzB.log)",
		"    b_test.go:9: boom",
		"  failing input: ./fuzz/testdata/fuzz/FuzzB/abc",
		"  reproduce: go test -run='FuzzB/abc' ./fuzz/",
		"1 of 2 targets failed",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("summary lacks %q:\n%s", want, text)
		}
	}
	if !regexp.MustCompile(`(?m)^\s*fuzz\.FuzzA\s+pass\s+9000\s+3000\s+4\s+40\s+5s\s*$`).MatchString(text) {
		t.Errorf("summary lacks FuzzA's row:\n%s", text)
	}
	if strings.Contains(text, "PASS github.com/capq/capq/fuzz.FuzzA") {
		t.Errorf("summary reports a passing target as a failure:\n%s", text)
	}
}

// The stall watch calls a run hung when the count it sees stops growing
// for longer than its limit, and only then: the clock starts at the first
// status line (not during the build), and the switch from the baseline
// to fuzzing is progress.
func TestStallWatch(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	base := func(done int) Progress { return Progress{Baseline: true, Done: done, Total: 2} }
	execs := func(n int64) Progress { return Progress{Execs: n} }
	for _, tc := range []struct {
		name  string
		lines []struct {
			at float64
			p  Progress
		}
		ask  float64
		want bool
	}{
		{"no status line yet (building)", nil, 100, false},
		{"execs advance", []struct {
			at float64
			p  Progress
		}{{0, base(0)}, {3, base(2)}, {6, execs(100)}, {9, execs(200)}}, 13, false},
		{"execs stop", []struct {
			at float64
			p  Progress
		}{{0, base(2)}, {3, execs(1)}, {6, execs(1)}, {9, execs(1)}}, 8.5, true},
		{"baseline stuck (a seed hangs)", []struct {
			at float64
			p  Progress
		}{{0, base(1)}, {3, base(1)}, {6, base(1)}}, 5.5, true},
		{"baseline done then fuzzing starts at 0 execs", []struct {
			at float64
			p  Progress
		}{{0, base(1)}, {3, base(2)}, {6, execs(0)}}, 10, false},
	} {
		s := newStallWatch(5 * time.Second)
		for _, l := range tc.lines {
			s.progress(l.p, at(l.at))
		}
		if got := s.stalled(at(tc.ask)); got != tc.want {
			t.Errorf("%s: stalled at %vs = %v, want %v", tc.name, tc.ask, got, tc.want)
		}
	}
}
