package report

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrSameFile is returned by OpenOutputs when the JUnit report and the
// Markdown summary name one file: the two would be written over each
// other, giving a file that is neither valid XML nor a summary.
var ErrSameFile = errors.New("--junit and --summary name the same file")

// Outputs are the report files of a campaign, opened before it starts so
// that a path that cannot be written (a directory, a missing parent, no
// permission) is a usage error in the first second rather than a failure
// after an hour of fuzzing.
type Outputs struct {
	junit, summary         io.WriteCloser
	junitPath, summaryPath string
}

// nopCloser is standard output: written, never closed.
type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// OpenOutputs opens the JUnit file (truncated now: a report left from an
// earlier run must never pass for this run's) and the Markdown summary
// (appended to, as $GITHUB_STEP_SUMMARY wants), either of which may be ""
// (not written) or "-" (standard output). It fails with ErrSameFile when
// both name one file, checked before anything is truncated, and with the
// open error of a path that cannot be written, naming the flag.
func OpenOutputs(junit, summary string) (*Outputs, error) {
	o := &Outputs{junitPath: junit, summaryPath: summary}
	if junit != "" && summary != "" && sameFile(junit, summary) {
		return nil, ErrSameFile
	}
	open := func(flag, path string, flags int) (io.WriteCloser, error) {
		switch path {
		case "":
			return nil, nil
		case "-":
			return nopCloser{os.Stdout}, nil
		}
		if fi, err := os.Stat(path); err == nil && fi.IsDir() {
			return nil, fmt.Errorf("%s %s: is a directory", flag, path)
		}
		f, err := os.OpenFile(path, flags, 0o644)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		return f, nil
	}
	var err error
	if o.summary, err = open("--summary", summary, os.O_WRONLY|os.O_CREATE|os.O_APPEND); err != nil {
		return nil, err
	}
	if o.junit, err = open("--junit", junit, os.O_WRONLY|os.O_CREATE|os.O_TRUNC); err != nil {
		o.Close()
		return nil, err
	}
	return o, nil
}

// sameFile reports whether paths a and b are one file: the same inode
// when both exist (hard links, symbolic links), else the same absolute
// path ("-" is standard output, and two of it are one file too).
func sameFile(a, b string) bool {
	if a == "-" || b == "-" {
		return a == b
	}
	fa, erra := os.Stat(a)
	fb, errb := os.Stat(b)
	if erra == nil && errb == nil {
		return os.SameFile(fa, fb)
	}
	if errors.Is(erra, fs.ErrNotExist) && errors.Is(errb, fs.ErrNotExist) {
		aa, err1 := filepath.Abs(a)
		ab, err2 := filepath.Abs(b)
		return err1 == nil && err2 == nil && aa == ab
	}
	return false
}

// Write writes s to the files asked for, then closes them. Both are
// attempted; the first error is returned, naming its flag.
func (o *Outputs) Write(s Suite) error {
	if o == nil {
		return nil
	}
	var first error
	if o.junit != nil {
		if err := WriteJUnit(o.junit, s); err != nil {
			first = fmt.Errorf("--junit %s: %w", o.junitPath, err)
		}
	}
	if o.summary != nil {
		if err := WriteMarkdown(o.summary, s); err != nil && first == nil {
			first = fmt.Errorf("--summary %s: %w", o.summaryPath, err)
		}
	}
	if err := o.Close(); err != nil && first == nil {
		first = err
	}
	return first
}

// Close closes the files without writing (a campaign that did not start).
func (o *Outputs) Close() error {
	if o == nil {
		return nil
	}
	var first error
	for _, c := range []*io.WriteCloser{&o.junit, &o.summary} {
		if *c != nil {
			if err := (*c).Close(); err != nil && first == nil {
				first = err
			}
			*c = nil
		}
	}
	return first
}
