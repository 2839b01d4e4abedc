//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package queue

// Hostile and corrupt directories (spec R21 to R24, R26): whatever another
// program, a torn write or an attacker with write access to the directory
// leaves behind, capq returns a typed error or a finding, never loses or
// deletes the bytes, never follows a symlink, and keeps draining the rest.

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/capq/capq/internal/fsys"
	"github.com/capq/capq/ulid"
	"golang.org/x/sys/unix"
)

// rawEnvelope builds a pending file's bytes from raw JSON pieces.
func rawEnvelope(id, record, schema string) string {
	return `{"ulid":"` + id + `","appended_at":"2026-05-02T15:00:00+00:00","record":` + record + `,"schema_version":` + schema + `}`
}

func writeRaw(t testing.TB, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// auditFor returns the audit entries of reason about id.
func auditFor(t testing.TB, q *Queue, reason Reason, id string) []AuditEntry {
	t.Helper()
	all, err := auditAll(q)
	if err != nil {
		t.Fatal(err)
	}
	var out []AuditEntry
	for _, e := range all {
		if e.Reason == reason && (e.ULID == id || e.DroppedULID == id) {
			out = append(out, e)
		}
	}
	return out
}

// problemIs reports whether one of the problems wraps target.
func problemIs(ps []Problem, target error) bool {
	return slices.ContainsFunc(ps, func(p Problem) bool { return errors.Is(p.Err, target) })
}

func hasFinding(fs []Finding, kind string, name string) bool {
	return slices.ContainsFunc(fs, func(f Finding) bool { return f.Kind == kind && f.Name == name })
}

// drainAll ingests with a recording handler and fails t on an error.
func drainAll(t testing.TB, q *Queue) ([]Delivery, Result) {
	t.Helper()
	var seen []Delivery
	res, err := q.Ingest(context.Background(), collect(&seen), IngestOptions{})
	if err != nil {
		t.Fatalf("Ingest: %v", err)
	}
	return seen, res
}

func delivered(seen []Delivery, id ulid.ULID) bool {
	return slices.ContainsFunc(seen, func(d Delivery) bool { return d.ULID == id })
}

// Spec R21, R3, R24: each corrupt pending file is found by Verify, refused
// by DecodeEnvelope with a *DataError, and moved by Ingest to the
// quarantine folder, bytes intact, with an audit line; the records before
// and after it are delivered in the same drain.
func TestHostileCorruptFilesQuarantined(t *testing.T) {
	t.Parallel()
	other := "01ARZ3NDEKTSV4RRFFQ69G5FAV"
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	cases := []struct {
		name    string
		content func(id string) string
		maxRec  int
		decodes bool // DecodeEnvelope alone accepts it (only the size limit refuses it)
	}{
		{name: "empty", content: func(string) string { return "" }},
		{name: "white space", content: func(string) string { return " \n" }},
		{name: "truncated", content: func(id string) string { e := rawEnvelope(id, `{"a":"b"}`, "1"); return e[:len(e)/2] }},
		{name: "not JSON", content: func(string) string { return "hello, world" }},
		{name: "not UTF-8", content: func(id string) string { return rawEnvelope(id, "{\"s\":\"\xff\xfe\"}", "1") }},
		{name: "UTF-8 BOM", content: func(id string) string { return "\xef\xbb\xbf" + rawEnvelope(id, `{}`, "1") }},
		{name: "JSON array", content: func(id string) string { return "[" + rawEnvelope(id, `{}`, "1") + "]" }},
		{name: "record a string", content: func(id string) string { return rawEnvelope(id, `"text"`, "1") }},
		{name: "record an array", content: func(id string) string { return rawEnvelope(id, `[1,2]`, "1") }},
		{name: "record null", content: func(id string) string { return rawEnvelope(id, `null`, "1") }},
		{name: "missing appended_at", content: func(id string) string {
			return `{"ulid":"` + id + `","record":{},"schema_version":1}`
		}},
		{name: "missing record", content: func(id string) string {
			return `{"ulid":"` + id + `","appended_at":"2026-05-02T15:00:00+00:00","schema_version":1}`
		}},
		{name: "extra key", content: func(id string) string {
			return strings.TrimSuffix(rawEnvelope(id, `{}`, "1"), "}") + `,"extra":1}`
		}},
		{name: "duplicate key", content: func(id string) string {
			return `{"ulid":"` + id + `","ulid":"` + id + `","appended_at":"2026-05-02T15:00:00+00:00","record":{},"schema_version":1}`
		}},
		{name: "ulid differs from the name", content: func(string) string { return rawEnvelope(other, `{}`, "1") }},
		{name: "ulid lower case", content: func(id string) string { return rawEnvelope(strings.ToLower(id), `{}`, "1") }},
		{name: "ulid a number", content: func(string) string {
			return `{"ulid":1,"appended_at":"2026-05-02T15:00:00+00:00","record":{},"schema_version":1}`
		}},
		{name: "appended_at not a time", content: func(id string) string {
			return strings.Replace(rawEnvelope(id, `{}`, "1"), "2026-05-02T15:00:00+00:00", "yesterday", 1)
		}},
		{name: "schema_version 1.0", content: func(id string) string { return rawEnvelope(id, `{}`, "1.0") }},
		{name: "schema_version true", content: func(id string) string { return rawEnvelope(id, `{}`, "true") }},
		{name: `schema_version "1"`, content: func(id string) string { return rawEnvelope(id, `{}`, `"1"`) }},
		{name: "schema_version null", content: func(id string) string { return rawEnvelope(id, `{}`, "null") }},
		{name: "schema_version 1e0", content: func(id string) string { return rawEnvelope(id, `{}`, "1e0") }},
		{name: "NaN", content: func(id string) string { return rawEnvelope(id, `{"x":NaN}`, "1") }},
		{name: "Infinity", content: func(id string) string { return rawEnvelope(id, `{"x":Infinity}`, "1") }},
		{name: "-Infinity", content: func(id string) string { return rawEnvelope(id, `{"x":-Infinity}`, "1") }},
		{name: "trailing data", content: func(id string) string { return rawEnvelope(id, `{}`, "1") + "x" }},
		{name: "two envelopes", content: func(id string) string { return rawEnvelope(id, `{}`, "1") + rawEnvelope(id, `{}`, "1") }},
		{name: "nested deeper than any reader allows", content: func(id string) string { return rawEnvelope(id, `{"d":`+deep+`}`, "1") }},
		{name: "over the size limit", maxRec: 1024, decodes: true, content: func(id string) string {
			return rawEnvelope(id, `{"s":"`+strings.Repeat("x", 4096)+`"}`, "1")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q, dir := openTest(t, Options{MaxRecordSize: tc.maxRec})
			before := mustAppend(t, q, sampleRecord(0, "before"))
			id := newULID(t)
			name := pendingName(id.String())
			data := tc.content(id.String())
			writeRaw(t, filepath.Join(dir, name), data)
			after := mustAppend(t, q, sampleRecord(1, "after"))

			_, derr := decodeFile(name, []byte(data))
			var ce *DataError
			if tc.decodes {
				if derr != nil {
					t.Fatalf("DecodeEnvelope: %v", derr)
				}
			} else if !errors.As(derr, &ce) || !errors.Is(derr, ErrCorrupt) || ce.Name != name {
				t.Errorf("DecodeEnvelope = %v, want a *DataError naming %s", derr, name)
			}
			findings, err := Verify(context.Background(), q.dir, q.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !hasFinding(findings, findingCorrupt, name) {
				t.Errorf("Verify findings %+v lack corrupt %s", findings, name)
			}

			seen, res := drainAll(t, q)
			if delivered(seen, id) {
				t.Fatal("the corrupt record reached the handler")
			}
			if !delivered(seen, before) || !delivered(seen, after) || res.Quarantined != 1 {
				t.Errorf("drain around a corrupt file: %+v, result %+v", seen, res)
			}
			if exists(t, filepath.Join(dir, name)) || exists(t, filepath.Join(dir, lockName(id.String()))) {
				t.Error("corrupt file or its lock still in the queue")
			}
			moved, err := os.ReadFile(filepath.Join(dir, quarantineDir, name))
			if err != nil || string(moved) != data {
				t.Errorf("quarantined bytes: %v; equal: %v", err, string(moved) == data)
			}
			if a := auditFor(t, q, ReasonQuarantined, id.String()); len(a) != 1 || a[0].File != quarantineDir+"/"+name {
				t.Errorf("quarantine audit lines: %+v", a)
			}
			findings, _ = Verify(context.Background(), q.dir, q.opts)
			if !hasFinding(findings, findingQuarantined, quarantineDir+"/"+name) || slices.ContainsFunc(findings, func(f Finding) bool { return f.Violation }) {
				t.Errorf("Verify after the drain: %+v", findings)
			}
		})
	}
}

// Spec R14, R3: a schema_version that is an integer other than 1 is a
// newer (or older) format, not corruption: Ingest stops with a
// *DataError naming the value as written, the handler never sees the
// record, the file stays in place, and the records after it wait.
func TestHostileFutureSchemaStopsDrain(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"2", "99", "0", "-1", "100000000000000000000000"} {
		t.Run(v, func(t *testing.T) {
			q, dir := openTest(t, Options{})
			before := mustAppend(t, q, sampleRecord(0, "before"))
			id := newULID(t)
			name := pendingName(id.String())
			data := rawEnvelope(id.String(), `{}`, v)
			writeRaw(t, filepath.Join(dir, name), data)
			after := mustAppend(t, q, sampleRecord(1, "after"))

			findings, _ := Verify(context.Background(), q.dir, q.opts)
			if !hasFinding(findings, findingFutureSchema, name) {
				t.Errorf("Verify findings %+v lack future_schema %s", findings, name)
			}
			var seen []Delivery
			_, err := q.Ingest(context.Background(), collect(&seen), IngestOptions{})
			var se *DataError
			if !errors.As(err, &se) || !errors.Is(err, ErrSchemaVersion) || found(se) != v || se.Name != name {
				t.Fatalf("Ingest = %v, want a *DataError naming %s and %s", err, name, v)
			}
			if !strings.Contains(err.Error(), "schema_version") || !strings.Contains(err.Error(), v) {
				t.Errorf("error text %q lacks schema_version or %s", err, v)
			}
			if delivered(seen, id) || delivered(seen, after) || !delivered(seen, before) {
				t.Errorf("deliveries %+v: want only the record before", seen)
			}
			if got, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(got) != data {
				t.Errorf("the file did not stay as it was: %v", err)
			}
			if exists(t, filepath.Join(dir, lockName(id.String()))) {
				t.Error("a lock file was left on the future-schema record")
			}
			if exists(t, filepath.Join(dir, quarantineDir, name)) {
				t.Error("a future-schema file was quarantined")
			}
		})
	}
}

// Spec R23, R1: names that look like capq's but are not are ignored by
// Count, List and Ingest (not delivered, not moved, not deleted) and
// reported by Verify.
func TestHostileLookalikeNames(t *testing.T) {
	t.Parallel()
	id := newULID(t).String()
	cases := []struct {
		name string
		dir  bool
		kind string
	}{
		{name: "pending-.json", kind: findingLookalike},
		{name: "pending-" + id[:25] + ".json", kind: findingLookalike},
		{name: "pending-" + id + "0.json", kind: findingLookalike},
		{name: "pending-" + strings.ToLower(id) + ".json", kind: findingLookalike},
		{name: "pending-" + id + ".json.tmp.json", kind: findingLookalike},
		{name: "pending-" + id + ".JSON", kind: findingLookalike},
		{name: "pending-" + id + ".json.bak", kind: findingLookalike},
		{name: "pending-" + id + ".jsonl", kind: findingLookalike},
		{name: "pending-8" + id[1:] + ".json", kind: findingLookalike}, // overflows 128 bits
		{name: "pending-" + id[:25] + "U.json", kind: findingLookalike},
		{name: "pending- " + id[1:] + ".json", kind: findingLookalike},
		{name: "pending-" + id + ".json", dir: true, kind: findingNotRegular},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q, dir := openTest(t, Options{})
			good := mustAppend(t, q, sampleRecord(0, "good"))
			p := filepath.Join(dir, tc.name)
			content := rawEnvelope(id, `{"lookalike":true}`, "1")
			if tc.dir {
				if err := os.Mkdir(p, 0o700); err != nil {
					t.Fatal(err)
				}
			} else {
				writeRaw(t, p, content)
			}
			if n := mustCount(t, q); n != 1 {
				t.Errorf("Count = %d, want 1", n)
			}
			if ids, _ := q.List(); !slices.Equal(ids, []ulid.ULID{good}) {
				t.Errorf("List = %v", ids)
			}
			findings, _ := Verify(context.Background(), q.dir, q.opts)
			if !hasFinding(findings, tc.kind, tc.name) {
				t.Errorf("Verify findings %+v lack %s %s", findings, tc.kind, tc.name)
			}
			seen, res := drainAll(t, q)
			if len(seen) != 1 || seen[0].ULID != good || res.Quarantined != 0 {
				t.Errorf("drain: %+v, %+v", seen, res)
			}
			if tc.dir {
				if fi, err := os.Lstat(p); err != nil || !fi.IsDir() {
					t.Errorf("the directory was touched: %v", err)
				}
			} else if got, err := os.ReadFile(p); err != nil || string(got) != content {
				t.Errorf("the look-alike was touched: %v", err)
			}
		})
	}
}

