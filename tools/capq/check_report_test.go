//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
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

	ctl, term := ptytest.OpenT(t)
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

// A signal (SIGINT, CI's SIGTERM, a closed terminal's SIGHUP) stops the
// campaign, and nothing reports it as a pass: the phase it cut short is
// "interrupted" (a JUnit error), the phases it never began are "not run"
// (JUnit skipped, with the reason), the verdict is INTERRUPTED and the
// exit status 1.
func TestCheckInterrupted(t *testing.T) {
	t.Parallel()
	for _, sig := range []string{"INT", "TERM", "HUP"} {
		t.Run(sig, func(t *testing.T) {
			// Each signal has its own capq process and scratch folder.
			t.Parallel()
			dir := t.TempDir()
			junit, md := filepath.Join(dir, "j.xml"), filepath.Join(dir, "s.md")
			// The signal goes once the powercut phase has begun (its
			// scratch folder exists, so capq already catches the
			// signal, however slowly a loaded machine started it) and
			// has run for half a second: a phase cut short in its
			// middle. (A fixed 1.5 s sleep was both slower and, on a
			// loaded machine, no proof that capq had started.)
			tmp := filepath.Join(dir, "tmp")
			must(t, os.Mkdir(tmp, 0o700))
			code, stdout, stderr := runCapqSh(t, "TMPDIR="+tmp+" capq check --duration 60s --seed 11 --phase powercut,fuzz --quiet --junit "+junit+
				" --summary "+md+" & p=$!; i=0; until [ -d "+tmp+"/capq-check-*/powercut ] || [ $i -ge 1200 ]; do sleep 0.05; i=$((i+1)); done; sleep 0.5; kill -"+sig+" $p; wait $p")
			if code != exitFail || !strings.Contains(stderr, "interrupted") {
				t.Errorf("exit %d, stderr %q; want 1 and interrupted", code, stderr)
			}
			for _, re := range []string{`(?m)^INTERRUPTED seed=11$`, `(?m)^powercut\s.*\sinterrupted$`, `(?m)^fuzz\s.*not run \(interrupted\)$`} {
				if !regexp.MustCompile(re).MatchString(stdout) {
					t.Errorf("stdout lacks %s:\n%s", re, stdout)
				}
			}
			if strings.Contains(stdout, "PASS") {
				t.Errorf("an interrupted check says PASS:\n%s", stdout)
			}
			b, err := os.ReadFile(junit)
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Cases []struct {
					Name  string `xml:"name,attr"`
					Error *struct {
						Message string `xml:"message,attr"`
					} `xml:"error"`
					Skipped *struct {
						Message string `xml:"message,attr"`
					} `xml:"skipped"`
				} `xml:"testsuite>testcase"`
			}
			if err := xml.Unmarshal(b, &doc); err != nil {
				t.Fatalf("JUnit does not parse: %v\n%s", err, b)
			}
			if len(doc.Cases) != 2 || doc.Cases[0].Name != "powercut" || doc.Cases[0].Error == nil ||
				!strings.Contains(doc.Cases[0].Error.Message, "interrupted") ||
				doc.Cases[1].Name != "fuzz" || doc.Cases[1].Skipped == nil || doc.Cases[1].Skipped.Message != "not run: interrupted" {
				t.Errorf("JUnit of an interrupted check:\n%s", b)
			}
			b, err = os.ReadFile(md)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), "### capq check: INTERRUPTED") || strings.Contains(string(b), "passed") {
				t.Errorf("summary of an interrupted check:\n%s", b)
			}
		})
	}
}

