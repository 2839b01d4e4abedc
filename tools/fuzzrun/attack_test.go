//go:build unix

package main

import (
	"context"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A package whose targets misbehave as the attack report's did: FuzzHang's
// seed never returns, FuzzXML fails with control bytes and "]]>" in its
// message.
const fzOddTest = `package odd

import (
	"testing"
	"time"
)

func FuzzHang(f *testing.F) {
	f.Add("H")
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 0 && s[0] == 'H' {
			time.Sleep(time.Hour)
		}
	})
}

func bad(t *testing.T, s string) {
	t.Errorf("bad input %q", s)
}

func FuzzE1(f *testing.F) {
	f.Add("a")
	f.Fuzz(func(t *testing.T, s string) { bad(t, s) })
}

func FuzzE2(f *testing.F) {
	f.Add("b")
	f.Fuzz(func(t *testing.T, s string) { bad(t, s+"!") })
}

func FuzzXML(f *testing.F) {
	f.Add("P")
	f.Fuzz(func(t *testing.T, s string) {
		t.Errorf("bad %s", "E]]>\x00\x07\x1b[31m\xff")
	})
}
`

func writeOddModule(t *testing.T) string {
	t.Helper()
	mod := writeModule(t)
	if err := os.MkdirAll(filepath.Join(mod, "odd"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"odd/odd.go": "package odd\n", "odd/odd_test.go": fzOddTest} {
		if err := os.WriteFile(filepath.Join(mod, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return mod
}

// A target whose input hangs is reported "hang", never "pass", once its
// execs (here its baseline) stop advancing for -stall; and a failure with
// control bytes in its output still gives JUnit XML that parses (attack
// items 11 and 2).
func TestCampaignHangAndXML(t *testing.T) {
	fuzzingTest(t)
	mod := writeOddModule(t)
	junit := filepath.Join(mod, "j.xml")
	start := time.Now()
	code, out := fuzzrun(t, mod, nil, "-pkgs", "./odd/", "-duration", "60s", "-stall", "5s", "-parallel", "1", "-junit", junit)
	if code != exitFail {
		t.Errorf("exit %d, want %d:\n%s", code, exitFail, out)
	}
	if d := time.Since(start); d > 50*time.Second {
		t.Errorf("the hang was found after %v, with -stall 5s", d)
	}
	s := readSummary(t, mod)
	if r := result(t, s, "FuzzHang"); r.Status != "hang" || !strings.Contains(strings.Join(r.Message, "\n"), "no progress for over -stall 5s") {
		t.Errorf("FuzzHang: %+v, want hang", r)
	}
	if r := result(t, s, "FuzzXML"); r.Status != "fail" {
		t.Errorf("FuzzXML: %+v, want fail", r)
	}
	// Two targets failing by t.Errorf in one helper are one failure
	// (attack item 10); FuzzXML's own t.Errorf is another.
	var shared []string
	for _, f := range s.Failures {
		if slices.Contains(f.Targets, "odd.FuzzE1") {
			shared = f.Targets
		}
	}
	if len(s.Failures) != 2 || !slices.Equal(shared, []string{"odd.FuzzE1", "odd.FuzzE2"}) {
		t.Errorf("distinct failures %+v; want FuzzE1 and FuzzE2 as one, FuzzXML another", s.Failures)
	}
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(b, new(struct{})); err != nil {
		t.Errorf("JUnit with control bytes does not parse: %v\n%q", err, b)
	}
	if !strings.Contains(string(b), `\x00\x07\x1b[31m`) {
		t.Errorf("JUnit does not show the bytes escaped:\n%s", b)
	}
}

// Output paths and flags are checked before anything runs; -h is not an
// error (attack items 3, 12, 13, 22).
func TestCampaignUsageErrors(t *testing.T) {
	t.Parallel()
	mod := writeModule(t)
	same := filepath.Join(mod, "same")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-junit", same, "-summary", same}, exitUsage, "same file"},
		{[]string{"-junit", mod}, exitUsage, "is a directory"},
		{[]string{"-summary", filepath.Join(mod, "no", "s.md")}, exitUsage, "no such file"},
		{[]string{"-grace", "0"}, exitUsage, "-grace"},
		{[]string{"-minimizetime", "-1s"}, exitUsage, "-minimizetime"},
		{[]string{"-h"}, exitOK, "-corpus"},
	} {
		code, out := fuzzrun(t, mod, nil, append([]string{"-pkgs", "./bug/", "-duration", "30s"}, tc.args...)...)
		if code != tc.code || !strings.Contains(out, tc.want) || strings.Contains(out, "targets,") {
			t.Errorf("fuzzrun %q: exit %d, want %d and %q:\n%s", tc.args, code, tc.code, tc.want, out)
		}
	}
	if _, err := os.Stat(same); err == nil {
		t.Error("a refused report file was created")
	}
	// A report inside -out, which does not exist yet, is fine (fuzz.yml's
	// -junit .fuzzrun/junit.xml on a fresh checkout).
	code, out := fuzzrun(t, mod, nil, "-pkgs", "./bug/", "-targets", "^$", "-junit", ".fuzzrun/junit.xml")
	if strings.Contains(out, "junit") || code != exitUsage || !strings.Contains(out, "no fuzz target matches") {
		t.Errorf("-junit inside a new -out: exit %d:\n%s", code, out)
	}
}

// A second campaign on a -out directory in use fails at once with a usage
// error, and the first is left alone (attack item 9).
func TestCampaignOutLocked(t *testing.T) {
	t.Parallel()
	mod := writeModule(t)
	out := filepath.Join(mod, ".fuzzrun")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(out, ".lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	code, outText := fuzzrun(t, mod, nil, "-pkgs", "./bug/", "-targets", "FuzzOK", "-duration", "2s")
	if code != exitUsage || !strings.Contains(outText, "another fuzzrun campaign is using this -out directory") {
		t.Errorf("exit %d, want %d and a clear message:\n%s", code, exitUsage, outText)
	}
	if _, err := os.Stat(filepath.Join(out, "summary.json")); err == nil {
		t.Error("the locked-out campaign wrote a summary into the other's -out")
	}
}

// A corpus that cannot be read or written costs neither the other targets
// nor the reports: every target runs, every report is written, and the
// exit status is 2 (attack item 14).
func TestCampaignCorpusErrorKeepsReports(t *testing.T) {
	fuzzingTest(t)
	mod := writeModule(t)
	corpus := filepath.Join(mod, "corpus")
	// A file where the package's corpus directory should be.
	if err := os.MkdirAll(filepath.Join(corpus, "example.com", "fz"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(corpus, "example.com", "fz", "bug"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	junit := filepath.Join(mod, "j.xml")
	code, out := fuzzrun(t, mod, nil, "-pkgs", "./bug/", "-targets", "FuzzOK|FuzzA", "-duration", "1s", "-parallel", "1",
		"-corpus", corpus, "-junit", junit)
	if code != exitUsage || !strings.Contains(out, "corpus") {
		t.Errorf("exit %d, want %d:\n%s", code, exitUsage, out)
	}
	s := readSummary(t, mod)
	if len(s.Results) != 2 || s.Exit != exitUsage {
		t.Errorf("summary.json: %d results, exit %d; want both targets and exit 2", len(s.Results), s.Exit)
	}
	checkJUnit(t, junit, map[string]string{"FuzzA": "failure", "FuzzOK": "pass"})
}

// A signal stops the campaign with its reports written; the target it cut
// short is interrupted and the one it never began is listed as not run,
// so no report reads as a pass (attack items 1 and 22: SIGHUP too).
func TestCampaignInterrupted(t *testing.T) {
	fuzzingTest(t)
	mod := writeOddModule(t)
	junit, md := filepath.Join(mod, "j.xml"), filepath.Join(mod, "s.md")
	cmd := exec.Command(fuzzrunBinary(t), "-pkgs", "./bug/,./odd/", "-targets", "FuzzOK|FuzzXML", "-duration", "60s", "-parallel", "1",
		"-junit", junit, "-summary", md)
	cmd.Dir = mod
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(mod, ".fuzzrun", "bug.FuzzOK.log")
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(readFileOr(log), "fuzz: elapsed") && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitUsage {
		t.Errorf("wait: %v, want exit %d", err, exitUsage)
	}
	s := readSummary(t, mod)
	if !s.Interrupted || result(t, s, "FuzzOK").Status != "interrupted" || result(t, s, "FuzzXML").Status != "not run" {
		t.Errorf("summary.json of an interrupted campaign: %+v", s)
	}
	checkJUnit(t, junit, map[string]string{"FuzzOK": "error", "FuzzXML": "skipped"})
	if b, _ := os.ReadFile(md); !strings.Contains(string(b), "INTERRUPTED") || strings.Contains(string(b), "passed") {
		t.Errorf("summary of an interrupted campaign:\n%s", b)
	}
}

func readFileOr(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

// promote refuses what would make a seed that guards nothing or breaks
// the package's tests, and prints only commands a shell runs as meant
// (attack items 16-19).
func TestPromoteRefusals(t *testing.T) {
	t.Parallel()
	mod := writeModule(t)
	in := filepath.Join(mod, "inputs")
	write := func(dir, name, text string) string {
		t.Helper()
		p := filepath.Join(in, dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	crash := corpusHeader + "string(\"xxxxx\")\n"
	if err := os.MkdirAll(filepath.Join(mod, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	seedDir := filepath.Join(mod, "bug", "testdata", "fuzz")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no such target", []string{"-pkg", "./bug/", write("FuzzNope", "a", crash)}, "has no fuzz target FuzzNope"},
		{"outside the module", []string{"-pkg", "../../../tmp/evilpkg", write("FuzzA", "b", crash)}, "outside the module"},
		{"no Go files", []string{"-pkg", "./empty/", write("FuzzA", "c", crash)}, "./empty/"},
		{"mismatched types", []string{"-pkg", "./bug/", write("FuzzA", "d", corpusHeader+"int(3)\n")}, "mismatched types"},
		{"not an entry", []string{"-pkg", "./bug/", write("FuzzA", "e", corpusHeader+"string(\"0123")}, "not a go test fuzz input"},
	} {
		code, out := fuzzrun(t, mod, nil, append([]string{"promote"}, tc.args...)...)
		if code != exitUsage || !strings.Contains(out, tc.want) {
			t.Errorf("%s: exit %d, want %d and %q:\n%s", tc.name, code, exitUsage, tc.want, out)
		}
	}
	if des, _ := os.ReadDir(filepath.Join(seedDir, "FuzzA")); len(des) != 0 {
		t.Errorf("refused seeds were left in testdata: %v", des)
	}
	if _, err := os.Stat(filepath.Join(seedDir, "FuzzNope")); err == nil {
		t.Error("a seed was written for a target that does not exist")
	}

	// Names with spaces or shell characters: the seed is named by its
	// hash, it runs (and fails, as it should), and the printed command
	// quotes what it prints.
	for _, name := range []string{"crash me", "x'y", "a b;touch PWNED"} {
		code, out := fuzzrun(t, mod, nil, "promote", "-pkg", "./bug/", write("FuzzA", name, crash+"\n"+strings.Repeat(" ", len(name))))
		hash := entryName([]byte(crash + "\n" + strings.Repeat(" ", len(name))))
		if code != exitOK || !strings.Contains(out, "it fails today") || !strings.Contains(out, "named "+hash) {
			t.Errorf("promote %q: exit %d:\n%s", name, code, out)
		}
		if _, err := os.Stat(filepath.Join(seedDir, "FuzzA", hash)); err != nil {
			t.Errorf("promote %q: %v", name, err)
		}
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "commit it with: ") {
				cmdLine := strings.TrimPrefix(l, "commit it with: ")
				// The shell must see exactly: git add PATH && git commit -m MSG.
				sh := exec.Command("/bin/sh", "-c", "git() { printf '<%s>' \"$@\"; echo; }; "+cmdLine)
				sh.Dir = mod
				b, err := sh.CombinedOutput()
				if err != nil || !strings.Contains(string(b), "<add><bug/testdata/fuzz/FuzzA/"+hash+">") ||
					!strings.Contains(string(b), "<commit><-m><bug: regression seed FuzzA/"+hash+">") {
					t.Errorf("promote %q printed %q, which a shell runs as %q (%v)", name, cmdLine, b, err)
				}
			}
		}
	}
	if _, err := os.Stat(filepath.Join(mod, "PWNED")); err == nil {
		t.Error("a printed command ran a shell injection")
	}
}

// An interrupt during target discovery kills go list and go test -list:
// their errors say nothing about the packages, so no "(discovery)" error
// result is reported, only the interruption (attack item 21).
func TestDiscoveryInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	cfg, err := parseFlags([]string{"-out", t.TempDir(), "-pkgs", "./tools/fuzzrun/"})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	code, err := run(ctx, cfg, &out)
	if err == nil || !strings.Contains(err.Error(), "interrupted while discovering") || code != 0 || strings.Contains(out.String(), "discovery") {
		t.Errorf("run = %d, %v; output %q; want the interruption and no discovery error", code, err, out.String())
	}
}