// fileState describes one file for before/after comparisons.
func fileState(t testing.TB, p string) string {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		return "missing: " + err.Error()
	}
	s := fmt.Sprintf("%v %d %d", fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		target, _ := os.Readlink(p)
		s += " -> " + target
	case fi.Mode().IsRegular():
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		s += fmt.Sprintf(" %x", sha256.Sum256(data))
	}
	return s
}

// snapshot describes every entry under root, without following symlinks.
func snapshot(t testing.TB, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		out[p] = fileState(t, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Spec R22: a pending-<ULID>.json symlink to a file outside the queue is
// never followed: Count and List ignore it, Ingest never reads it (the
// outside file is a valid envelope, so reading it would deliver it) and
// never deletes the target, and Verify reports it.
func TestHostileSymlinkPendingNeverFollowed(t *testing.T) {
	t.Parallel()
	q, dir := openTest(t, Options{})
	good := mustAppend(t, q, sampleRecord(0, "good"))
	id := newULID(t)
	outside := filepath.Join(t.TempDir(), "outside.json")
	writeRaw(t, outside, rawEnvelope(id.String(), `{"secret":true}`, "1"))
	link := filepath.Join(dir, pendingName(id.String()))
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	was := fileState(t, outside)
	if n := mustCount(t, q); n != 1 {
		t.Errorf("Count = %d with a symlink, want 1", n)
	}
	findings, _ := Verify(context.Background(), q.dir, q.opts)
	if !hasFinding(findings, findingSymlink, pendingName(id.String())) {
		t.Errorf("Verify findings %+v lack the symlink", findings)
	}
	seen, _ := drainAll(t, q)
	if delivered(seen, id) || !delivered(seen, good) {
		t.Errorf("deliveries %+v", seen)
	}
	if now := fileState(t, outside); now != was {
		t.Errorf("the outside file changed: %s -> %s", was, now)
	}
}

// Spec R21, R22: the symlink itself is moved aside (the link, not its
// target) with an audit line, like any other unsafe file.
func TestHostileSymlinkPendingQuarantined(t *testing.T) {
	t.Parallel()
	q, dir := openTest(t, Options{})
	id := newULID(t)
	outside := filepath.Join(t.TempDir(), "outside.json")
	writeRaw(t, outside, rawEnvelope(id.String(), `{"secret":true}`, "1"))
	name := pendingName(id.String())
	if err := os.Symlink(outside, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
	was := fileState(t, outside)
	drainAll(t, q)
	// Regression: Ingest used to list only regular files, so a symlink
	// planted under a pending name was ignored forever and never reached
	// readPending's ELOOP → quarantine path (fixed in 1b08324).
	moved := filepath.Join(dir, quarantineDir, name)
	if fi, err := os.Lstat(moved); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("the symlink was not quarantined as a symlink: %v", err)
	}
	if exists(t, filepath.Join(dir, name)) {
		t.Error("the symlink is still under its pending name")
	}
	if a := auditFor(t, q, ReasonQuarantined, id.String()); len(a) != 1 {
		t.Errorf("quarantine audit lines for the symlink: %+v", a)
	}
	if now := fileState(t, outside); now != was {
		t.Errorf("the outside file changed: %s -> %s", was, now)
	}
}

// Spec R21, R22: a file replaced, between Ingest's listing and its read,
// by a symlink to an outside file or by a FIFO is refused at open (never
// followed, never blocked on), quarantined, and the drain goes on.
func TestHostileSwappedInAfterListing(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"symlink", "fifo"} {
		t.Run(kind, func(t *testing.T) {
			q, dir, f := openFault(t, Options{})
			victim := mustAppend(t, q, sampleRecord(0, "victim"))
			good := mustAppend(t, q, sampleRecord(1, "good"))
			name := pendingName(victim.String())
			outside := filepath.Join(t.TempDir(), "outside.json")
			writeRaw(t, outside, rawEnvelope(victim.String(), `{"secret":true}`, "1"))
			was := fileState(t, outside)
			var swapped atomic.Bool
			f.SetHook(func(c fsys.Call) error {
				if c.Op == fsys.OpOpen && c.Name == name && swapped.CompareAndSwap(false, true) {
					tmp := filepath.Join(dir, "swap")
					var err error
					if kind == "symlink" {
						err = os.Symlink(outside, tmp)
					} else {
						err = unix.Mkfifo(tmp, 0o600)
					}
					if err == nil {
						err = os.Rename(tmp, filepath.Join(dir, name))
					}
					if err != nil {
						t.Error(err)
					}
				}
				return nil
			})
			seen, res := drainGuarded(t, q)
			if !swapped.Load() {
				t.Fatal("the pending file was never opened")
			}
			if delivered(seen, victim) || !delivered(seen, good) || res.Quarantined != 1 {
				t.Errorf("drain: %+v, %+v", seen, res)
			}
			fi, err := os.Lstat(filepath.Join(dir, quarantineDir, name))
			if err != nil || fi.Mode().IsRegular() {
				t.Errorf("quarantined entry: %v, %v", fi, err)
			}
			if now := fileState(t, outside); now != was {
				t.Errorf("the outside file changed: %s -> %s", was, now)
			}
			if a := auditFor(t, q, ReasonQuarantined, victim.String()); len(a) != 1 {
				t.Errorf("audit lines: %+v", a)
			}
		})
	}
}

// withWatchdog runs fn in a goroutine, failing the test instead of
// hanging the package if it does not return. The limit is a safety valve,
// not a timing assertion. fn must report failures with t.Error, not
// t.Fatal.
func withWatchdog(t testing.TB, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("hung")
	}
}