// Bad outputs and flags are usage errors (exit 2) found before the
// campaign starts: nothing runs, nothing is printed on stdout.
func TestCheckUsageErrors(t *testing.T) {
	dir := t.TempDir()
	same := filepath.Join(dir, "same")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"same file", []string{"--junit", same, "--summary", same}, "same file"},
		{"same file, other spelling", []string{"--junit", same, "--summary", dir + "/./same"}, "same file"},
		{"junit is a directory", []string{"--junit", dir}, "is a directory"},
		{"summary is a directory", []string{"--summary", dir}, "is a directory"},
		{"missing parent", []string{"--junit", filepath.Join(dir, "no", "j.xml")}, "no such file"},
		{"empty phase", []string{"--phase", ""}, "--phase is empty"},
		{"blank phase", []string{"--phase", " "}, "--phase is empty"},
		{"steps without impl", []string{"--steps", "5"}, "--steps needs --impl"},
		{"timeout without impl", []string{"--timeout", "5s"}, "--timeout needs --impl"},
		{"phase with impl", []string{"--impl", "true", "--phase", "fuzz"}, "--probe"},
		{"impl report same as junit", []string{"--impl", "true", "--report", same, "--junit", same}, "same file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			code, stdout, stderr := capqRun(t, append([]string{"check", "--duration", "30s", "--seed", "3", "--quiet"}, tc.args...)...)
			if code != exitUsage || !strings.Contains(stderr, tc.want) || stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2 and %q", code, stdout, stderr, tc.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("the usage error came after %v: the campaign ran", d)
			}
		})
	}
	if _, err := os.Stat(same); err == nil {
		t.Errorf("a refused report file was created")
	}
}

// A --duration too short for any phase to complete a run is not a pass.
func TestCheckInconclusive(t *testing.T) {
	code, stdout, stderr := capqRun(t, "check", "--duration", "1ns", "--seed", "3", "--phase", "powercut,fuzz", "--quiet")
	if code != exitFail || !strings.Contains(stdout, "INCONCLUSIVE seed=3") || !strings.Contains(stderr, "inconclusive") {
		t.Errorf("exit %d\n%s%s; want 1 and INCONCLUSIVE", code, stdout, stderr)
	}
}

// An error of the environment (here too few descriptors to start the
// kill-crash processes) is a JUnit <error> without a reproduction
// command, not a <failure> of the queue.
func TestCheckToolErrorIsError(t *testing.T) {
	dir := t.TempDir()
	junit := filepath.Join(dir, "j.xml")
	code, stdout, stderr := runCapqSh(t, "ulimit -n 22 && exec capq check --duration 2s --seed 3 --phase killcrash --quiet --junit "+junit)
	if code != exitFail {
		t.Fatalf("exit %d, want 1\n%s%s", code, stdout, stderr)
	}
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "<error ") || strings.Contains(string(b), "<failure") || strings.Contains(string(b), "reproduce:") {
		t.Errorf("tool error reported as a failure:\n%s", b)
	}
	if !strings.Contains(stderr, "ERROR killcrash") || strings.Contains(stderr, "reproduce") {
		t.Errorf("stderr %q", stderr)
	}
}

// check --impl interrupted (here while the implementation hangs after its
// hello) still writes its JUnit report and report card, marked
// interrupted, with the probes that never ran listed as not run. An
// implementation that never starts gets a report with the error too.
func TestImplInterruptedReports(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	junit, card := filepath.Join(dir, "j.xml"), filepath.Join(dir, "card.md")
	slow := `read l; echo '{"ok":true,"protocol":1,"name":"slow","features":[]}'; exec sleep 300`
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(2*time.Second, cancel)
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"check", "--impl", slow, "--timeout", "60s", "--quiet", "--junit", junit, "--report", card,
		"--out", filepath.Join(dir, "out")}, strings.NewReader(""), &stdout, &stderr)
	if code != exitFail || !strings.Contains(stdout.String(), "INTERRUPTED") {
		t.Errorf("exit %d, stdout %q; want 1 and INTERRUPTED", code, stdout.String())
	}
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(b, new(struct{})); err != nil || !strings.Contains(string(b), `name="interrupted" value="true"`) ||
		!strings.Contains(string(b), `<skipped message="not run: interrupted">`) {
		t.Errorf("JUnit of an interrupted --impl check (%v):\n%s", err, b)
	}
	if b, _ := os.ReadFile(card); !strings.Contains(string(b), "INTERRUPTED") {
		t.Errorf("report card of an interrupted check:\n%s", b)
	}

	code = run(t.Context(), []string{"check", "--impl", "exit 3", "--timeout", "2s", "--quiet", "--junit", junit,
		"--out", filepath.Join(dir, "out2")}, strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
	b, _ = os.ReadFile(junit)
	if code != exitFail || !strings.Contains(string(b), `<testcase classname="capq check --impl" name="hello"`) || !strings.Contains(string(b), "<error") {
		t.Errorf("exit %d, JUnit of an implementation that does not start:\n%s", code, b)
	}
}

