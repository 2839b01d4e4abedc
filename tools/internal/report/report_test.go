package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/capq/capq/tools/internal/syncbuf"
)

func sample() Suite {
	return Suite{
		Name: "fuzzrun", Started: time.Date(2026, 11, 30, 11, 0, 0, 0, time.UTC), Time: 9 * time.Second,
		Properties: [][2]string{{"duration", "3s"}},
		Columns:    []string{"execs", "corpus"},
		Cases: []Case{
			{Class: "example.com/m/fuzz", Name: "FuzzA", Status: Pass, Time: 3 * time.Second, Values: []string{"9000", "40"}},
			{Class: "example.com/m/fuzz", Name: "FuzzB", Status: Fail, Time: 2 * time.Second, Values: []string{"10", "3"},
				Message: "panic: boom | bang", Detail: "panic: boom\n\tb_test.go:9", Reproduce: "go test -run='FuzzB/abc' ./fuzz/",
				Artifacts: []string{"crashers/FuzzB/abc"}},
			{Class: "example.com/m/model", Name: "FuzzC", Status: Error, Message: "does not build"},
			{Name: "FuzzD", Status: Skip, Message: "no such package"},
			{Name: "FuzzE", Status: Flake, Message: "deadline race"},
		},
	}
}

// The JUnit report parses as XML, names each case, and carries each
// failure's reproduction command.
func TestWriteJUnit(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJUnit(&b, sample()); err != nil {
		t.Fatal(err)
	}
	var doc junitSuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("JUnit output does not parse: %v\n%s", err, b.String())
	}
	if len(doc.Suites) != 1 {
		t.Fatalf("%d suites, want 1", len(doc.Suites))
	}
	s := doc.Suites[0]
	if doc.Tests != 5 || doc.Failures != 1 || doc.Errors != 1 || doc.Skipped != 1 || s.Tests != 5 {
		t.Errorf("counts: tests %d failures %d errors %d skipped %d; want 5 1 1 1", doc.Tests, doc.Failures, doc.Errors, doc.Skipped)
	}
	var names []string
	for _, c := range s.Cases {
		names = append(names, c.Class+"/"+c.Name)
	}
	want := "example.com/m/fuzz/FuzzA example.com/m/fuzz/FuzzB example.com/m/model/FuzzC fuzzrun/FuzzD fuzzrun/FuzzE"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("cases %s, want %s", got, want)
	}
	if f := s.Cases[1].Failure; f == nil || f.Message != "panic: boom | bang" ||
		!strings.Contains(f.Body, "reproduce: go test -run='FuzzB/abc' ./fuzz/") || !strings.Contains(f.Body, "b_test.go:9") {
		t.Errorf("FuzzB's failure = %+v", f)
	}
	if s.Cases[0].Failure != nil || s.Cases[2].Error == nil || s.Cases[3].Skipped == nil || s.Cases[4].Failure != nil {
		t.Errorf("statuses not mapped: %+v", s.Cases)
	}
	if s.Cases[4].SystemOut == nil || !strings.Contains(s.Cases[4].SystemOut.Text, "deadline race") {
		t.Errorf("the flake's note is missing: %+v", s.Cases[4].SystemOut)
	}
	// Quotes and newlines stay readable (CDATA), and text that would end
	// a CDATA section early is still carried whole.
	if !strings.Contains(b.String(), "<![CDATA[panic: boom\n\tb_test.go:9\nreproduce: go test -run='FuzzB/abc' ./fuzz/\n") {
		t.Errorf("failure text is not kept verbatim:\n%s", b.String())
	}
	var b2 bytes.Buffer
	WriteJUnit(&b2, Suite{Name: "x", Cases: []Case{{Name: "a", Status: Fail, Detail: "a]]>b<c"}}})
	var doc2 junitSuites
	if err := xml.Unmarshal(b2.Bytes(), &doc2); err != nil || !strings.HasPrefix(doc2.Suites[0].Cases[0].Failure.Body, "a]]>b<c\n") {
		t.Errorf("text with ]]> does not survive: %v\n%s", err, b2.String())
	}
	if s.Properties == nil || s.Properties.Props[0] != (junitProp{"duration", "3s"}) || s.Timestamp != "2026-11-30T11:00:00" {
		t.Errorf("properties %+v, timestamp %q", s.Properties, s.Timestamp)
	}
}

func TestWriteMarkdown(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMarkdown(&b, sample()); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"### fuzzrun: FAILED (2 of 5)\n",
		"duration `3s`",
		"| case | result | execs | corpus | time |\n| --- | --- | ---: | ---: | ---: |\n",
		"| example.com/m/fuzz.FuzzA | pass | 9000 | 40 | 3s |\n",
		"| example.com/m/fuzz.FuzzB | **FAIL** | 10 | 3 | 2s |\n",
		"| FuzzD | skipped: no such package |  |  | 0s |\n",
		"#### FAIL example.com/m/fuzz.FuzzB\n\npanic: boom \\| bang\n",
		"Reproduce:\n\n```\ngo test -run='FuzzB/abc' ./fuzz/\n```\n",
		"- artifact: `crashers/FuzzB/abc`",
		"#### ERROR example.com/m/model.FuzzC",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
	ok := sample()
	ok.Cases = ok.Cases[:1]
	b.Reset()
	WriteMarkdown(&b, ok)
	if !strings.HasPrefix(b.String(), "### fuzzrun: passed\n") || strings.Contains(b.String(), "####") {
		t.Errorf("a passing suite:\n%s", b.String())
	}
}