// drainGuarded drains q under a watchdog and reports an error with
// t.Error.
func drainGuarded(t testing.TB, q *Queue) ([]Delivery, Result) {
	t.Helper()
	var seen []Delivery
	var res Result
	withWatchdog(t, func() {
		var err error
		res, err = q.Ingest(context.Background(), collect(&seen), IngestOptions{})
		if err != nil {
			t.Errorf("Ingest: %v", err)
		}
	})
	return seen, res
}

// Spec R22, R1: a FIFO under a pending name is not a pending file: Ingest
// neither hangs on it nor delivers it, and Verify reports it.
func TestHostileFIFOPending(t *testing.T) {
	t.Parallel()
	q, dir := openTest(t, Options{})
	good := mustAppend(t, q, sampleRecord(0, "good"))
	name := pendingName(newULID(t).String())
	if err := unix.Mkfifo(filepath.Join(dir, name), 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	var findings []Finding
	withWatchdog(t, func() { findings, _ = Verify(context.Background(), q.dir, q.opts) })
	if !hasFinding(findings, findingNotRegular, name) {
		t.Errorf("Verify findings %+v lack not_regular %s", findings, name)
	}
	if n := mustCount(t, q); n != 1 {
		t.Errorf("Count = %d, want 1", n)
	}
	seen, _ := drainGuarded(t, q)
	if len(seen) != 1 || seen[0].ULID != good {
		t.Errorf("deliveries %+v", seen)
	}
}

// Spec R22, R11: whatever sits under a record's lock name that is not a
// regular file (a symlink out of the queue, dangling or not, a FIFO, a
// directory) is never followed or written through; the record is not
// lost, and the rest of the queue drains.
func TestHostileUnsafeLock(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"dangling symlink", "symlink to a file", "fifo", "directory", "socket"} {
		t.Run(kind, func(t *testing.T) {
			q, dir := openTest(t, Options{})
			victim := mustAppend(t, q, sampleRecord(0, "victim"))
			good := mustAppend(t, q, sampleRecord(1, "good"))
			lock := filepath.Join(dir, lockName(victim.String()))
			outside := filepath.Join(t.TempDir(), "target")
			var err error
			switch kind {
			case "dangling symlink":
				err = os.Symlink(outside, lock)
			case "symlink to a file":
				writeRaw(t, outside, "do not touch")
				err = os.Symlink(outside, lock)
			case "fifo":
				err = unix.Mkfifo(lock, 0o600)
			case "directory":
				err = os.Mkdir(lock, 0o700)
			case "socket":
				var fd int
				if fd, err = unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0); err == nil {
					defer unix.Close(fd)
					err = unix.Bind(fd, &unix.SockaddrUnix{Name: lock})
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			was := fileState(t, outside)
			var all []Delivery
			for pass := 0; pass < 3 && !delivered(all, victim); pass++ {
				var seen []Delivery
				var err error
				withWatchdog(t, func() {
					_, err = q.Ingest(context.Background(), collect(&seen), IngestOptions{})
				})
				all = append(all, seen...)
				if err != nil {
					// An error here at every pass would be the
					// reference's weakness: one bad file blocking
					// every drain.
					// BUG(lead): for a socket, claimRecord's open
					// fails with ENXIO, which is neither EISDIR nor
					// ELOOP, so it is not ErrUnsafeFile and Ingest
					// stops here on every pass (queue/claim.go:63, the
					// OpenFile of an existing lock).
					t.Fatalf("pass %d: Ingest: %v", pass, err)
				}
			}
			if !delivered(all, good) || !delivered(all, victim) {
				t.Errorf("deliveries over three passes: %+v", all)
			}
			if now := fileState(t, outside); now != was {
				t.Errorf("the lock's target changed: %s -> %s", was, now)
			}
		})
	}
}

// Spec R22, R20: an audit log that is a symlink out of the queue is never
// written through: a quarantine (which needs an audit line first) and an
// overflow prune both refuse, and the outside file stays as it was.
func TestHostileAuditLogSymlink(t *testing.T) {
	t.Parallel()
	q, dir := openTest(t, Options{MaxSize: 3})
	outside := filepath.Join(t.TempDir(), "outside.log")
	writeRaw(t, outside, "precious\n")
	if err := os.Symlink(outside, filepath.Join(dir, auditLogName)); err != nil {
		t.Fatal(err)
	}
	was := fileState(t, outside)
	findings, _ := Verify(context.Background(), q.dir, q.opts)
	if !hasFinding(findings, findingSymlink, auditLogName) {
		t.Errorf("Verify findings %+v lack the audit log symlink", findings)
	}

	// Quarantine path.
	bad := newULID(t)
	badName := pendingName(bad.String())
	writeRaw(t, filepath.Join(dir, badName), "not json")
	var seen []Delivery
	res, err := q.Ingest(context.Background(), collect(&seen), IngestOptions{})
	if err != nil || !problemIs(res.Problems, ErrUnsafeFile) {
		t.Errorf("Ingest with an audit-log symlink: %+v, %v; want the ErrUnsafeFile reported (R33)", res, err)
	}
	if !exists(t, filepath.Join(dir, badName)) {
		t.Error("the corrupt file moved without an audit line")
	}
	// Overflow path: appends still succeed (they have committed), nothing
	// is dropped without its audit line.
	for i := range 6 {
		mustAppend(t, q, sampleRecord(i, ""))
	}
	if n := mustCount(t, q); n != 7 {
		t.Errorf("Count = %d: records dropped without an audit line", n)
	}
	if now := fileState(t, outside); now != was {
		t.Errorf("the outside file was written: %s -> %s", was, now)
	}
	if fi, err := os.Lstat(filepath.Join(dir, auditLogName)); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("the audit-log symlink was replaced: %v", err)
	}
}