// The composite action's script (.github/actions/capq-check/run.sh): each
// run replaces the files of the one before, always leaves a report.md and
// a junit.xml saying what happened (even when capq is missing or the
// implementation never answers), and stops a hanging check at DEADLINE
// with status 3 (attack items 4, 5 and 6).
func TestActionScript(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	script, err := filepath.Abs("../../.github/actions/capq-check/run.sh")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	out := filepath.Join(tmp, "capq-conformance")
	runScript := func(env ...string) (int, map[string]string, time.Duration) {
		t.Helper()
		os.Remove(filepath.Join(tmp, "output"))
		cmd := exec.Command("bash", script)
		cmd.Env = append(os.Environ(), append([]string{"RUNNER_TEMP=" + tmp, "GITHUB_OUTPUT=" + filepath.Join(tmp, "output"),
			"GITHUB_STEP_SUMMARY=" + filepath.Join(tmp, "summary"), "SEED=3"}, env...)...)
		start := time.Now()
		err := cmd.Run()
		code, ok := exitOf(err)
		if !ok {
			t.Fatal(err)
		}
		outputs := map[string]string{}
		b, _ := os.ReadFile(filepath.Join(tmp, "output"))
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, "="); ok {
				outputs[k] = v
			}
		}
		for _, k := range []string{"report", "junit", "json"} {
			if _, err := os.Stat(outputs[k]); err != nil {
				t.Errorf("output %s names a missing file: %v", k, err)
			}
		}
		if b, err := os.ReadFile(filepath.Join(out, "junit.xml")); err != nil || xml.Unmarshal(b, new(struct{})) != nil {
			t.Errorf("junit.xml missing or not XML: %v\n%s", err, b)
		}
		return code, outputs, time.Since(start)
	}
	read := func(name string) string {
		b, _ := os.ReadFile(filepath.Join(out, name))
		return string(b)
	}

	code, o, _ := runScript("IMPL=capq adapter", "PROBES=list-order")
	if code != 0 || o["passed"] != "true" || !strings.Contains(read("report.md"), "| R7 |") {
		t.Fatalf("passing run: exit %d, outputs %v\n%s", code, o, read("report.md"))
	}
	// A second run with a bad input must not publish the first's pass.
	code, o, _ = runScript("IMPL=capq adapter", "LEVEL=bogus")
	if code != 2 || o["passed"] != "false" || strings.Contains(read("report.md"), "| R7 |") || !strings.Contains(read("report.md"), "ERROR") ||
		!strings.Contains(read("junit.xml"), "<error") {
		t.Errorf("bad-input run after a pass: exit %d, outputs %v, report:\n%s", code, o, read("report.md"))
	}
	// An implementation that never answers.
	code, _, _ = runScript("IMPL=sleep 100", "TIMEOUT=1s")
	if code != 1 || !strings.Contains(read("junit.xml"), "<error") || read("report.md") == "" {
		t.Errorf("silent implementation: exit %d, report:\n%s\njunit:\n%s", code, read("report.md"), read("junit.xml"))
	}
	// capq missing from PATH.
	code, _, _ = runScript("IMPL=capq adapter", "PATH=/usr/bin:/bin")
	if code != 2 || !strings.Contains(read("report.md"), "capq is not on PATH") {
		t.Errorf("capq missing: exit %d, report:\n%s", code, read("report.md"))
	}
	// Answers hello, then hangs: the deadline stops it, reports written.
	hang := `read l; echo '{"ok":true,"protocol":1,"name":"hang","features":[]}'; exec sleep 300`
	code, _, d := runScript("IMPL="+hang, "TIMEOUT=30s", "DEADLINE=3s")
	if code != 3 || d > 30*time.Second || !strings.Contains(read("report.md"), "DEADLINE") || !strings.Contains(read("junit.xml"), `name="interrupted" value="true"`) {
		t.Errorf("hanging implementation: exit %d after %v, report:\n%s\njunit:\n%s", code, d, read("report.md"), read("junit.xml"))
	}
	if b, _ := os.ReadFile(filepath.Join(tmp, "summary")); strings.Count(string(b), "capq") < 5 {
		t.Errorf("the job summary does not have a report per run:\n%s", b)
	}
}

