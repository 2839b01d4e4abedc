//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/capq/capq/internal/fsys"
	"github.com/capq/capq/internal/queuefs"
	"github.com/capq/capq/queue"
	"github.com/capq/capq/ulid"
)

// Spec R52: readLine keeps at most limit bytes of a line, reads a longer
// one to its end in bounded pieces, and reports its length.
func TestReadLine(t *testing.T) {
	const limit = 20
	long := strings.Repeat("x", 1000)
	for _, tc := range []struct {
		in    string
		lines []string // "" with n > limit: a dropped line
		ns    []int
	}{
		{"a\nbb\n", []string{"a", "bb", ""}, []int{1, 2, 0}},
		{"a\nbb", []string{"a", "bb"}, []int{1, 2}},
		{strings.Repeat("y", limit) + "\nz\n", []string{strings.Repeat("y", limit), "z", ""}, []int{limit, 1, 0}},
		{strings.Repeat("y", limit+1) + "\nz\n", []string{"", "z", ""}, []int{limit + 1, 1, 0}},
		{long + "\n{}\n", []string{"", "{}", ""}, []int{1000, 2, 0}},
		{"{}\n" + long, []string{"{}", ""}, []int{2, 1000}},
		{"\n\n", []string{"", "", ""}, []int{0, 0, 0}},
	} {
		r := bufio.NewReaderSize(strings.NewReader(tc.in), 16) // smaller than the lines
		var lines []string
		var ns []int
		for {
			line, n, err := readLine(r, limit)
			lines, ns = append(lines, string(line)), append(ns, n)
			if n <= limit && len(line) != n {
				t.Errorf("%.20q: kept %d bytes of a line of %d", tc.in, len(line), n)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if fmt.Sprint(lines) != fmt.Sprint(tc.lines) || fmt.Sprint(ns) != fmt.Sprint(tc.ns) {
			t.Errorf("%.20q: lines %q, lengths %v; want %q, %v", tc.in, lines, ns, tc.lines, tc.ns)
		}
	}
}

// memAppender returns an appender on a queue in memory behind a Fault, and
// its output streams.
func memAppender(t *testing.T) (*appender, *fsys.Fault, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	f := fsys.NewFault(fsys.NewMem(nil).FS())
	q, err := queue.Open("mem", queuefs.With(queue.Options{SkipRecover: true, MaxSize: -1}, f))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	var out, errOut bytes.Buffer
	return &appender{e: &env{stdout: &out, stderr: &errOut}, q: q}, f, &out, &errOut
}

func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if err != nil {
		return -1
	}
	return 0
}

// Spec R52: lines already waiting on stdin are appended as one batch (one
// directory fsync for all, where a line-by-line append made one each),
// and their ULIDs are printed in input order; blank lines are skipped.
func TestAppendBatchesBufferedLines(t *testing.T) {
	a, f, out, _ := memAppender(t)
	var in strings.Builder
	for i := range 50 {
		fmt.Fprintf(&in, "{\"n\":%d}\n", i)
		if i%10 == 0 {
			in.WriteString("\n")
		}
	}
	f.Reset()
	if err := a.run(bufio.NewReaderSize(strings.NewReader(in.String()), stdinBufSize), queue.DefaultMaxRecordSize); err != nil {
		t.Fatal(err)
	}
	if got := f.Calls(fsys.OpSyncDir); got != 1 {
		t.Errorf("50 buffered lines took %d directory fsyncs, want 1 (one batch)", got)
	}
	ids := strings.Fields(out.String())
	if len(ids) != 50 {
		t.Fatalf("printed %d ULIDs, want 50", len(ids))
	}
	list, err := a.q.List()
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range ids {
		if i >= len(list) || list[i].String() != s {
			t.Errorf("ULID %d printed %s, pending %v", i, s, list)
			break
		}
	}
}

// Spec R52: a line that arrives alone is appended and its ULID printed at
// once, while stdin stays open: it never waits for more input.
func TestAppendLoneLineNotDelayed(t *testing.T) {
	a, _, _, _ := memAppender(t)
	outR, outW := io.Pipe()
	a.e.stdout = outW
	inR, inW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- a.run(bufio.NewReaderSize(inR, stdinBufSize), queue.DefaultMaxRecordSize) }()
	got := make(chan string, 2)
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			got <- sc.Text()
		}
	}()
	for i := range 2 {
		fmt.Fprintf(inW, "{\"lone\":%d}\n", i)
		select {
		case id := <-got:
			if _, err := ulid.Parse(id); err != nil {
				t.Errorf("line %d: printed %q", i+1, id)
			}
		case <-time.After(time.Minute): // a safety valve: a delayed line never comes
			t.Fatalf("line %d: no ULID while stdin stays open", i+1)
		}
	}
	inW.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	outW.Close()
}

