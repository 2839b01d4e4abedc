//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/capq/capq/internal/fsys"
	"github.com/capq/capq/internal/queuefs"
	"github.com/capq/capq/queue"
	"github.com/capq/capq/ulid"
)

// Spec R52, R4: lineReader keeps at most limit bytes of a record (the
// line without its surrounding white space), reads a longer one to its
// end, and refuses it; white space past the limit does not count.
func TestLineReader(t *testing.T) {
	const limit = 20
	y := strings.Repeat("y", limit)
	long := strings.Repeat("x", 1000)
	for _, tc := range []struct {
		in      string
		rec     string
		tooLong bool
	}{
		{"a", "a", false},
		{"  a \r", "a", false},
		{y, y, false},
		{y + "\r", y, false},
		{"   " + y + "   \r", y, false},
		{y + strings.Repeat(" ", 1000), y, false},
		{y + "z", "", true},
		{y + " z", "", true},
		{long, "", true},
		{"", "", false},
		{" \t\r", "", false},
	} {
		for _, piece := range []int{1, 3, 16, 2000} { // split into pieces of this size
			l := lineReader{limit: limit}
			for in := tc.in; len(in) > 0; {
				n := min(piece, len(in))
				l.add([]byte(in[:n]))
				in = in[n:]
				if len(l.cur) > limit {
					t.Fatalf("%.20q: holds %d bytes, limit %d", tc.in, len(l.cur), limit)
				}
			}
			rec, tooLong := l.end()
			if string(rec) != tc.rec || tooLong != tc.tooLong {
				t.Errorf("%.20q in pieces of %d: record %q, too long %v; want %q, %v", tc.in, piece, rec, tooLong, tc.rec, tc.tooLong)
			}
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
	if err := a.run(strings.NewReader(in.String()), a.q.Options().MaxRecordSize); err != nil {
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
	l := startLiveAppend(t)
	for i := range 2 {
		fmt.Fprintf(l.in, "{\"lone\":%d}\n", i)
		l.expect(fmt.Sprintf("line %d", i+1), "stdin stays open")
	}
	l.finish()
}

// liveAppend is memAppender's appender running on a pipe for stdin and
// one for stdout, as `capq append` reading from a writer that pauses.
type liveAppend struct {
	t    *testing.T
	a    *appender
	in   *io.PipeWriter
	out  *io.PipeWriter
	got  chan string
	done chan error
}

func startLiveAppend(t *testing.T) *liveAppend {
	a, _, _, _ := memAppender(t)
	outR, outW := io.Pipe()
	a.e.stdout = outW
	inR, inW := io.Pipe()
	l := &liveAppend{t: t, a: a, in: inW, out: outW, got: make(chan string, 2), done: make(chan error, 1)}
	go func() { l.done <- a.run(inR, a.q.Options().MaxRecordSize) }()
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			l.got <- sc.Text()
		}
	}()
	return l
}

// expect waits for the next printed line, which must be a ULID; what
// names the input line, and while says what the command must not wait for.
func (l *liveAppend) expect(what, while string) {
	l.t.Helper()
	select {
	case id := <-l.got:
		if _, err := ulid.Parse(id); err != nil {
			l.t.Errorf("%s: printed %q", what, id)
		}
	case <-time.After(time.Minute): // a safety valve: a delayed or held line never comes
		l.t.Fatalf("%s: no ULID while %s", what, while)
	}
}

// finish closes stdin; the command must then end without an error.
func (l *liveAppend) finish() {
	l.t.Helper()
	l.in.Close()
	if err := <-l.done; err != nil {
		l.t.Fatal(err)
	}
	l.out.Close()
}

// Spec R52: a bad line in a batch (not JSON, or too long) stops the
// command with exit status 2 naming it; the lines before it are appended
// and printed, the lines after it are not.
func TestAppendBadLineInBatch(t *testing.T) {
	for _, bad := range []string{"not json", strings.Repeat("x", 100)} {
		a, _, out, _ := memAppender(t)
		in := "{\"n\":1}\n{\"n\":2}\n\n" + bad + "\n{\"n\":5}\n"
		a.chunkSize = 16
		err := a.run(strings.NewReader(in), 50)
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
	err := a.run(strings.NewReader(in), a.q.Options().MaxRecordSize)
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
	err := a.run(r, a.q.Options().MaxRecordSize)
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

// Spec R52: a complete line is appended and printed at once even when the
// next line has begun and stays incomplete: the writer flushed mid-line
// (stdio buffers, tail -f) and pauses.
func TestAppendCompleteLineNotHeldByPartial(t *testing.T) {
	l := startLiveAppend(t)
	const while = "the next line stays incomplete"
	io.WriteString(l.in, "{\"a\":1}\n{\"b\":") // then the writer pauses
	l.expect("line 1", while)
	if n, err := l.a.q.Count(); err != nil || n != 1 {
		t.Errorf("pending %d (%v) while line 2 is incomplete, want 1", n, err)
	}
	io.WriteString(l.in, "2}\n")
	l.expect("line 2", while)
	l.finish()
}

// Spec R52, R4: the size limit applies to the record, the line without its
// surrounding white space: a record of exactly the limit is taken with a
// CRLF or padding around it, one byte more is refused.
func TestAppendLimitIgnoresSurroundingSpace(t *testing.T) {
	const limit = 20
	rec := `{"k":"0123456789ab"}` // 20 bytes
	for _, tc := range []struct {
		in   string
		code int
	}{
		{rec + "\n", exitOK},
		{rec + "\r\n", exitOK},
		{"   " + rec + " \t \r\n", exitOK},
		{rec + strings.Repeat(" ", 5000) + "\n", exitOK},
		{`{"k":"0123456789abc"}` + "\r\n", exitUsage},
		{"  " + `{"k":"0123456789abc"}`, exitUsage},
	} {
		a, _, out, _ := memAppender(t)
		a.chunkSize = 7 // the limit falls inside a read
		err := a.run(strings.NewReader(tc.in), limit)
		if code := exitCode(err); code != tc.code {
			t.Errorf("%.30q: exit %d (%v), want %d", tc.in, code, err, tc.code)
			continue
		}
		if tc.code != exitOK {
			continue
		}
		ids := strings.Fields(out.String())
		if len(ids) != 1 {
			t.Fatalf("%.30q: printed %v", tc.in, ids)
		}
		id, _ := ulid.Parse(ids[0])
		got, gerr := a.q.Get(id)
		if gerr != nil || string(got.Record) != rec {
			t.Errorf("%.30q: stored %q (%v), want %q", tc.in, got.Record, gerr, rec)
		}
	}
}

// watchFS follows the pending files of a queue and the ULIDs printed, to
// check the overflow promises while `capq append` runs.
type watchFS struct {
	fsys.FS
	mu      sync.Mutex
	pending map[string]bool
	printed map[string]bool
	most    int      // the most pending at any moment
	atPrint int      // the most pending when a ULID was printed
	early   []string // records removed before their ULID was printed
}

func (w *watchFS) Rename(oldname, newname string) error {
	err := w.FS.Rename(oldname, newname)
	if err == nil && strings.HasPrefix(newname, "pending-") && strings.HasSuffix(newname, ".json") {
		w.mu.Lock()
		w.pending[newname] = true
		w.most = max(w.most, len(w.pending))
		w.mu.Unlock()
	}
	return err
}

func (w *watchFS) Remove(name string) error {
	err := w.FS.Remove(name)
	if err == nil && w.pending[name] {
		w.mu.Lock()
		delete(w.pending, name)
		id := strings.TrimSuffix(strings.TrimPrefix(name, "pending-"), ".json")
		if !w.printed[id] {
			w.early = append(w.early, id)
		}
		w.mu.Unlock()
	}
	return err
}

func (w *watchFS) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, id := range strings.Fields(string(p)) {
		w.printed[id] = true
	}
	w.atPrint = max(w.atPrint, len(w.pending))
	return len(p), nil
}

// Spec R18, R19, R52: `capq append` keeps the overflow promises of lone
// appends while it batches: with one process the count never exceeds
// MaxSize when a ULID is printed (MaxSize + 1 for the moment before a
// prune, as a lone Append), and no record is pruned before its ULID was
// printed, so every printed ULID was pending when printed.
func TestAppendBatchesKeepOverflowBounds(t *testing.T) {
	for _, maxSize := range []int{1, 5, 50} {
		w := &watchFS{FS: fsys.NewMem(nil).FS(), pending: map[string]bool{}, printed: map[string]bool{}}
		q, err := queue.Open("mem", queuefs.With(queue.Options{SkipRecover: true, MaxSize: maxSize}, fsys.FS(w)))
		if err != nil {
			t.Fatal(err)
		}
		var errOut bytes.Buffer
		a := &appender{e: &env{stdout: w, stderr: &errOut}, q: q}
		var in strings.Builder
		const lines = 40 * 3
		for i := range lines {
			fmt.Fprintf(&in, "{\"i\":%d}\n", i)
		}
		if err := a.run(strings.NewReader(in.String()), a.q.Options().MaxRecordSize); err != nil {
			t.Fatal(err)
		}
		q.Close()
		if len(w.printed) != lines {
			t.Errorf("MaxSize %d: printed %d ULIDs, want %d", maxSize, len(w.printed), lines)
		}
		if w.most > maxSize+1 || w.atPrint > maxSize {
			t.Errorf("MaxSize %d: %d pending at most, %d when a ULID was printed; want at most %d and %d",
				maxSize, w.most, w.atPrint, maxSize+1, maxSize)
		}
		if len(w.early) > 0 {
			t.Errorf("MaxSize %d: %d records pruned before their ULIDs were printed, e.g. %s", maxSize, len(w.early), w.early[0])
		}
	}
}

// lockedBuffer is a stdout that tells when the first line arrived.
type lockedBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	first chan struct{}
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() == 0 {
		close(b.first)
	}
	return b.buf.Write(p)
}

// Spec R52: SIGTERM, SIGINT or SIGHUP stops `capq append` from reading:
// the batch in flight finishes, every record appended has its ULID
// printed, no .tmp file is left, and the exit status is 1.
func TestAppendStopsOnSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP} {
		a, f, _, _ := memAppender(t)
		out := &lockedBuffer{first: make(chan struct{})}
		a.e.stdout = out
		inR, inW := io.Pipe()
		go func() { // a producer that never stops
			for i := 0; ; i++ {
				if _, err := fmt.Fprintf(inW, "{\"i\":%d}\n", i); err != nil {
					return
				}
			}
		}()
		done := make(chan error, 1)
		go func() { done <- a.run(inR, a.q.Options().MaxRecordSize) }()
		<-out.first // run catches the signals before it reads
		syscall.Kill(syscall.Getpid(), sig)
		var err error
		select {
		case err = <-done:
		case <-time.After(time.Minute): // a safety valve
			t.Fatalf("%v: capq append goes on", sig)
		}
		inR.Close()
		if exitCode(err) != exitFail || !strings.Contains(err.Error(), "stopped by") {
			t.Errorf("%v: err = %v (exit %d), want exit 1, stopped by the signal", sig, err, exitCode(err))
		}
		list, lerr := a.q.List()
		if lerr != nil {
			t.Fatal(lerr)
		}
		out.mu.Lock()
		printed := strings.Fields(out.buf.String())
		out.mu.Unlock()
		if fmt.Sprint(printed) != fmt.Sprint(list) {
			t.Errorf("%v: printed %d ULIDs, %d pending: every appended record's ULID must be printed", sig, len(printed), len(list))
		}
		var tmps []string
		f.ReadDir(".", func(name []byte, _ fsys.EntryType) error {
			if strings.HasSuffix(string(name), ".tmp") {
				tmps = append(tmps, string(name))
			}
			return nil
		})
		if len(tmps) > 0 {
			t.Errorf("%v: left %v", sig, tmps)
		}
	}
}