// A SIGKILLed check --impl leaves nothing running: not the shell, and not
// what the implementation started from it (attack report item 15). The
// implementation guard kills the whole group when capq dies. Spec R55.
func TestImplGuardOnSIGKILL(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the guard needs PR_SET_PDEATHSIG")
	}
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	impl := fmt.Sprintf(`echo $$ > %s; read l; echo '{"ok":true,"protocol":1,"name":"x","features":[]}'; sleep 301 & sleep 302`, pidFile)
	capq, err := exec.LookPath("capq")
	if err != nil {
		t.Skip("capq is not on PATH")
	}
	cmd := exec.Command(capq, "check", "--impl", impl, "--timeout", "60s", "--quiet", "--out", filepath.Join(dir, "out"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if b, _ := os.ReadFile(pidFile); len(b) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	pid := readPID(t, pidFile)
	pgid, err := syscall.Getpgid(pid)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the background sleep has started
	cmd.Process.Kill()
	cmd.Wait()
	for end := time.Now().Add(5 * time.Second); groupAlive(pgid) && time.Now().Before(end); {
		time.Sleep(50 * time.Millisecond)
	}
	if groupAlive(pgid) {
		syscall.Kill(-pgid, syscall.SIGKILL)
		t.Errorf("the implementation's process group %d outlived the SIGKILLed capq", pgid)
	}
}

// A report that opens but cannot be written (a full device) is found only
// when written: the results are printed first and the exit status is 2,
// a bad output path, not a failure of the queue.
func TestCheckReportWriteFails(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	code, stdout, stderr := capqRun(t, "check", "--duration", "1s", "--seed", "5", "--phase", "fuzz", "--quiet", "--junit", "/dev/full")
	if code != exitUsage || !strings.Contains(stdout, "PASS seed=5") || !strings.Contains(stderr, "--junit /dev/full") {
		t.Errorf("exit %d, stdout %q, stderr %q; want 2 after the results", code, stdout, stderr)
	}
}

// Spec R53: check --impl --json interrupted by SIGINT still prints one
// JSON object, which says "interrupted", and the probe cut short is
// inconclusive, never a failure of the implementation.
func TestImplCheckInterruptedJSON(t *testing.T) {
	t.Parallel()
	// A campaign of a million steps cannot end within the two seconds before
	// the interrupt on any machine (a short probe such as cost sometimes
	// finished first on a quiet one, and the test then had nothing to
	// interrupt).
	code, stdout, stderr := runCapqSh(t, "capq check --impl 'capq adapter' --seed 3 --probe campaign --steps 1000000 --json --quiet & p=$!; sleep 2; kill -INT $p; wait $p")
	if code != exitFail {
		t.Errorf("exit %d, want 1; stderr %q", code, stderr)
	}
	var rep struct {
		Interrupted bool `json:"interrupted"`
		Results     []struct {
			Probe   string `json:"probe"`
			Verdict string `json:"verdict"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout)
	}
	if !rep.Interrupted {
		t.Errorf("the report does not say interrupted:\n%s", stdout)
	}
	for _, r := range rep.Results {
		if r.Verdict == "fail" {
			t.Errorf("probe %s cut short by the operator is a failure:\n%s", r.Probe, stdout)
		}
	}
}