// Spec R17, R22, R36: a dead-letter move that fails (here: the audit line
// before it cannot be written) leaves no history in dead-letter/, so the
// record's next failure moves it under its own unnumbered name, where
// DeadLetters and Requeue see it (found by TestMachineOneProcess).
func TestDeadLetterAfterFailedMoveKeepsItsName(t *testing.T) {
	t.Parallel()
	q, dir := openTest(t, Options{})
	id := mustAppend(t, q, sampleRecord(0, ""))
	audit := filepath.Join(dir, auditLogName)
	if err := os.Symlink(filepath.Join(t.TempDir(), "outside.log"), audit); err != nil {
		t.Fatal(err)
	}
	fail := func(context.Context, Delivery) error { return errors.New("handler failed") }
	opts := IngestOptions{MaxAttempts: 1}
	if res, err := q.Ingest(context.Background(), fail, opts); err != nil || res.Left != 1 {
		t.Fatalf("Ingest with the audit log broken: %+v, %v; want the record left (R22)", res, err)
	}
	hist := filepath.Join(dir, deadLetterDir, pendingPrefix+id.String()+historySuffix)
	if exists(t, hist) {
		t.Errorf("the failed move left %s behind", hist)
	}
	if err := os.Remove(audit); err != nil {
		t.Fatal(err)
	}
	if res, err := q.Ingest(context.Background(), fail, opts); err != nil || res.DeadLettered != 1 {
		t.Fatalf("second Ingest: %+v, %v; want the record dead-lettered", res, err)
	}
	if !exists(t, filepath.Join(dir, deadLetterDir, pendingName(id.String()))) || !exists(t, hist) {
		t.Errorf("the dead letter is not under its own name")
	}
	if ids, err := q.DeadLetters(); err != nil || len(ids) != 1 || ids[0] != id {
		t.Errorf("DeadLetters() = %v, %v; want [%s]", ids, err, id)
	}
}

