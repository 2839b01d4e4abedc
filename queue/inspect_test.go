//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package queue

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/capq/capq/ulid"
	"golang.org/x/sys/unix"
)

// Spec R29: AuditEntries streams the log with a bounded line length; an
// over-long or torn line is an *DataError and the lines after it are
// still read.
func TestAuditEntriesBoundedLines(t *testing.T) {
	t.Parallel()
	q, dir := openTest(t, Options{})
	good := `{"ts":"t","dropped_ulid":"A","appended_at":"","reason":"queue_overflow","queue_size_before_prune":3}`
	long := `{"ts":"t","reason":"pruned","detail":"` + strings.Repeat("x", maxAuditLine) + `"}`
	log := good + "\n" + long + "\n" + "not json\n" + "\n" + good + "\n" + `{"ts":"torn`
	writeRaw(t, filepath.Join(dir, auditLogName), log)
	var got []string
	for e, err := range q.AuditEntries(context.Background()) {
		var le *DataError
		switch {
		case errors.As(err, &le) && errors.Is(err, ErrAuditLine):
			got = append(got, "err:"+itoa(le.Line)+":"+map[bool]string{true: "long", false: "bad"}[tooLong(le)])
		case err != nil:
			t.Fatalf("fatal error %v", err)
		default:
			got = append(got, string(e.Reason))
		}
	}
	want := "queue_overflow err:2:long err:3:bad queue_overflow err:6:bad"
	if strings.Join(got, " ") != want {
		t.Errorf("got %q\nwant %q", strings.Join(got, " "), want)
	}
}

// Spec R29: a line whose key has the wrong JSON type is a *DataError
// whose text says so in the line's terms (the key, the JSON type it has
// and the one it needs), not in capq's Go types.
func TestAuditLineWrongTypeDetail(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ line, want string }{
		{`{"ts":"t","reason":5}`, `key "reason" is a JSON number, want a string`},
		{`{"ts":"t","reason":"pruned","attempts":"3"}`, `key "attempts" is a JSON string, want an integer`},
		{`{"ts":"t","reason":"queue_overflow","queue_size_before_prune":true}`, `key "queue_size_before_prune" is a JSON bool, want an integer`},
	} {
		q, dir := openTest(t, Options{SkipRecover: true, MaxSize: -1})
		writeRaw(t, filepath.Join(dir, auditLogName), tc.line+"\n")
		var de *DataError
		for _, err := range q.AuditEntries(context.Background()) {
			if !errors.As(err, &de) || !errors.Is(err, ErrAuditLine) {
				t.Fatalf("%s: yielded %v, want a *DataError wrapping ErrAuditLine", tc.line, err)
			}
		}
		if de == nil || de.Detail != tc.want || strings.Contains(de.Error(), "Go ") || strings.Contains(de.Error(), "queue.") {
			t.Errorf("%s: %v, want detail %q", tc.line, de, tc.want)
		}
	}
}

