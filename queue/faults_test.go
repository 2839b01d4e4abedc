//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package queue

// Error paths (spec R8, R10): every file-system step of Append and Ingest
// failing with every errno that a full disk, a quota, a descriptor limit or
// a dying disk produces, through the fault seam, and a real full disk on a
// small tmpfs.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/capq/capq/internal/fsys"
	"github.com/capq/capq/ulid"
	"golang.org/x/sys/unix"
)

var faultErrnos = []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT, syscall.EMFILE, syscall.EIO}

// dirNames returns the sorted names in dir.
func dirNames(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// assertClean fails t unless the queue holds exactly the records want,
// with no tmp file, no lock file and no Verify finding.
func assertClean(t testing.TB, q *Queue, dir string, want ...ulid.ULID) {
	t.Helper()
	got, err := q.List()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}
	if n := mustCount(t, q); n != len(want) {
		t.Errorf("Count = %d, want %d", n, len(want))
	}
	for _, name := range dirNames(t, dir) {
		if k, _ := classify([]byte(name)); k != kindPending && k != kindAudit && k != kindQuarantine && k != kindDeadLetter && k != kindSpare {
			t.Errorf("left behind: %s", name)
		}
	}
	fs, err := Verify(context.Background(), q.dir, q.opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 0 {
		t.Errorf("Verify findings: %+v", fs)
	}
}

// isName matches file names with the given suffix.
func isName(suffix string) func(string) bool {
	return func(name string) bool { return strings.HasSuffix(name, suffix) }
}

// Spec R8, R10: every step of Append failing with every errno gives an
// *OpError naming the step and wrapping the errno (and ErrSync for an
// fsync), leaves no pending and no tmp file, and the queue works once the
// fault is gone. A failed fsync is never retried.
func TestAppendFaults(t *testing.T) {
	t.Parallel()
	steps := []struct {
		op    fsys.Op
		match func(string) bool
		short bool
		step  string
	}{
		{fsys.OpOpen, isName(tmpSuffix), false, "create"},
		{fsys.OpWrite, isName(tmpSuffix), false, "write"},
		{fsys.OpWrite, isName(tmpSuffix), true, "write"}, // half the envelope reached the file
		{fsys.OpSync, isName(tmpSuffix), false, "fsync"},
		{fsys.OpClose, isName(tmpSuffix), false, "close"},
		{fsys.OpRename, nil, false, "rename"},
		{fsys.OpSyncDir, nil, false, "fsync-dir"},
	}
	for _, st := range steps {
		for _, errno := range faultErrnos {
			name := fmt.Sprintf("%s/%s", st.op, unix.ErrnoName(errno))
			if st.short {
				name = fmt.Sprintf("%s-short/%s", st.op, unix.ErrnoName(errno))
			}
			t.Run(name, func(t *testing.T) {
				q, dir, f := openFault(t, Options{})
				f.Reset()
				f.Inject(fsys.Rule{Op: st.op, Match: st.match, Times: 1, Err: errno, Short: st.short})
				id, err := q.Append(sampleRecord(0, ""))
				if err == nil {
					t.Fatalf("Append succeeded (%s) with a failing %s", id, st.op)
				}
				if !errors.Is(err, errno) {
					t.Errorf("err = %v, want it to wrap %v", err, unix.ErrnoName(errno))
				}
				var oe *OpError
				if !errors.As(err, &oe) || oe.Op != "append" || oe.Step != st.step {
					t.Errorf("err = %#v, want *OpError{Op: append, Step: %s}", err, st.step)
				}
				if isSync := st.op == fsys.OpSync || st.op == fsys.OpSyncDir; errors.Is(err, ErrSync) != isSync {
					t.Errorf("errors.Is(err, ErrSync) = %v for a failing %s", !isSync, st.op)
				}
				if st.op == fsys.OpSync && f.Calls(fsys.OpSync) != 1 {
					t.Errorf("the failed fsync was retried: %d fsyncs", f.Calls(fsys.OpSync))
				}
				assertClean(t, q, dir)

				f.Reset()
				id = mustAppend(t, q, sampleRecord(1, "after"))
				assertClean(t, q, dir, id)
				var seen []Delivery
				if _, err := q.Ingest(context.Background(), collect(&seen), IngestOptions{}); err != nil {
					t.Fatal(err)
				}
				if len(seen) != 1 || surface(t, seen[0]) != "after" {
					t.Errorf("deliveries after recovery: %v", seen)
				}
			})
		}
	}
}

// Spec R51, R10: a failure anywhere in an AppendBatch fails exactly the
// records it touches, with every errno: a failed create, write, fsync,
// close or rename fails its record alone; a failed syncfs fails every
// record it was to make durable; a failed directory fsync fails every
// renamed record, which is removed again. The other records are pending,
// the failed ones leave no pending or tmp file, AppendBatch returns a
// *BatchError whose Errs say which, and zero ULIDs in their places. Run
// with syncfs and, where the file system says it has none, with
// concurrent fsyncs.
func TestAppendBatchFaultFailsTouched(t *testing.T) {
	t.Parallel()
	const n = 5
	all := []int{0, 1, 2, 3, 4}
	for _, tc := range []struct {
		name   string
		rule   fsys.Rule
		noSync bool // SyncFS unsupported: each file is fsynced
		step   string
		failed []int
	}{
		{"create-3", fsys.Rule{Op: fsys.OpOpen, Match: isName(tmpSuffix), After: 3}, false, "create", []int{3}},
		{"write-4", fsys.Rule{Op: fsys.OpWrite, After: 4}, false, "write", []int{4}},
		{"write-short-1", fsys.Rule{Op: fsys.OpWrite, After: 1, Short: true}, false, "write", []int{1}},
		{"syncfs", fsys.Rule{Op: fsys.OpSyncFS}, false, "fsync", all},
		{"fsync-2", fsys.Rule{Op: fsys.OpSync}, true, "fsync", []int{2}}, // Match set below
		{"close-1", fsys.Rule{Op: fsys.OpClose, Match: isName(tmpSuffix), After: 1}, false, "close", []int{1}},
		{"rename-0", fsys.Rule{Op: fsys.OpRename}, false, "rename", []int{0}},
		{"rename-4", fsys.Rule{Op: fsys.OpRename, After: 4}, false, "rename", []int{4}},
		{"fsync-dir", fsys.Rule{Op: fsys.OpSyncDir}, false, "fsync-dir", all},
		{"fsync-dir-fallback", fsys.Rule{Op: fsys.OpSyncDir}, true, "fsync-dir", all},
	} {
		for _, errno := range faultErrnos {
			t.Run(tc.name+"/"+unix.ErrnoName(errno), func(t *testing.T) {
				q, dir, f := openFault(t, Options{})
				keep := mustAppend(t, q, sampleRecord(9, "kept"))
				f.Reset()
				if tc.noSync {
					f.Inject(fsys.Rule{Op: fsys.OpSyncFS, Err: errors.ErrUnsupported})
				}
				rule := tc.rule
				rule.Times, rule.Err = 1, errno
				want := tc.failed
				var third string
				if tc.name == "fsync-2" {
					// Concurrent fsyncs run in any order: fail the
					// fsync of the third record's file, by its name.
					rule.Match = func(name string) bool { return third != "" && name == third }
					var opens int
					f.SetHook(func(c fsys.Call) error {
						if c.Op == fsys.OpOpen && strings.HasSuffix(c.Name, tmpSuffix) {
							if opens++; opens == 3 {
								third = c.Name
							}
						}
						return nil
					})
				}
				f.Inject(rule)
				recs := make([][]byte, n)
				for i := range recs {
					recs[i] = sampleRecord(i, "")
				}
				ids, err := q.AppendBatch(recs)
				var be *BatchError
				if !errors.As(err, &be) {
					t.Fatalf("AppendBatch = %v, %v; want a *BatchError", ids, err)
				}
				if !errors.Is(err, errno) {
					t.Errorf("err = %v, want it to wrap %s", err, unix.ErrnoName(errno))
				}
				if got := be.failed(); !slices.Equal(got, want) {
					t.Errorf("failed records = %v, want %v (%v)", got, want, err)
				}
				if len(ids) != n {
					t.Fatalf("%d ULIDs for %d records", len(ids), n)
				}
				pending := []ulid.ULID{keep}
				for i, e := range be.Errs {
					var oe *OpError
					switch {
					case e == nil:
						if ids[i].IsZero() {
							t.Errorf("record %d appended with a zero ULID", i)
						}
						pending = append(pending, ids[i])
					case !errors.As(e, &oe) || oe.Step != tc.step:
						t.Errorf("record %d: %v, want an *OpError of step %s", i, e, tc.step)
					case !ids[i].IsZero():
						t.Errorf("failed record %d has ULID %s, want the zero ULID", i, ids[i])
					}
				}
				f.Reset()
				assertClean(t, q, dir, pending...)
			})
		}
	}
}

// Spec R10, R11, R33: every step of Ingest failing with every errno. The
// error (or, for a step of one record, the problem reported while the
// drain goes on) is an *OpError naming the step and wrapping the errno; no record is lost
// or half-delivered; once the fault is gone the rest drains, and the
// attempt count says whether the handler saw the record before.
func TestIngestFaults(t *testing.T) {
	t.Parallel()
	steps := []struct {
		op    fsys.Op
		match func(string) bool
		step  string
		// seen: the handler saw the faulted record before the failure,
		// so its next delivery is a second attempt.
		seen bool
		// perRecord: the fault concerns that record only; the drain
		// goes on and reports it (R33).
		perRecord bool
	}{
		{fsys.OpOpen, isName(lockSuffix), "lock", false, true},
		{fsys.OpFlock, isName(lockSuffix), "lock", false, true},
		{fsys.OpOpen, isName(pendingSuffix), "open", false, true},
		{fsys.OpRead, isName(pendingSuffix), "read", false, true},
		{fsys.OpRemove, isName(pendingSuffix), "unlink", true, false},
		{fsys.OpSyncDir, nil, "fsync-dir", true, false},
	}
	for _, st := range steps {
		for _, errno := range faultErrnos {
			t.Run(fmt.Sprintf("%s-%s/%s", st.op, st.step, unix.ErrnoName(errno)), func(t *testing.T) {
				q, dir, f := openFault(t, Options{})
				var ids []ulid.ULID
				for i := range 3 {
					ids = append(ids, mustAppend(t, q, sampleRecord(i, "")))
				}
				f.Reset()
				// Fail the second record's step (the only directory
				// fsync of a 3-record drain comes at its end).
				after := 1
				if st.op == fsys.OpSyncDir {
					after = 0
				}
				f.Inject(fsys.Rule{Op: st.op, Match: st.match, After: after, Times: 1, Err: errno})
				var first []Delivery
				res, err := q.Ingest(context.Background(), collect(&first), IngestOptions{})
				if st.perRecord {
					// Spec R33: a problem with one record leaves that
					// record, reported, and the drain goes on.
					if err != nil || res.Left != 1 || res.Delivered != 2 || len(res.Problems) != 1 {
						t.Fatalf("Ingest = %+v, %v with a failing %s; want 2 delivered, 1 left and reported", res, err, st.op)
					}
					err = res.Problems[0].Err
				} else if err == nil {
					t.Fatalf("Ingest = %+v with a failing %s", res, st.op)
				}
				if !errors.Is(err, errno) {
					t.Errorf("err = %v, want it to wrap %s", err, unix.ErrnoName(errno))
				}
				var oe *OpError
				if !errors.As(err, &oe) || oe.Op != "ingest" || oe.Step != st.step {
					t.Errorf("err = %v, want *OpError{Op: ingest, Step: %s}", err, st.step)
				}
				if errors.Is(err, ErrSync) != (st.op == fsys.OpSyncDir) {
					t.Errorf("errors.Is(err, ErrSync) = %v", !(st.op == fsys.OpSyncDir))
				}
				// Nothing half-visible: whatever was not delivered is
				// pending, and nothing is both.
				left, _ := q.List()
				for _, d := range first {
					if slices.Contains(left, d.ULID) && !(st.seen && d.ULID == ids[1]) {
						t.Errorf("%s delivered and still pending", d.ULID)
					}
				}

				f.Reset()
				var second []Delivery
				if _, err := q.Ingest(context.Background(), collect(&second), IngestOptions{}); err != nil {
					t.Fatalf("Ingest after the fault: %v", err)
				}
				got := map[ulid.ULID]int{}
				for _, d := range append(first, second...) {
					got[d.ULID]++
				}
				for _, id := range ids {
					if got[id] == 0 {
						t.Errorf("%s never delivered", id)
					}
				}
				for _, d := range second {
					want := 1
					if st.seen && st.op != fsys.OpSyncDir && d.ULID == ids[1] {
						want = 2
					}
					if d.Attempt != want {
						// A failed claim must not leave behind a lock
						// file it created: the next delivery would
						// report an attempt the handler never saw
						// (fixed in 9cf068d, CreateLocked).
						t.Errorf("redelivery of %s has Attempt %d, want %d", d.ULID, d.Attempt, want)
					}
				}
				assertClean(t, q, dir)
			})
		}
	}
}

// Spec R21, R10: when the quarantine folder cannot be examined (Lstat of
// the destination fails with EIO), quarantining gives up with the error
// instead of probing names forever, and the corrupt file stays where it
// was.
func TestQuarantineLstatErrorDoesNotSpin(t *testing.T) {
	t.Parallel()
	q, dir, f := openFault(t, Options{})
	id := newULID(t)
	name := pendingName(id.String())
	writeRaw(t, filepath.Join(dir, name), "not json")
	// Fail the first 1000 probes, then let them through, so that a loop
	// that retries forever ends (and is counted) instead of hanging.
	var probes int
	f.SetHook(func(c fsys.Call) error {
		if c.Op == fsys.OpLstat && strings.HasPrefix(c.Name, quarantineDir+"/") {
			probes++
			if probes <= 1000 {
				return syscall.EIO
			}
		}
		return nil
	})
	var seen []Delivery
	res, err := q.Ingest(context.Background(), collect(&seen), IngestOptions{})
	// Regression: quarantine used to probe name.1, name.2, ... until
	// Lstat said ENOENT, so any other error (EIO, EACCES, every call
	// after a power cut) hung Ingest. TestPowerCutAtEveryStepOfIngest
	// found it.
	if probes > 10 {
		t.Errorf("quarantine probed %d destination names on EIO, want it to give up", probes)
	}
	// Spec R33: the quarantine is switched off for the drain, the file
	// stays, and the failure is reported.
	if err != nil || res.Left != 1 || len(res.Problems) != 1 || !errors.Is(res.Problems[0].Err, syscall.EIO) {
		t.Errorf("Ingest = %+v, %v, want the file left and the EIO of the failed probe reported", res, err)
	}
	kept := exists(t, filepath.Join(dir, name))
	if ents, err := os.ReadDir(filepath.Join(dir, quarantineDir)); err == nil {
		for _, e := range ents {
			kept = kept || strings.HasPrefix(e.Name(), name)
		}
	}
	if !kept {
		t.Error("the corrupt file is gone")
	}
}

// Spec R51, R49: in a batch larger than one chunk of files, a failed
// syncfs fails the records of its chunk only: the next chunk's files are
// created after the failure, which cannot concern them.
func TestAppendBatchSyncFSFailureFailsItsChunk(t *testing.T) {
	_, f, q := openMemFault(t, Options{})
	n := batchChunk + 10
	recs := make([][]byte, n)
	for i := range recs {
		recs[i] = sampleRecord(i, "")
	}
	f.Inject(fsys.Rule{Op: fsys.OpSyncFS, Times: 1, Err: syscall.EIO})
	ids, err := q.AppendBatch(recs)
	var be *BatchError
	if !errors.As(err, &be) {
		t.Fatalf("AppendBatch = %v; want a *BatchError", err)
	}
	want := make([]int, batchChunk)
	for i := range want {
		want[i] = i
	}
	if got := be.failed(); !slices.Equal(got, want) {
		t.Errorf("failed records = %d of them (first %v), want the first chunk's %d", len(got), got[:min(3, len(got))], batchChunk)
	}
	list, err := q.List()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(list, ids[batchChunk:]) {
		t.Errorf("pending = %d records, want the second chunk's %d", len(list), n-batchChunk)
	}
}

// A BatchError's message counts the failed records and names the first
// error; failed and Unwrap list the failed records in batch order, and a
// batch without a failure (never returned, but a value a caller can build)
// neither panics nor lists anything.
func TestBatchErrorMethods(t *testing.T) {
	t.Parallel()
	one, two := errors.New("one"), errors.New("two")
	for _, tc := range []struct {
		errs   []error
		failed []int
		msg    string
	}{
		{[]error{nil, one, nil, two}, []int{1, 3}, "capq: append: 2 of 4 records not appended; first: one"},
		{[]error{two}, []int{0}, "capq: append: 1 of 1 records not appended; first: two"},
		{[]error{nil, nil}, nil, "capq: append: 0 of 2 records not appended; first: <nil>"},
	} {
		be := &BatchError{Errs: tc.errs}
		if got := be.Error(); got != tc.msg {
			t.Errorf("%v: Error() = %q, want %q", tc.errs, got, tc.msg)
		}
		if got := be.failed(); !slices.Equal(got, tc.failed) {
			t.Errorf("%v: failed() = %v, want %v", tc.errs, got, tc.failed)
		}
		var want []error
		for _, i := range tc.failed {
			want = append(want, tc.errs[i])
		}
		if got := be.Unwrap(); !slices.Equal(got, want) {
			t.Errorf("%v: Unwrap() = %v, want %v", tc.errs, got, want)
		}
		if len(tc.failed) > 0 && !errors.Is(be, tc.errs[tc.failed[0]]) {
			t.Errorf("%v: errors.Is does not see the first failure", tc.errs)
		}
	}
}