// Spec R22, R26: Verify reports a queue directory that is a symlink, one
// that group or others may write, and files others may read.
func TestHostileDirectoryFindings(t *testing.T) {
	t.Parallel()
	q, dir := openTest(t, Options{})
	id := mustAppend(t, q, sampleRecord(0, ""))
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	findings, err := Verify(context.Background(), link, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !hasFinding(findings, findingDirSymlink, ".") {
		t.Errorf("Verify(context.Background(), symlink) = %+v, want dir_symlink", findings)
	}
	findings, _ = Verify(context.Background(), dir, Options{})
	if len(findings) != 0 {
		t.Errorf("Verify of a clean queue: %+v", findings)
	}
	for _, mode := range []os.FileMode{0o770, 0o707, 0o777} {
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		findings, _ = Verify(context.Background(), dir, Options{})
		if !hasFinding(findings, findingPermissions, ".") {
			t.Errorf("Verify of a %v directory: %+v", mode, findings)
		}
	}
	os.Chmod(dir, 0o700)
	if err := os.Chmod(pendingPath(dir, id), 0o644); err != nil {
		t.Fatal(err)
	}
	findings, _ = Verify(context.Background(), dir, Options{})
	if !hasFinding(findings, findingPermissions, pendingName(id.String())) {
		t.Errorf("Verify of a 0644 pending file: %+v", findings)
	}
}

// Spec R22: whatever the umask, capq creates its directories 0700 and its
// files 0600: the queue directory (and missing parents), pending files,
// lock files, the audit log, quarantine and dead-letter folders and
// histories.
func TestHostileNewFileModes(t *testing.T) {
	for _, umask := range []int{0, 0o022} {
		t.Run(fmt.Sprintf("umask %03o", umask), func(t *testing.T) {
			old := syscall.Umask(umask)
			t.Cleanup(func() { syscall.Umask(old) })
			root := t.TempDir()
			dir := filepath.Join(root, "a", "b", "queue")
			q, err := Open(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			mustAppend(t, q, sampleRecord(0, ""))
			writeRaw(t, filepath.Join(dir, pendingName(newULID(t).String())), "corrupt")
			doomed := mustAppend(t, q, sampleRecord(1, ""))
			var lockMode os.FileMode
			_, err = q.Ingest(context.Background(), func(_ context.Context, d Delivery) error {
				fi, err := os.Stat(lockPath(dir, d.ULID))
				if err != nil {
					return err
				}
				lockMode = fi.Mode().Perm()
				if d.ULID == doomed {
					return errBoom
				}
				return nil
			}, IngestOptions{MaxAttempts: 1})
			if err != nil {
				t.Fatal(err)
			}
			mustAppend(t, q, sampleRecord(2, "stays pending"))
			if lockMode != 0o600 {
				t.Errorf("lock file mode %v, want 0600", lockMode)
			}
			for _, sub := range []string{filepath.Join(root, "a"), filepath.Join(root, "a", "b")} {
				if fi, err := os.Stat(sub); err != nil || fi.Mode().Perm() != 0o700 {
					t.Errorf("parent %s: %v, %v; want 0700", sub, fi.Mode().Perm(), err)
				}
			}
			n := 0
			filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				fi, err := d.Info()
				if err != nil {
					return err
				}
				want := os.FileMode(0o600)
				if d.IsDir() {
					want = 0o700
				}
				if fi.Mode().Perm() != want {
					t.Errorf("%s: mode %v, want %v", strings.TrimPrefix(p, dir), fi.Mode().Perm(), want)
				}
				n++
				return nil
			})
			// queue, pending, audit log, quarantine/ + file, dead-letter/ + record + history
			if n < 8 {
				t.Errorf("only %d entries checked; the setup did not create every kind of file", n)
			}
		})
	}
}

