package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"
)

// Status is the outcome of one case.
type Status string

// The statuses a case can have. Flake is a pass with a note: the run hit a
// known fault of the tooling, not of the code under test.
const (
	Pass  Status = "pass"
	Fail  Status = "fail"
	Error Status = "error" // it could not run (e.g. did not build)
	Skip  Status = "skipped"
	Flake Status = "flake"
)

// Case is one phase of a check or one fuzz target: one JUnit test case and
// one row of the Markdown table.
type Case struct {
	Class  string        // JUnit classname: the package or the campaign
	Name   string        // the phase or target
	Status Status        // outcome
	Time   time.Duration // wall time
	// Values are the row's cells under Suite.Columns (runs, execs, ...).
	Values []string
	// Message is the failure (or skip or flake reason) in one line.
	Message string
	// Detail is the failure's full report (stack, violations, ...).
	Detail string
	// Reproduce is the command that replays the failure.
	Reproduce string
	// Artifacts are files worth keeping: failing inputs, logs.
	Artifacts []string
}

// Suite is one campaign.
type Suite struct {
	Name    string    // e.g. "capq check" or "fuzzrun"
	Started time.Time // when the campaign began
	Time    time.Duration
	// Properties describe the campaign (seed, duration, Go version, ...),
	// in order.
	Properties [][2]string
	// Columns name the values of each case in the Markdown table.
	Columns []string
	Cases   []Case
	// Notes are extra Markdown paragraphs (e.g. deduplicated failures).
	Notes []string
	// Interrupted is set when the campaign was stopped (a signal) before
	// it ran everything: the verdict is then "interrupted", never
	// "passed", whatever the cases that did run say.
	Interrupted bool
}

// Failed counts the cases that failed or errored.
func (s *Suite) Failed() int {
	n := 0
	for _, c := range s.Cases {
		if c.Status == Fail || c.Status == Error {
			n++
		}
	}
	return n
}

// count counts the cases of status st.
func (s *Suite) count(st Status) int {
	n := 0
	for _, c := range s.Cases {
		if c.Status == st {
			n++
		}
	}
	return n
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties *junitProps     `xml:"properties,omitempty"`
	Cases      []junitTestCase `xml:"testcase"`
}

type junitProps struct {
	Props []junitProp `xml:"property"`
}

type junitProp struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitTestCase struct {
	Class     string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitProblem `xml:"skipped,omitempty"`
	SystemOut *junitText    `xml:"system-out,omitempty"`
}

type junitText struct {
	Text string `xml:",cdata"`
}