// Spec R29, R31: the audit log as a FIFO, a symlink or a directory is
// refused at once with ErrUnsafeFile; nothing blocks.
func TestAuditEntriesUnsafeLog(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"fifo", "symlink", "dir"} {
		for _, bad := range []string{auditLogName, auditLogRotatedName} {
			t.Run(kind+" at "+bad, func(t *testing.T) {
				q, dir := openTest(t, Options{})
				good := auditLogRotatedName
				if bad == auditLogRotatedName {
					good = auditLogName
				}
				// Spec R29: the other generation is still read.
				writeRaw(t, filepath.Join(dir, good), `{"ts":"t","reason":"pruned","dropped_ulid":"x"}`+"\n")
				p := filepath.Join(dir, bad)
				switch kind {
				case "fifo":
					if err := unix.Mkfifo(p, 0o600); err != nil {
						t.Fatal(err)
					}
				case "symlink":
					outside := filepath.Join(t.TempDir(), "log")
					writeRaw(t, outside, `{"ts":"t","reason":"pruned"}`+"\n")
					if err := os.Symlink(outside, p); err != nil {
						t.Fatal(err)
					}
				case "dir":
					if err := os.Mkdir(p, 0o700); err != nil {
						t.Fatal(err)
					}
				}
				type result struct {
					errs    []error
					entries int
				}
				done := make(chan result, 1)
				go func() {
					var r result
					for _, err := range q.AuditEntries(context.Background()) {
						if err != nil {
							r.errs = append(r.errs, err)
						} else {
							r.entries++
						}
					}
					done <- r
				}()
				select {
				case r := <-done:
					var oe *OpError
					if len(r.errs) != 1 || !errors.Is(r.errs[0], ErrUnsafeFile) || !errors.As(r.errs[0], &oe) || !strings.HasPrefix(oe.Name, auditLogName) {
						t.Errorf("errors %v, want one *OpError naming a generation, wrapping ErrUnsafeFile", r.errs)
					}
					if r.entries != 1 {
						t.Errorf("%d entries read, want the good generation's 1", r.entries)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("AuditEntries blocked")
				}
			})
		}
	}
}