// A Markdown summary is appended to an existing file (a job summary
// collects several steps); JUnit replaces it.
func TestWriteFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "out")
	os.WriteFile(p, []byte("before\n"), 0o644)
	if err := WriteFile(p, true, sample(), WriteMarkdown); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if !strings.HasPrefix(string(b), "before\n### fuzzrun") {
		t.Errorf("append lost the file's contents: %q", b[:min(len(b), 40)])
	}
	if err := WriteFile(p, false, sample(), WriteJUnit); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(p)
	if !strings.HasPrefix(string(b), "<?xml") {
		t.Errorf("truncating write kept old contents: %q", b[:min(len(b), 40)])
	}
}

func TestProgressModes(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		name  string
		opts  Options
		check func(t *testing.T, out string)
	}{
		{"plain", Options{Prefix: "x", Interval: 20 * time.Millisecond, Live: &no}, func(t *testing.T, out string) {
			if strings.Contains(out, "\r") {
				t.Errorf("plain output redraws: %q", out)
			}
			if n := strings.Count(out, "x: [1/1] a: 3 runs, "); n < 3 {
				t.Errorf("%d periodic lines, want at least 3:\n%s", n, out)
			}
			if !strings.Contains(out, " left\n") || !strings.HasSuffix(out, "a: ok\n") {
				t.Errorf("lines lack the time left or the final line:\n%s", out)
			}
		}},
		{"live", Options{Prefix: "x", Live: &yes}, func(t *testing.T, out string) {
			if !strings.Contains(out, "\r\x1b[Kx: [1/1] a: 3 runs, ") {
				t.Errorf("no live line: %q", out)
			}
			if !strings.HasSuffix(out, "\r\x1b[Ka: ok\n") {
				t.Errorf("the live line is not replaced by the final line: %q", out)
			}
		}},
		{"quiet", Options{Prefix: "x", Quiet: true, Interval: 20 * time.Millisecond, Live: &yes}, func(t *testing.T, out string) {
			if out != "" {
				t.Errorf("quiet progress wrote %q", out)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out syncbuf.Buffer
			p := New(&out, tc.opts)
			task := p.Start("[1/1] a", time.Minute)
			task.Update("3 runs")
			time.Sleep(450 * time.Millisecond)
			task.Done("a: ok")
			p.Close()
			tc.check(t, out.String())
		})
	}
}

func TestTaskLine(t *testing.T) {
	p := New(&bytes.Buffer{}, Options{Prefix: "fuzzrun", Quiet: true})
	task := p.Start("[2/3] FuzzX", 0)
	task.UpdateLeft("1234 execs", 90*time.Second)
	if got := task.Line(); got != "fuzzrun: [2/3] FuzzX: 1234 execs, 0s elapsed, 1m30s left" {
		t.Errorf("Line() = %q", got)
	}
	task.mu.Lock()
	task.leftAt = task.leftAt.Add(-10 * time.Second)
	task.mu.Unlock()
	if got := task.Line(); got != "fuzzrun: [2/3] FuzzX: 1234 execs, 0s elapsed, 1m20s left" {
		t.Errorf("10s after the update, Line() = %q", got)
	}
	task.Update("building")
	if got := task.Line(); strings.Contains(got, "left") {
		t.Errorf("no budget, no time left, but Line() = %q", got)
	}
	task.Done("")
}

func TestIntervalEnv(t *testing.T) {
	t.Setenv(IntervalEnv, "250ms")
	if p := New(&bytes.Buffer{}, Options{}); p.interval != 250*time.Millisecond {
		t.Errorf("interval %v, want 250ms from %s", p.interval, IntervalEnv)
	}
	// Invalid values warn and fall back; tiny ones are raised to the
	// floor (a 1ns interval printed 300,000 lines in 2s).
	for _, tc := range []struct {
		v    string
		want time.Duration
	}{
		{"nonsense", DefaultInterval}, {"0", DefaultInterval}, {"-5s", DefaultInterval},
		{"1ns", MinInterval}, {"99ms", MinInterval},
	} {
		t.Setenv(IntervalEnv, tc.v)
		var out bytes.Buffer
		if p := New(&out, Options{}); p.interval != tc.want {
			t.Errorf("%s=%q: interval %v, want %v", IntervalEnv, tc.v, p.interval, tc.want)
		}
		if !strings.Contains(out.String(), "warning: "+IntervalEnv) {
			t.Errorf("%s=%q: no warning, output %q", IntervalEnv, tc.v, out.String())
		}
	}
	if IsTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is a terminal")
	}
}