type junitProblem struct {
	Message string `xml:"message,attr,omitempty"`
	Type    string `xml:"type,attr,omitempty"`
	// Body is CDATA: stacks and commands stay readable in the file, with
	// their newlines and quotes as they are.
	Body string `xml:",cdata"`
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// problemBody is the text of a failure: the report, then the command that
// reproduces it and the files to look at, so a CI page shows all a person
// needs to start.
func problemBody(c Case) string {
	var b strings.Builder
	if c.Detail != "" {
		b.WriteString(strings.TrimRight(c.Detail, "\n") + "\n")
	} else if c.Message != "" {
		b.WriteString(c.Message + "\n")
	}
	if c.Reproduce != "" {
		b.WriteString("reproduce: " + c.Reproduce + "\n")
	}
	for _, a := range c.Artifacts {
		b.WriteString("artifact: " + a + "\n")
	}
	return b.String()
}

// WriteJUnit writes s as JUnit XML: one <testsuite> holding one
// <testcase> per case; a failure is a <failure> (an error an <error>)
// whose text ends with the reproduction command; a skipped case has
// <skipped>; a flake passes with its note in <system-out>.
func WriteJUnit(w io.Writer, s Suite) error {
	s = xmlSafeSuite(s)
	js := junitSuite{Name: s.Name, Time: seconds(s.Time), Tests: len(s.Cases)}
	if !s.Started.IsZero() {
		js.Timestamp = s.Started.UTC().Format("2006-01-02T15:04:05")
	}
	if s.Interrupted {
		// JUnit has no word for an incomplete suite: a property says it,
		// and the cases that were cut short or never ran are errors and
		// skips with the reason (the tools build them so).
		s.Properties = append(s.Properties, [2]string{"interrupted", "true"})
	}
	if len(s.Properties) > 0 {
		js.Properties = &junitProps{}
		for _, p := range s.Properties {
			js.Properties.Props = append(js.Properties.Props, junitProp{Name: p[0], Value: p[1]})
		}
	}
	for _, c := range s.Cases {
		tc := junitTestCase{Class: c.Class, Name: c.Name, Time: seconds(c.Time)}
		if tc.Class == "" {
			tc.Class = s.Name
		}
		prob := &junitProblem{Message: c.Message, Type: string(c.Status), Body: problemBody(c)}
		switch c.Status {
		case Fail:
			tc.Failure = prob
			js.Failures++
		case Error:
			tc.Error = prob
			js.Errors++
		case Skip:
			tc.Skipped = &junitProblem{Message: c.Message}
			js.Skipped++
		case Flake:
			tc.SystemOut = &junitText{"flake: " + problemBody(c)}
		}
		js.Cases = append(js.Cases, tc)
	}
	doc := junitSuites{Name: s.Name, Tests: js.Tests, Failures: js.Failures, Errors: js.Errors,
		Skipped: js.Skipped, Time: js.Time, Suites: []junitSuite{js}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// xmlChar reports whether r may appear in an XML 1.0 document
// (https://www.w3.org/TR/xml/#charsets). encoding/xml writes attribute and
// text values escaped, but CDATA as it is, and a failing input's bytes
// (control characters, a NUL, invalid UTF-8) end up in failure reports:
// one such byte makes the whole file unparseable to a CI system.
func xmlChar(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' ||
		(r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
}

// XMLSafe returns s with every character XML 1.0 does not allow (and every
// byte of invalid UTF-8) written as a visible Go escape (\x01, \ufffe), so
// that a report shows what the input held rather than dropping it. "]]>"
// needs no care here: encoding/xml splits it across two CDATA sections.
func XMLSafe(s string) string {
	ok := true
	for i, r := range s {
		if !xmlChar(r) || (r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD")) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, "\\x%02x", s[0])
		case !xmlChar(r) && r < 0x100:
			fmt.Fprintf(&b, "\\x%02x", r)
		case !xmlChar(r):
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteString(s[:n])
		}
		s = s[n:]
	}
	return b.String()
}

// xmlSafeSuite returns a copy of s with every string made XMLSafe.
func xmlSafeSuite(s Suite) Suite {
	s.Name = XMLSafe(s.Name)
	props := make([][2]string, len(s.Properties))
	for i, p := range s.Properties {
		props[i] = [2]string{XMLSafe(p[0]), XMLSafe(p[1])}
	}
	s.Properties = props
	cases := make([]Case, len(s.Cases))
	for i, c := range s.Cases {
		c.Class, c.Name, c.Message, c.Detail, c.Reproduce = XMLSafe(c.Class), XMLSafe(c.Name), XMLSafe(c.Message), XMLSafe(c.Detail), XMLSafe(c.Reproduce)
		arts := make([]string, len(c.Artifacts))
		for j, a := range c.Artifacts {
			arts[j] = XMLSafe(a)
		}
		c.Artifacts = arts
		cases[i] = c
	}
	s.Cases = cases
	return s
}

// WriteFile writes a report to the file at path with write (WriteJUnit or
// WriteMarkdown). The path "-" is standard output. A Markdown summary is
// appended rather than truncated when append is true, because
// $GITHUB_STEP_SUMMARY collects the summaries of every step of a job.
func WriteFile(path string, appendTo bool, s Suite, write func(io.Writer, Suite) error) error {
	if path == "-" {
		return write(os.Stdout, s)
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if appendTo {
		flags = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return err
	}
	if err := write(f, s); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
