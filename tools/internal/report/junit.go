package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
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
	js := junitSuite{Name: s.Name, Time: seconds(s.Time), Tests: len(s.Cases)}
	if !s.Started.IsZero() {
		js.Timestamp = s.Started.UTC().Format("2006-01-02T15:04:05")
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