// Spec R52: a bad line in a batch (not JSON, or too long) stops the
// command with exit status 2 naming it; the lines before it are appended
// and printed, the lines after it are not.
func TestAppendBadLineInBatch(t *testing.T) {
	for _, bad := range []string{"not json", strings.Repeat("x", 100)} {
		a, _, out, _ := memAppender(t)
		in := "{\"n\":1}\n{\"n\":2}\n\n" + bad + "\n{\"n\":5}\n"
		err := a.run(bufio.NewReaderSize(strings.NewReader(in), 16), 50)
		if exitCode(err) != exitUsage || !strings.Contains(err.Error(), "line 4") {
			t.Errorf("%.10q: err = %v (exit %d), want exit 2 naming line 4", bad, err, exitCode(err))
		}
		n, cerr := a.q.Count()
		if cerr != nil {
			t.Fatal(cerr)
		}
		if ids := strings.Fields(out.String()); len(ids) != 2 || n != 2 {
			t.Errorf("%.10q: printed %v with %d pending, want the 2 lines before the bad one", bad, ids, n)
		}
	}
}

// Spec R52, R51: when appending fails for some records of a batch, the
// ULIDs of the appended ones are printed, each failed line is named, and
// the command stops with exit status 1.
func TestAppendBatchFailureNamesLines(t *testing.T) {
	a, f, out, errOut := memAppender(t)
	f.Inject(fsys.Rule{Op: fsys.OpRename, After: 1, Times: 2, Err: syscall.ENOSPC})
	in := "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n{\"n\":4}\n{\"n\":5}\n"
	err := a.run(bufio.NewReaderSize(strings.NewReader(in), stdinBufSize), queue.DefaultMaxRecordSize)
	if exitCode(err) != exitFail || !strings.Contains(err.Error(), "line 2") || !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("err = %v (exit %d), want exit 1 naming line 2 and ENOSPC", err, exitCode(err))
	}
	if !strings.Contains(errOut.String(), "line 3") {
		t.Errorf("stderr %q does not name line 3", errOut)
	}
	ids := strings.Fields(out.String())
	list, lerr := a.q.List()
	if lerr != nil {
		t.Fatal(lerr)
	}
	if len(ids) != 3 || fmt.Sprint(ids) != fmt.Sprint(list) {
		t.Errorf("printed %v, pending %v; want the 3 appended records", ids, list)
	}
}

// failingReader returns its data, then err.
type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// Spec R52: a read error stops the command with exit status 1 after the
// complete lines before it were appended; the line it cut short is not a
// record, even when its beginning is valid JSON.
func TestAppendReadErrorDropsPartialLine(t *testing.T) {
	a, _, out, _ := memAppender(t)
	r := &failingReader{data: []byte("{\"n\":1}\n{\"n\":2}"), err: syscall.EIO}
	err := a.run(bufio.NewReaderSize(r, stdinBufSize), queue.DefaultMaxRecordSize)
	if exitCode(err) != exitFail || !strings.Contains(err.Error(), "read stdin") {
		t.Errorf("err = %v (exit %d), want exit 1 from reading stdin", err, exitCode(err))
	}
	n, cerr := a.q.Count()
	if cerr != nil {
		t.Fatal(cerr)
	}
	if ids := strings.Fields(out.String()); len(ids) != 1 || n != 1 {
		t.Errorf("printed %v with %d pending, want only the complete first line", ids, n)
	}
}