// Spec R30: a log at AuditLogMaxSize is rotated by the writer that filled
// it; readers see the rotated generation first, then the current one, and
// the total stays bounded.
func TestAuditLogRotation(t *testing.T) {
	t.Parallel()
	q, dir := openTest(t, Options{AuditLogMaxSize: 2048, MaxSize: -1})
	var ids []ulid.ULID
	for i := range 60 {
		id, err := q.Append(sampleRecord(i, ""))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for range 60 {
		if _, err := q.Prune(t.Context(), max(0, len(ids)-1)); err != nil {
			t.Fatal(err)
		}
		ids = ids[1:]
	}
	var curSize int64 // the last write may have rotated the log away
	if cur, err := os.Stat(filepath.Join(dir, auditLogName)); err == nil {
		curSize = cur.Size()
	}
	old, err := os.Stat(filepath.Join(dir, auditLogRotatedName))
	if err != nil {
		t.Fatalf("no rotated log: %v", err)
	}
	if curSize >= 2048+1024 || old.Size() >= 2048+1024 {
		t.Errorf("log sizes %d and %d, want each under the limit plus a line", curSize, old.Size())
	}
	entries, err := auditAll(q)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 || len(entries) >= 60 {
		t.Fatalf("%d entries, want some but not all (older generations are dropped)", len(entries))
	}
	for i := 1; i < len(entries); i++ {
		if entries[i].DroppedULID <= entries[i-1].DroppedULID {
			t.Fatalf("entries out of order at %d: %s after %s", i, entries[i].DroppedULID, entries[i-1].DroppedULID)
		}
	}
	st, err := q.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.AuditBytes != curSize+old.Size() {
		t.Errorf("Stats.AuditBytes %d, want %d", st.AuditBytes, curSize+old.Size())
	}
}

// Spec R30: a writer that opened the log before another writer rotated it
// writes into the rotated generation (as the reference does), where
// readers still find the line; capq's own writers re-open the new log.
func TestAuditRotationUnderOpenWriter(t *testing.T) {
	t.Parallel()
	q, dir := openTest(t, Options{})
	p := filepath.Join(dir, auditLogName)
	writeRaw(t, p, `{"ts":"1","reason":"pruned","dropped_ulid":"A","appended_at":""}`+"\n")
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0) // the reference, mid-write
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.Rename(p, filepath.Join(dir, auditLogRotatedName)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"ts":"2","reason":"pruned","dropped_ulid":"B","appended_at":""}` + "\n"); err != nil {
		t.Fatal(err)
	}
	if err := q.writeAuditThen("test", []AuditEntry{{TS: "3", Reason: ReasonPruned, DroppedULID: "C"}}, nil); err != nil {
		t.Fatal(err)
	}
	entries, err := auditAll(q)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.DroppedULID)
	}
	if strings.Join(got, "") != "ABC" {
		t.Errorf("entries %q, want A B C", got)
	}
}

// Spec R29, R31: Get reads one record, pending or dead-lettered, bounded, with
// typed errors.
func TestGet(t *testing.T) {
	t.Parallel()
	q, dir := openTest(t, Options{MaxRecordSize: 1024})
	id, err := q.Append([]byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	st, err := q.Get(id)
	if err != nil || st.DeadLetter || string(st.Envelope.Record) != `{"a":1}` || st.Name != pendingName(id.String()) {
		t.Fatalf("Get = %+v, %v", st, err)
	}
	if _, err := q.Get(ulid.MustParse("01ARZ3NDEKTSV4RRFFQ69G5FAV")); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(missing) = %v, want ErrNotFound", err)
	}
	big := ulid.MustParse("01ARZ3NDEKTSV4RRFFQ69G5FAW")
	writeRaw(t, filepath.Join(dir, pendingName(big.String())), rawEnvelope(big.String(), `{"x":"`+strings.Repeat("y", 4096)+`"}`, "1"))
	if _, err := q.Get(big); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Get(over the limit) = %v, want ErrCorrupt", err)
	}
	fifo := ulid.MustParse("01ARZ3NDEKTSV4RRFFQ69G5FAX")
	if err := unix.Mkfifo(filepath.Join(dir, pendingName(fifo.String())), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Get(fifo); !errors.Is(err, ErrUnsafeFile) {
		t.Errorf("Get(FIFO) = %v, want ErrUnsafeFile", err)
	}
	// A dead-letter folder that is a symlink to a folder outside the
	// queue holding the record: never read through.
	dl := ulid.MustParse("01ARZ3NDEKTSV4RRFFQ69G5FAY")
	outside := t.TempDir()
	writeRaw(t, filepath.Join(outside, pendingName(dl.String())), rawEnvelope(dl.String(), `{}`, "1"))
	if err := os.Symlink(outside, filepath.Join(dir, deadLetterDir)); err != nil {
		t.Fatal(err)
	}
	if st, err := q.Get(dl); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get through a dead-letter symlink = %+v, %v; want ErrNotFound", st, err)
	}
}

// Spec R29: Stats counts without reading records; a broken folder is a
// Problem, not an error.
func TestStats(t *testing.T) {
	t.Parallel()
	q, dir := openTest(t, Options{})
	var first ulid.ULID
	for i := range 3 {
		id, err := q.Append(sampleRecord(i, ""))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = id
		}
	}
	writeRaw(t, filepath.Join(dir, "pending-"+first.String()+".lock"), "")
	writeRaw(t, filepath.Join(dir, deadLetterDir), "a file where a folder belongs")
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "pending-01ARZ3NDEKTSV4RRFFQ69G5FAV.json")); err != nil {
		t.Fatal(err)
	}
	st, err := q.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Pending != 3 || st.Oldest != first || st.Locks != 1 || st.Unsafe != 1 || st.PendingBytes == 0 {
		t.Errorf("Stats = %+v", st)
	}
	if len(st.Problems) != 1 || st.Problems[0].Name != deadLetterDir || !errors.Is(st.Problems[0].Err, ErrUnsafeFile) {
		t.Errorf("Problems = %v, want the dead-letter file", st.Problems)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := q.Stats(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Stats(cancelled) = %v", err)
	}
}

// Spec R29: a dead letter's history longer than the read limit is returned
// cut, with ErrReadLimit, never silently.
func TestDeadLetterHistoryReadLimit(t *testing.T) {
	q, dir := openTest(t, Options{})
	id := mustAppend(t, q, sampleRecord(0, ""))
	var seen []Delivery
	if _, err := q.Ingest(context.Background(), failing(&seen, id), IngestOptions{MaxAttempts: 1}); err != nil {
		t.Fatal(err)
	}
	if h, err := q.DeadLetterHistory(id); err != nil || len(h) == 0 {
		t.Fatalf("DeadLetterHistory = %q, %v", h, err)
	}
	big := strings.Repeat(`{"attempt":1,"failed":"t"}`+"\n", maxHistory/20)
	writeRaw(t, filepath.Join(dir, deadLetterDir, pendingPrefix+id.String()+historySuffix), big)
	h, err := q.DeadLetterHistory(id)
	if !errors.Is(err, ErrReadLimit) || len(h) != maxHistory {
		t.Errorf("DeadLetterHistory of %d bytes = %d bytes, %v; want %d and ErrReadLimit", len(big), len(h), err, maxHistory)
	}
}

// Spec R26: a Finding says itself whether it breaks the spec; every kind
// Verify reports is either a violation or a note, as listed here.
func TestFindingViolation(t *testing.T) {
	t.Parallel()
	for kind, want := range map[string]bool{
		findingCorrupt: true, findingLookalike: true, findingSymlink: true, findingNotRegular: true,
		findingHardLink: true, findingPermissions: true, findingOrphanLock: true, findingUnreadable: true,
		findingFutureSchema: false, findingStrayTmp: false, findingInDoubt: false, findingDirSymlink: false,
		findingQuarantined: false, findingDeadLetter: false,
	} {
		if f := finding(kind, "x", "d"); f.Violation != want || f.Kind != kind || f.Name != "x" || f.Detail != "d" {
			t.Errorf("finding(%q) = %+v, want Violation %v", kind, f, want)
		}
	}
}

// Spec R29: Get names the file it read with every error but ErrNotFound,
// pending or dead-lettered, and returns the bytes it read with a
// *DataError: all of a corrupt file within the limit, the first
// MaxRecordSize+512 bytes of one over it, whose error wraps ErrReadLimit
// too (the data is cut at the bound, never silently).
func TestGetCorruptNamesFile(t *testing.T) {
	t.Parallel()
	const limit = 1024 + 512
	over := strings.Repeat("y", 4096)
	for _, tc := range []struct {
		name      string
		data      string
		dead      bool
		wantLimit bool
	}{
		{"pending, not JSON", "junk", false, false},
		{"pending, over the limit", over, false, true},
		{"dead letter, not JSON", "junk", true, false},
		{"dead letter, over the limit", over, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q, dir := openTest(t, Options{MaxRecordSize: 1024})
			id := newULID(t)
			want := pendingName(id.String())
			if tc.dead {
				want = deadLetterDir + "/" + want
				if err := os.Mkdir(filepath.Join(dir, deadLetterDir), 0o700); err != nil {
					t.Fatal(err)
				}
			}
			writeRaw(t, filepath.Join(dir, want), tc.data)
			st, err := q.Get(id)
			var de *DataError
			if !errors.As(err, &de) || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Get = %v, want a *DataError wrapping ErrCorrupt", err)
			}
			if errors.Is(err, ErrReadLimit) != tc.wantLimit {
				t.Errorf("errors.Is(%v, ErrReadLimit) = %v, want %v", err, !tc.wantLimit, tc.wantLimit)
			}
			if st.Name != want || de.Name != want || st.DeadLetter != tc.dead {
				t.Errorf("Stored.Name %q, DataError.Name %q, DeadLetter %v; want %q, %v", st.Name, de.Name, st.DeadLetter, want, tc.dead)
			}
			wantData := tc.data
			if tc.wantLimit {
				wantData = tc.data[:limit]
			}
			if string(st.Data) != wantData {
				t.Errorf("Stored.Data has %d bytes, want %d", len(st.Data), len(wantData))
			}
			if !st.ULID.IsZero() {
				t.Errorf("Stored.Envelope = %+v, want zero with an error", st.Envelope)
			}
		})
	}
}