// Spec R24, R5: records over the size or depth limit are refused at Append
// with typed errors, and nothing reaches the disk; records at the limits
// are accepted.
func TestHostileAppendLimits(t *testing.T) {
	t.Parallel()
	const maxSize, maxDepth = 256, 8
	nest := func(n int) []byte {
		return []byte(strings.Repeat(`{"a":`, n-1) + `{}` + strings.Repeat(`}`, n-1))
	}
	arrays := func(n int) []byte { // one object holding n-1 nested arrays
		return []byte(`{"a":` + strings.Repeat("[", n-1) + strings.Repeat("]", n-1) + `}`)
	}
	sized := func(n int) []byte {
		pre, post := `{"s":"`, `"}`
		return []byte(pre + strings.Repeat("x", n-len(pre)-len(post)) + post)
	}
	for _, tc := range []struct {
		name string
		rec  []byte
		want error // nil: accepted
	}{
		{"size at the limit", sized(maxSize), nil},
		{"size one over", sized(maxSize + 1), errRecordTooLarge},
		{"size far over", sized(100 * maxSize), errRecordTooLarge},
		{"objects at the depth limit", nest(maxDepth), nil},
		{"objects one too deep", nest(maxDepth + 1), errTooDeep},
		{"arrays at the depth limit", arrays(maxDepth), nil},
		{"arrays one too deep", arrays(maxDepth + 1), errTooDeep},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, dir := openTest(t, Options{MaxRecordSize: maxSize, MaxDepth: maxDepth})
			_, err := q.Append(tc.rec)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Append: %v", err)
				}
				return
			}
			var re *DataError
			if !errors.Is(err, tc.want) || !errors.Is(err, ErrInvalidRecord) || !errors.As(err, &re) {
				t.Errorf("Append = %v, want a *DataError wrapping %v and ErrInvalidRecord", err, tc.want)
			}
			names := slices.DeleteFunc(dirNames(t, dir), func(n string) bool {
				return strings.HasPrefix(n, spareNamePrefix) // Open's reserve (R32)
			})
			if len(names) != 0 {
				t.Errorf("refused record left %v", names)
			}
		})
	}
	// The default depth limit holds against a record deep enough to
	// overflow a naive recursive parser.
	q, _ := openTest(t, Options{})
	_, err := q.Append(arrays(1_500_000))
	if !errors.Is(err, errTooDeep) {
		t.Errorf("1.5 million levels: %v, want errTooDeep", err)
	}
}

// lyingFS reports every pending file as empty and counts the bytes read
// from pending files: a file that grows after its stat, or one whose size
// the file system does not know, must still not be read past the limit.
type lyingFS struct {
	fsys.FS
	read atomic.Int64
}

func (l *lyingFS) OpenFile(name string, flag int, perm fs.FileMode) (fsys.File, error) {
	f, err := l.FS.OpenFile(name, flag, perm)
	if err != nil || !strings.HasSuffix(name, pendingSuffix) {
		return f, err
	}
	return &lyingFile{File: f, l: l}, nil
}

type lyingFile struct {
	fsys.File
	l *lyingFS
}