// Every character XML 1.0 forbids, in any field, is escaped visibly: the
// JUnit file parses, and "]]>" in a body does not end its CDATA early.
// (A failing input's bytes reach failure reports: attack report item 2.)
func TestWriteJUnitXMLSafe(t *testing.T) {
	nasty := "P]]>\x00\x01\x07\x1b[31m\xff\xfe\uFFFE\U0010FFFF ok"
	s := Suite{Name: "s" + nasty, Properties: [][2]string{{"k" + nasty, "v" + nasty}}, Cases: []Case{
		{Class: "c" + nasty, Name: "fail" + nasty, Status: Fail, Message: nasty, Detail: "bad " + nasty, Reproduce: "r" + nasty, Artifacts: []string{"a" + nasty}},
		{Name: "err", Status: Error, Message: nasty, Detail: nasty},
		{Name: "skip", Status: Skip, Message: nasty},
		{Name: "flake", Status: Flake, Message: nasty, Detail: nasty},
	}}
	var b bytes.Buffer
	if err := WriteJUnit(&b, s); err != nil {
		t.Fatal(err)
	}
	var doc junitSuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("JUnit with control bytes does not parse: %v\n%q", err, b.String())
	}
	f := doc.Suites[0].Cases[0].Failure
	if f == nil || !strings.Contains(f.Body, `bad P]]>\x00\x01\x07\x1b[31m\xff\xfe\ufffe`) || !strings.Contains(f.Body, "\U0010FFFF ok") {
		t.Errorf("failure body %q does not show the bytes escaped", f)
	}
	if got := XMLSafe("plain\ttext\n"); got != "plain\ttext\n" {
		t.Errorf("XMLSafe changed allowed text: %q", got)
	}
}

// An interrupted campaign is never reported as passed.
func TestInterruptedVerdict(t *testing.T) {
	s := Suite{Name: "x", Interrupted: true, Cases: []Case{{Name: "a", Status: Pass}, {Name: "b", Status: Skip, Message: "not run: interrupted"}}}
	var md, ju bytes.Buffer
	if err := WriteMarkdown(&md, s); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(md.String(), "passed") || !strings.Contains(md.String(), "INTERRUPTED") {
		t.Errorf("interrupted summary:\n%s", md.String())
	}
	if err := WriteJUnit(&ju, s); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ju.String(), `<property name="interrupted" value="true">`) {
		t.Errorf("interrupted JUnit has no interrupted property:\n%s", ju.String())
	}
}

// OpenOutputs refuses one file for both reports (before truncating it)
// and a path that cannot be written, before any campaign runs.
func TestOpenOutputs(t *testing.T) {
	dir := t.TempDir()
	shared := filepath.Join(dir, "shared")
	if err := os.WriteFile(shared, []byte("earlier summary\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(shared, link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ junit, summary string }{
		{shared, shared}, {shared, link}, {filepath.Join(dir, "new"), filepath.Join(dir, ".", "new")}, {"-", "-"},
	} {
		if _, err := OpenOutputs(tc.junit, tc.summary); !errors.Is(err, ErrSameFile) {
			t.Errorf("OpenOutputs(%q, %q) = %v, want ErrSameFile", tc.junit, tc.summary, err)
		}
	}
	if b, _ := os.ReadFile(shared); string(b) != "earlier summary\n" {
		t.Errorf("refused outputs truncated the file: %q", b)
	}
	for _, tc := range []struct{ junit, summary string }{
		{dir, ""}, {"", dir}, {filepath.Join(dir, "missing", "j.xml"), ""}, {"", filepath.Join(dir, "missing", "s.md")},
	} {
		if _, err := OpenOutputs(tc.junit, tc.summary); err == nil {
			t.Errorf("OpenOutputs(%q, %q) opened an unwritable path", tc.junit, tc.summary)
		}
	}
	o, err := OpenOutputs(filepath.Join(dir, "j.xml"), shared)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Write(sample()); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(shared); !strings.HasPrefix(string(b), "earlier summary\n### fuzzrun") {
		t.Errorf("summary not appended: %q", b)
	}
}

// A held task's time left does not run down (a fuzz run's build is not
// part of its -fuzztime); an update starts the clock again.
func TestTaskHold(t *testing.T) {
	p := New(&bytes.Buffer{}, Options{Quiet: true})
	task := p.Start("x", 0)
	task.Hold("building", 10*time.Second)
	time.Sleep(1200 * time.Millisecond)
	if got := task.Line(); !strings.HasSuffix(got, ", 10s left") {
		t.Errorf("held line %q, want 10s left", got)
	}
	task.UpdateLeft("fuzzing", 10*time.Second)
	time.Sleep(1200 * time.Millisecond)
	if got := task.Line(); strings.HasSuffix(got, ", 10s left") {
		t.Errorf("running line %q, want less than 10s left", got)
	}
	task.Done("")
}