func (f *lyingFile) Stat() (fsys.FileInfo, error) {
	fi, err := f.File.Stat()
	fi.Size = 0
	return fi, err
}

func (f *lyingFile) Read(p []byte) (int, error) {
	n, err := f.File.Read(p)
	f.l.read.Add(int64(n))
	return n, err
}

// Spec R24: Ingest reads at most the size limit plus one byte of a
// pending file, even when the file's size says otherwise, and quarantines
// a file that exceeds the limit.
func TestHostileReadLimit(t *testing.T) {
	t.Parallel()
	const maxRec = 1024
	dir := t.TempDir()
	osfs, err := fsys.OpenOS(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer osfs.Close()
	lfs := &lyingFS{FS: osfs}
	q, err := Open(dir, Options{MaxRecordSize: maxRec, fileSystem: lfs})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	id := newULID(t)
	huge := rawEnvelope(id.String(), `{"s":"`+strings.Repeat("x", 64*maxRec)+`"}`, "1")
	writeRaw(t, filepath.Join(dir, pendingName(id.String())), huge)
	good := mustAppend(t, q, sampleRecord(0, "good"))
	goodSize := fileSize(t, pendingPath(dir, good))

	seen, res := drainAll(t, q)
	if len(seen) != 1 || seen[0].ULID != good || res.Quarantined != 1 {
		t.Errorf("drain: %+v, %+v", seen, res)
	}
	limit := int64(q.opts.maxFileSize()) + 1
	if got := lfs.read.Load(); got > limit+goodSize {
		t.Errorf("read %d bytes of pending files, want at most %d (limit+1) + %d (the good file)", got, limit, goodSize)
	}
	if got, err := os.ReadFile(filepath.Join(dir, quarantineDir, pendingName(id.String()))); err != nil || string(got) != huge {
		t.Errorf("oversized file not quarantined intact: %v", err)
	}
}

func fileSize(t testing.TB, p string) int64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// Spec R26: Verify changes nothing (every name, mode, size, time and byte
// is the same afterwards) and reports every finding of a directory that
// has one of each kind.
func TestVerifyReadOnlyEveryFinding(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	q, err := Open(dir, Options{SkipRecover: true})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	// A dead letter and a quarantined file, made the normal way.
	dead := mustAppend(t, q, sampleRecord(0, "dead"))
	if _, err := q.Ingest(context.Background(), failing(new([]Delivery), dead), IngestOptions{MaxAttempts: 1}); err != nil {
		t.Fatal(err)
	}
	qid := newULID(t)
	writeRaw(t, filepath.Join(dir, pendingName(qid.String())), "junk")
	drainAll(t, q)

	good := mustAppend(t, q, sampleRecord(1, "good"))
	inDoubt := mustAppend(t, q, sampleRecord(2, "in doubt"))
	writeRaw(t, lockPath(dir, inDoubt), "")
	held := mustAppend(t, q, sampleRecord(3, "held"))
	hf, err := os.OpenFile(lockPath(dir, held), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer hf.Close()
	if err := unix.Flock(int(hf.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	loose := mustAppend(t, q, sampleRecord(4, "loose"))
	os.Chmod(pendingPath(dir, loose), 0o644)

	names := map[string]string{}
	add := func(kind string, name string) string { names[name] = kind; return filepath.Join(dir, name) }
	c := newULID(t).String()
	writeRaw(t, add(findingCorrupt, pendingName(c)), rawEnvelope(c, `"x"`, "1"))
	f := newULID(t).String()
	writeRaw(t, add(findingFutureSchema, pendingName(f)), rawEnvelope(f, `{}`, "7"))
	writeRaw(t, add(findingLookalike, "pending-.json"), "{}")
	os.Symlink("/etc/passwd", add(findingSymlink, pendingName(newULID(t).String())))
	os.Mkdir(add(findingNotRegular, pendingName(newULID(t).String())), 0o700)
	unix.Mkfifo(add(findingNotRegular, pendingName(newULID(t).String())), 0o600)
	writeRaw(t, add(findingStrayTmp, tmpName(newULID(t).String())), "{")
	writeRaw(t, add(findingOrphanLock, lockName(newULID(t).String())), "")
	names[lockName(inDoubt.String())] = findingInDoubt
	names[pendingName(loose.String())] = findingPermissions
	names[quarantineDir+"/"+pendingName(qid.String())] = findingQuarantined
	names[deadLetterDir+"/"+pendingName(dead.String())] = findingDeadLetter
	os.WriteFile(filepath.Join(dir, "README"), []byte("foreign files are not ours to judge"), 0o600)

	before := snapshot(t, dir)
	for _, verify := range []func() ([]Finding, error){
		func() ([]Finding, error) { return Verify(context.Background(), q.dir, q.opts) },
		func() ([]Finding, error) { return Verify(context.Background(), dir, Options{}) },
	} {
		findings, err := verify()
		if err != nil {
			t.Fatal(err)
		}
		for name, kind := range names {
			if !hasFinding(findings, kind, name) {
				t.Errorf("missing finding %s %s", kind, name)
			}
		}
		for _, fd := range findings {
			if _, ok := names[fd.Name]; !ok {
				t.Errorf("unexpected finding %+v", fd)
			}
			if strings.Contains(fd.Name, good.String()) || strings.Contains(fd.Name, held.String()) {
				t.Errorf("finding about a healthy record: %+v", fd)
			}
		}
		if !slices.IsSortedFunc(findings, func(a, b Finding) int { return strings.Compare(a.Name, b.Name) }) {
			t.Error("findings not sorted by name")
		}
		if after := snapshot(t, dir); !mapsEqual(before, after) {
			for p, s := range after {
				if before[p] != s {
					t.Errorf("Verify changed %s: %q -> %q", p, before[p], s)
				}
			}
			for p := range before {
				if _, ok := after[p]; !ok {
					t.Errorf("Verify removed %s", p)
				}
			}
		}
	}
	// The held lock is still held: Verify took nothing from its holder.
	if err := unix.Flock(int(hf.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Errorf("relocking the held lock: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "nope")
	if _, err := Verify(context.Background(), missing, Options{}); err == nil {
		t.Error("Verify of a missing directory succeeded")
	}
	if exists(t, missing) {
		t.Error("Verify created the directory")
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Spec R21: a second corrupt file under a name already quarantined does
// not overwrite the first: both sets of bytes are kept.
func TestHostileQuarantineNameCollision(t *testing.T) {
	t.Parallel()
	q, dir := openTest(t, Options{})
	id := newULID(t)
	name := pendingName(id.String())
	contents := []string{"first junk", "second junk", "third junk"}
	for _, c := range contents {
		writeRaw(t, filepath.Join(dir, name), c)
		if _, res := drainAll(t, q); res.Quarantined != 1 {
			t.Fatalf("%q: %+v", c, res)
		}
	}
	ents, err := os.ReadDir(filepath.Join(dir, quarantineDir))
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(dir, quarantineDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		kept = append(kept, string(data))
	}
	slices.Sort(kept)
	if !slices.Equal(kept, contents) {
		t.Errorf("quarantine holds %q, want all of %q", kept, contents)
	}
	if a := auditFor(t, q, ReasonQuarantined, id.String()); len(a) != 3 {
		t.Errorf("%d quarantine audit lines, want 3", len(a))
	}
}

// Spec R22: a quarantine or dead-letter folder replaced by a symlink to a
// directory outside the queue is never followed: nothing is moved out of
// the queue, and the file that would have moved stays where it is.
func TestHostileFolderSymlink(t *testing.T) {
	t.Parallel()
	for _, folder := range []string{quarantineDir, deadLetterDir} {
		t.Run(folder, func(t *testing.T) {
			q, dir := openTest(t, Options{})
			outside := t.TempDir()
			if err := os.Symlink(outside, filepath.Join(dir, folder)); err != nil {
				t.Fatal(err)
			}
			var name string
			var h Handler = collect(new([]Delivery))
			if folder == quarantineDir {
				name = pendingName(newULID(t).String())
				writeRaw(t, filepath.Join(dir, name), "junk")
			} else {
				id := mustAppend(t, q, sampleRecord(0, ""))
				name = pendingName(id.String())
				h = failing(new([]Delivery), id)
			}
			res, err := q.Ingest(context.Background(), h, IngestOptions{MaxAttempts: 1})
			if err != nil || res.Left != 1 || !problemIs(res.Problems, ErrUnsafeFile) {
				t.Errorf("Ingest = %+v, %v; want the record left and ErrUnsafeFile reported (R33)", res, err)
			}
			if ents, _ := os.ReadDir(outside); len(ents) != 0 {
				t.Errorf("files moved out of the queue through the symlink: %v", ents)
			}
			if !exists(t, filepath.Join(dir, name)) {
				t.Errorf("%s left its place", name)
			}
			findings, _ := Verify(context.Background(), q.dir, q.opts)
			if !slices.ContainsFunc(findings, func(f Finding) bool { return f.Name == folder && f.Violation }) {
				t.Errorf("Verify findings %+v do not flag the %s symlink", findings, folder)
			}
		})
	}
}

// Spec R21, R22: a Unix socket or a FIFO under a pending name (opening a
// socket fails with ENXIO; opening a FIFO may block) is moved aside or
// left alone, never deleted, and does not stop the drain.
func TestHostileSpecialFilePending(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"fifo", "socket"} {
		t.Run(kind, func(t *testing.T) {
			q, dir := openTest(t, Options{})
			before := mustAppend(t, q, sampleRecord(0, "before"))
			id := newULID(t)
			name := pendingName(id.String())
			p := filepath.Join(dir, name)
			switch kind {
			case "fifo":
				if err := unix.Mkfifo(p, 0o600); err != nil {
					t.Skip("mkfifo:", err)
				}
			case "socket":
				fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
				if err != nil {
					t.Skip("socket:", err)
				}
				defer unix.Close(fd)
				if err := unix.Bind(fd, &unix.SockaddrUnix{Name: p}); err != nil {
					t.Skip("bind:", err)
				}
			}
			after := mustAppend(t, q, sampleRecord(1, "after"))
			// BUG(lead): opening a socket fails with ENXIO, which
			// readPending (queue/ingest.go:244) does not turn into
			// ErrUnsafeFile (only ELOOP), so Ingest returns the error
			// at the socket on every pass and the records behind it
			// are never delivered. Ingest's listing already knows the
			// entry is not a regular file (TypeOther): quarantining it
			// without opening it would fix this, and avoid the side
			// effects of opening a device (a tty, a tape, a watchdog).
			for pass := range 2 {
				seen, _ := drainGuarded(t, q)
				if pass == 0 && (!delivered(seen, before) || !delivered(seen, after)) {
					var got []ulid.ULID
					for _, d := range seen {
						got = append(got, d.ULID)
					}
					t.Errorf("delivered %v, want %s and %s around the %s", got, before, after, kind)
				}
			}
			fi, err := os.Lstat(p)
			if err != nil {
				fi, err = os.Lstat(filepath.Join(dir, quarantineDir, name))
			}
			if err != nil || fi.Mode().IsRegular() {
				t.Errorf("the %s is gone: %v", kind, err)
			}
		})
	}
}
