//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package queue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/capq/capq/internal/fsys"
	"github.com/capq/capq/ulid"
)

// Spec R33: a broken side path (a regular file where the quarantine or
// dead-letter folder belongs) switches that side path off for the drain;
// the record that needed it stays where it is, reported, and the good
// records behind it are delivered.
func TestSidePathBrokenDrainGoesOn(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		folder      string
		maxAttempts int
	}{
		{quarantineDir, 0},
		{deadLetterDir, 1},
	} {
		t.Run(tt.folder, func(t *testing.T) {
			q, dir := openTest(t, Options{})
			writeRaw(t, filepath.Join(dir, tt.folder), "a file where a folder belongs")
			var bad []ulid.ULID
			var h Handler
			var seen []Delivery
			if tt.folder == quarantineDir {
				for range 2 {
					id := newULID(t)
					writeRaw(t, filepath.Join(dir, pendingName(id.String())), "not json")
					bad = append(bad, id)
				}
				h = collect(&seen)
			} else {
				for i := range 2 {
					bad = append(bad, mustAppend(t, q, sampleRecord(i, "")))
				}
				h = failing(&seen, bad...)
			}
			var good []ulid.ULID
			for i := range 3 {
				good = append(good, mustAppend(t, q, sampleRecord(10+i, "")))
			}
			res, err := q.Ingest(context.Background(), h, IngestOptions{MaxAttempts: tt.maxAttempts})
			if err != nil {
				t.Fatalf("Ingest = %v, want the drain to go on", err)
			}
			if res.Delivered != len(good) || res.Left != len(bad) || len(res.Problems) != len(bad) {
				t.Errorf("Ingest = %+v, want %d delivered and %d left", res, len(good), len(bad))
			}
			for _, p := range res.Problems {
				if !errors.Is(p.Err, ErrUnsafeFile) {
					t.Errorf("problem %v does not wrap ErrUnsafeFile", p)
				}
			}
			// A record after the side path was switched off says it was
			// skipped and names the record whose failure did it, rather
			// than repeat that failure as its own (found by the second
			// outside tester of #14).
			first := pendingName(bad[0].String())
			for i, p := range res.Problems {
				skipped := strings.Contains(p.Err.Error(), "skipped, the ")
				if want := i > 0; skipped != want || (want && !strings.Contains(p.Err.Error(), "switched off by the failure on "+first)) {
					t.Errorf("problem %d: %v; want skipped = %v, naming %s", i, p, want, first)
				}
			}
			for _, id := range bad {
				if !exists(t, filepath.Join(dir, pendingName(id.String()))) {
					t.Errorf("%s left its place (nothing may be deleted)", id)
				}
			}
			if b, err := os.ReadFile(filepath.Join(dir, tt.folder)); err != nil || string(b) != "a file where a folder belongs" {
				t.Errorf("the file at %s changed: %q, %v", tt.folder, b, err)
			}
		})
	}
}

// Spec R35: an attempt count in a lock file beyond any int saturates; the
// record is dead-lettered with MaxAttempts instead of overflowing, and a
// MaxAttempts above the saturation point is reached there, so that one
// limit behaves the same on 32-bit and 64-bit builds (R48).
func TestAttemptSaturates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		history     string
		maxAttempts int
	}{
		{"9223372036854775807", 5},
		{"99999999999999999999999", 5},
		{"2147483647", 5},
		{"2147483646", maxAttempt},
		{"2147483646", math.MaxInt},
		{"99999999999999999999999", math.MaxInt},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.history, "/", tt.maxAttempts), func(t *testing.T) {
			q, dir := openTest(t, Options{})
			id := mustAppend(t, q, sampleRecord(0, ""))
			writeRaw(t, filepath.Join(dir, lockName(id.String())), `{"attempt":`+tt.history+`}`+"\n")
			var seen []Delivery
			res, err := q.Ingest(context.Background(), failing(&seen, id), IngestOptions{MaxAttempts: tt.maxAttempts})
			if err != nil || res.DeadLettered != 1 {
				t.Fatalf("Ingest = %+v, %v; want the record dead-lettered", res, err)
			}
			if len(seen) != 1 || seen[0].Attempt != maxAttempt {
				t.Errorf("deliveries %+v, want one with Attempt %d", seen, maxAttempt)
			}
		})
	}
}

// Spec R35: a history past the read limit still counts every attempt (it is
// read from its end), the next failures compact it, and MaxAttempts is
// reached.
func TestHistoryBoundedAndMaxAttemptsReachable(t *testing.T) {
	t.Parallel()
	q, dir := openTest(t, Options{})
	id := mustAppend(t, q, sampleRecord(0, ""))
	var b strings.Builder
	for i := 1; b.Len() < maxHistory*2; i++ {
		fmt.Fprintf(&b, `{"attempt":%d,"failed":"t","error":"%s"}`+"\n", i, strings.Repeat("e", 200))
	}
	lock := filepath.Join(dir, lockName(id.String()))
	writeRaw(t, lock, b.String())
	lines := strings.Count(b.String(), "\n")
	var seen []Delivery
	res, err := q.Ingest(context.Background(), failing(&seen, id), IngestOptions{MaxAttempts: lines + 2})
	if err != nil || len(seen) != 1 || seen[0].Attempt != lines+1 {
		t.Fatalf("Ingest = %+v, %v, deliveries %+v; want attempt %d", res, err, seen, lines+1)
	}
	fi, err := os.Stat(lock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > historyCompactAt {
		t.Errorf("lock file of %d bytes after a claim, want it compacted under %d", fi.Size(), historyCompactAt)
	}
	res, err = q.Ingest(context.Background(), failing(&seen, id), IngestOptions{MaxAttempts: lines + 2})
	if err != nil || res.DeadLettered != 1 || seen[len(seen)-1].Attempt != lines+2 {
		t.Errorf("second Ingest = %+v, %v, last attempt %d; want dead-lettered at attempt %d", res, err, seen[len(seen)-1].Attempt, lines+2)
	}
}

// Spec R34: a handler error wrapping ErrNotHandlerFault releases the record
// without using an attempt, and the drain goes on.
func TestNotHandlerFaultChargesNoAttempt(t *testing.T) {
	t.Parallel()
	q, _ := openTest(t, Options{})
	a := mustAppend(t, q, sampleRecord(0, ""))
	b := mustAppend(t, q, sampleRecord(1, ""))
	for round := range 3 {
		var seen []Delivery
		res, err := q.Ingest(context.Background(), func(_ context.Context, d Delivery) error {
			seen = append(seen, d)
			if d.ULID == a {
				return fmt.Errorf("%w: fork: resource temporarily unavailable", ErrNotHandlerFault)
			}
			return errors.New("handler failed")
		}, IngestOptions{MaxAttempts: 2})
		if err != nil || res.Left != 1 || !problemIs(res.Problems, ErrNotHandlerFault) {
			t.Fatalf("round %d: Ingest = %+v, %v", round, res, err)
		}
		for _, d := range seen {
			if d.ULID == a && d.Attempt != 1 {
				t.Errorf("round %d: %s delivered with Attempt %d after releases only, want 1", round, a, d.Attempt)
			}
		}
	}
	// b failed twice (rounds 0 and 1) and was dead-lettered; a, never
	// charged, is still pending.
	if dl, _ := q.DeadLetters(); len(dl) != 1 || dl[0] != b {
		t.Errorf("dead letters %v, want only %s", dl, b)
	}
	if ids, _ := q.List(); len(ids) != 1 || ids[0] != a {
		t.Errorf("pending %v, want only %s", ids, a)
	}
}

// Spec R36: dead-lettering a record whose ULID already has a dead letter
// keeps both, with both histories; RequeueAll requeues what it can and
// reports the rest.
func TestDeadLetterNeverOverwrites(t *testing.T) {
	t.Parallel()
	q, dir := openTest(t, Options{})
	id := mustAppend(t, q, sampleRecord(0, ""))
	var seen []Delivery
	if res, err := q.Ingest(context.Background(), failing(&seen, id), IngestOptions{MaxAttempts: 1}); err != nil || res.DeadLettered != 1 {
		t.Fatalf("Ingest = %+v, %v", res, err)
	}
	first, err := os.ReadFile(filepath.Join(dir, deadLetterDir, pendingName(id.String())))
	if err != nil {
		t.Fatal(err)
	}
	// The same ULID appears again (restored from a backup, say).
	writeEnvelopeDirectly(t, dir, id.String(), []byte(`{"second":true}`), 1, "")
	if res, err := q.Ingest(context.Background(), failing(&seen, id), IngestOptions{MaxAttempts: 1}); err != nil || res.DeadLettered != 1 {
		t.Fatalf("second Ingest = %+v, %v", res, err)
	}
	again, err := os.ReadFile(filepath.Join(dir, deadLetterDir, pendingName(id.String())))
	if err != nil || string(again) != string(first) {
		t.Errorf("the first dead letter was replaced: %q", again)
	}
	second, err := os.ReadFile(filepath.Join(dir, deadLetterDir, pendingName(id.String())+".1"))
	if err != nil || !strings.Contains(string(second), `"second":true`) {
		t.Errorf("the second dead letter is not kept beside it: %q, %v", second, err)
	}
	for _, h := range []string{pendingPrefix + id.String() + historySuffix, pendingPrefix + id.String() + historySuffix + ".1"} {
		if !exists(t, filepath.Join(dir, deadLetterDir, h)) {
			t.Errorf("history %s missing", h)
		}
	}
	// RequeueAll goes past odd entries: a directory under a dead-letter
	// name, then the real dead letter.
	odd := newULID(t)
	if err := os.Mkdir(filepath.Join(dir, deadLetterDir, pendingName(odd.String())), 0o700); err != nil {
		t.Fatal(err)
	}
	later := mustAppend(t, q, sampleRecord(1, ""))
	if _, err := q.Ingest(context.Background(), failing(&seen, later), IngestOptions{MaxAttempts: 1}); err != nil {
		t.Fatal(err)
	}
	n, err := q.RequeueAll(context.Background())
	if n != 2 || !errors.Is(err, ErrUnsafeFile) {
		t.Errorf("RequeueAll = %d, %v; want 2 requeued and the directory reported", n, err)
	}
}

// Spec R33, R10: a failed fsync of a dead letter's history wraps ErrSync
// (the one durable-write helper names the step), leaves the record pending
// with its history, and the drain goes on.
func TestDeadLetterHistorySyncFailure(t *testing.T) {
	q, dir, f := openFault(t, Options{})
	bad := mustAppend(t, q, sampleRecord(0, ""))
	good := mustAppend(t, q, sampleRecord(1, ""))
	f.Inject(fsys.Rule{Op: fsys.OpSync, Match: func(n string) bool { return strings.Contains(n, historySuffix+".") && strings.HasSuffix(n, ".tmp") }, Times: 1, Err: syscall.EIO})
	var seen []Delivery
	res, err := q.Ingest(context.Background(), failing(&seen, bad), IngestOptions{MaxAttempts: 1})
	if err != nil || res.Delivered != 1 || res.Left != 1 || len(res.Problems) != 1 {
		t.Fatalf("Ingest = %+v, %v; want %s delivered and %s left", res, err, good, bad)
	}
	if p := res.Problems[0].Err; !errors.Is(p, ErrSync) || !errors.Is(p, syscall.EIO) {
		t.Errorf("problem %v, want ErrSync wrapping EIO", p)
	}
	if !exists(t, filepath.Join(dir, pendingName(bad.String()))) || !exists(t, filepath.Join(dir, lockName(bad.String()))) {
		t.Error("the record or its lock file (its history) is gone")
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, deadLetterDir)); len(ents) != 0 {
		t.Errorf("dead-letter folder holds %v after the failed write", ents)
	}
}

// Spec R32: out of inodes, a drain and a prune still free space: claims
// turn spare files into lock files. A tmpfs with few inodes is filled with
// records until no file can be created.
func TestDrainAndPruneOutOfInodes(t *testing.T) {
	skipWithoutNoReplace(t)
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	for _, op := range []string{"ingest", "prune"} {
		t.Run(op, func(t *testing.T) {
			dir := filepath.Join(tmpfsMount(t, "size=4m,nr_inodes=64,mode=0700"), "q")
			q, err := Open(dir, Options{MaxSize: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			// Open alone creates the spares while there is room: a
			// queue that only producers used has its reserve too.
			if n := countSpares(t, dir); n != defaultSpareLocks {
				t.Fatalf("%d spares after Open, want %d", n, defaultSpareLocks)
			}
			var ids []ulid.ULID
			for {
				id, err := q.Append(sampleRecord(len(ids), ""))
				if err != nil {
					if !isNoSpace(err) {
						t.Fatal(err)
					}
					break
				}
				ids = append(ids, id)
			}
			if len(ids) < 10 {
				t.Fatalf("only %d records fit", len(ids))
			}
			if f, err := os.Create(filepath.Join(dir, "probe")); err == nil || !isNoSpace(err) {
				f.Close()
				t.Fatalf("the file system is not out of inodes: %v", err)
			}
			switch op {
			case "ingest":
				var seen []Delivery
				res, err := q.Ingest(context.Background(), collect(&seen), IngestOptions{})
				if err != nil || res.Delivered != len(ids) {
					t.Fatalf("Ingest out of inodes = %+v, %v; want all %d delivered", res, err, len(ids))
				}
			case "prune":
				res, err := q.Prune(context.Background(), 0)
				if err != nil || res.Dropped != len(ids) {
					t.Fatalf("Prune out of inodes = %+v, %v; want all %d dropped", res, err, len(ids))
				}
			}
			if n := mustCount(t, q); n != 0 {
				t.Errorf("%d records left", n)
			}
			st, err := q.Stats(context.Background())
			if n := countSpares(t, dir); err != nil || n != defaultSpareLocks || st.Locks != 0 {
				t.Errorf("after the %s: %d spares, Stats = %+v, %v; want the spares restored and no lock left", op, n, st, err)
			}
		})
	}
}

// Spec R31, R22: a folder of the queue renamed out of the queue after capq
// opened it, and replaced by a new directory, is never written through
// the descriptor capq held: the next quarantine goes into the new folder.
func TestFolderMovedOutAfterUse(t *testing.T) {
	q, dir := openTest(t, Options{})
	first := newULID(t)
	writeRaw(t, filepath.Join(dir, pendingName(first.String())), "junk")
	if res, err := q.Ingest(context.Background(), collect(new([]Delivery)), IngestOptions{}); err != nil || res.Quarantined != 1 {
		t.Fatalf("Ingest = %+v, %v", res, err)
	}
	outside := filepath.Join(t.TempDir(), "moved")
	if err := os.Rename(filepath.Join(dir, quarantineDir), outside); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, quarantineDir), 0o700); err != nil {
		t.Fatal(err)
	}
	second := newULID(t)
	writeRaw(t, filepath.Join(dir, pendingName(second.String())), "junk")
	if res, err := q.Ingest(context.Background(), collect(new([]Delivery)), IngestOptions{}); err != nil || res.Quarantined != 1 {
		t.Fatalf("Ingest = %+v, %v", res, err)
	}
	if exists(t, filepath.Join(outside, pendingName(second.String()))) {
		t.Fatal("the second file was moved out of the queue through the old folder's descriptor")
	}
	if !exists(t, filepath.Join(dir, quarantineDir, pendingName(second.String()))) {
		t.Error("the second file is not in the new quarantine folder")
	}
}

// Spec R32: on a disk without a free block, a prune still writes the audit
// lines it needs before it deletes (a reserve kept past the end of the
// log) and frees space.
func TestPruneOnFullDisk(t *testing.T) {
	skipWithoutNoReplace(t)
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	// Never pruned: the log does not exist yet, and spare 0's reserve
	// (made by Open) must become the log's.
	t.Run("never pruned", func(t *testing.T) { pruneOnFullDisk(t, false) })
	t.Run("pruned before", func(t *testing.T) { pruneOnFullDisk(t, true) })
}

// hundredOnTmpfs opens a queue without a MaxSize on a fresh 2 MiB tmpfs
// and appends 100 records: the start of the full-disk prune tests. It
// returns the queue, its directory and the mount point.
func hundredOnTmpfs(t *testing.T) (*Queue, string, string) {
	t.Helper()
	mnt := tmpfsMount(t, "size=2m,mode=0700")
	dir := filepath.Join(mnt, "q")
	q, err := Open(dir, Options{MaxSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	for i := range 100 {
		mustAppend(t, q, sampleRecord(i, ""))
	}
	return q, dir, mnt
}

func pruneOnFullDisk(t *testing.T, prunedBefore bool) {
	q, _, mnt := hundredOnTmpfs(t)
	want := 100
	if prunedBefore {
		if res, err := q.Prune(context.Background(), 99); err != nil || res.Dropped != 1 {
			t.Fatalf("first Prune = %+v, %v", res, err)
		}
		want = 99
	}
	fillDisk(t, filepath.Join(mnt, "filler"))
	res, err := q.Prune(context.Background(), 0)
	if err != nil || res.Dropped != want {
		t.Fatalf("Prune on a full disk = %+v, %v; want all %d dropped", res, err, want)
	}
	entries, err := auditAll(q)
	if err != nil || len(entries) != 100 {
		t.Errorf("audit log: %d entries, %v; want a line for each of the 100 records dropped", len(entries), err)
	}
}

// Spec R20, R32: a prune whose audit lines do not fit (a full disk, no
// reserve left) fails without leaving readable lines for drops that did
// not happen: the lines it wrote are cut off again, and what the log says
// stays what happened.
func TestPruneAuditLinesCutBack(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	q, dir, mnt := hundredOnTmpfs(t)
	if res, err := q.Prune(context.Background(), 99); err != nil || res.Dropped != 1 {
		t.Fatalf("first Prune = %+v, %v", res, err)
	}
	// Take the reserve away: the log rewritten as a new file without
	// reserved blocks, the spares gone. The log's one line leaves most of
	// its page free, so a part of the next prune's lines fits.
	logPath := filepath.Join(dir, auditLogName)
	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(logPath)
	if err := os.WriteFile(logPath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	for i := range defaultSpareLocks {
		os.Remove(filepath.Join(dir, spareName(i)))
	}
	filler := filepath.Join(mnt, "filler")
	fillDisk(t, filler)
	res, err := q.Prune(context.Background(), 0)
	if err == nil || res.Dropped != 0 {
		t.Fatalf("Prune with no room for its lines = %+v, %v; want an error and nothing dropped", res, err)
	}
	raw, _ := os.ReadFile(logPath)
	if !bytes.Equal(raw, data) {
		t.Errorf("after the failed prune the log holds %d bytes (%d lines), want its %d bytes before: lines of drops that did not happen", len(raw), bytes.Count(raw, []byte("\n")), len(data))
	}
	os.Remove(filler)
	if res, err := q.Prune(context.Background(), 0); err != nil || res.Dropped != 99 {
		t.Fatalf("Prune with room = %+v, %v; want 99 dropped", res, err)
	}
	if entries, err := auditAll(q); err != nil || len(entries) != 100 {
		t.Errorf("audit log: %d entries, %v; want one line per drop (100)", len(entries), err)
	}
}

// Spec R20, R33: a quarantine move that fails (here EXDEV: quarantine/
// is another file system) leaves no audit line saying the file is in
// quarantine/: the line written before the move is taken back.
func TestFailedMoveLeavesNoAuditLine(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	q, dir := openTest(t, Options{})
	qdir := filepath.Join(dir, quarantineDir)
	if err := os.Mkdir(qdir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := mountTmpfs(t, qdir, "size=1m,mode=0700"); err != nil {
		t.Skipf("cannot mount a tmpfs (%v)", err)
	}
	bad := newULID(t)
	writeRaw(t, filepath.Join(dir, pendingName(bad.String())), "junk")
	for range 2 {
		res, err := q.Ingest(context.Background(), collect(new([]Delivery)), IngestOptions{})
		if err != nil || res.Quarantined != 0 || res.Left != 1 {
			t.Fatalf("Ingest = %+v, %v; want the corrupt record left", res, err)
		}
	}
	if entries, err := auditAll(q); err != nil || len(entries) != 0 {
		t.Errorf("audit log after failed moves: %+v, %v; want no line", entries, err)
	}
}

// Spec R36, R21: a dead letter never replaces an existing entry in
// dead-letter/, a history file without its record included: the new dead
// letter takes the first numbered pair whose both names are free.
func TestDeadLetterKeepsLoneHistory(t *testing.T) {
	q, dir := openTest(t, Options{NoSync: true})
	id := mustAppend(t, q, sampleRecord(1, ""))
	dl := filepath.Join(dir, deadLetterDir)
	if err := os.Mkdir(dl, 0o700); err != nil {
		t.Fatal(err)
	}
	lone := filepath.Join(dl, pendingPrefix+id.String()+historySuffix)
	writeRaw(t, lone, "not capq's\n")
	res, err := q.Ingest(context.Background(), func(context.Context, Delivery) error {
		return errors.New("fail")
	}, IngestOptions{MaxAttempts: 1})
	if err != nil || res.DeadLettered != 1 {
		t.Fatalf("Ingest = %+v, %v; want one dead letter", res, err)
	}
	if b, _ := os.ReadFile(lone); string(b) != "not capq's\n" {
		t.Errorf("the lone history file was replaced: %q", b)
	}
	if !exists(t, filepath.Join(dl, pendingName(id.String())+".1")) || !exists(t, lone+".1") {
		t.Error("the dead letter is not at the numbered pair .json.1 / .history.1")
	}
}

// Spec R31: a hard link planted at one of capq's names (a pending file, a
// lock file, the audit log) shares a file outside the queue: capq never
// delivers its bytes, never writes into it, and Verify flags it.
func TestHardLinkedNames(t *testing.T) {
	q, dir := openTest(t, Options{NoSync: true})
	outside := t.TempDir()
	plant := func(name, content string) string {
		o := filepath.Join(outside, strings.ReplaceAll(name, "/", "_"))
		writeRaw(t, o, content)
		if err := os.Link(o, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
		return o
	}
	secret := `{"ulid":"` + newULID(t).String() + `","appended_at":"2024-01-01T00:00:00.000000+00:00","record":{"secret":1},"schema_version":1}`
	secretID := newULID(t)
	pend := plant(pendingName(secretID.String()), strings.Replace(secret, secret[9:35], secretID.String(), 1))
	good := mustAppend(t, q, sampleRecord(1, ""))
	lock := plant(lockName(good.String()), "")
	audit := plant(auditLogName, "")
	good2 := mustAppend(t, q, sampleRecord(2, ""))
	var seen []Delivery
	res, err := q.Ingest(context.Background(), func(_ context.Context, d Delivery) error {
		seen = append(seen, d)
		return errors.New("fail")
	}, IngestOptions{MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range seen {
		if strings.Contains(string(d.Record), "secret") || d.ULID == good {
			t.Errorf("delivered %s (%s) through a hard link", d.ULID, d.Record)
		}
	}
	if len(seen) != 1 || seen[0].ULID != good2 {
		t.Errorf("deliveries %v, want only %s", seen, good2)
	}
	for _, o := range []string{lock, audit} {
		if b, _ := os.ReadFile(o); len(b) != 0 {
			t.Errorf("capq wrote %q into %s through a hard link", b, o)
		}
	}
	if res.Left == 0 || len(res.Problems) == 0 {
		t.Errorf("Ingest = %+v; want the hard-linked entries reported", res)
	}
	_ = pend
	findings, err := Verify(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	flagged := map[string]bool{}
	for _, f := range findings {
		if f.Kind == findingHardLink {
			flagged[f.Name] = true
		}
	}
	for _, n := range []string{lockName(good.String()), auditLogName} {
		if !flagged[n] {
			t.Errorf("Verify did not flag the hard link %s: %v", n, findings)
		}
	}
}

// Spec R36: RequeueAll names a symlink at a dead letter's name as an error
// (ErrUnsafeFile), never passing over it in silence, and still requeues
// the good dead letters.
func TestRequeueAllNamesSymlinkedDeadLetter(t *testing.T) {
	q, dir := openTest(t, Options{NoSync: true})
	good := mustAppend(t, q, sampleRecord(1, ""))
	if _, err := q.Ingest(context.Background(), func(context.Context, Delivery) error {
		return errors.New("fail")
	}, IngestOptions{MaxAttempts: 1}); err != nil {
		t.Fatal(err)
	}
	linked := newULID(t)
	outside := filepath.Join(t.TempDir(), "x.json")
	writeRaw(t, outside, "{}")
	if err := os.Symlink(outside, filepath.Join(dir, deadLetterDir, pendingName(linked.String()))); err != nil {
		t.Fatal(err)
	}
	n, err := q.RequeueAll(context.Background())
	if n != 1 || !errors.Is(err, ErrUnsafeFile) || !strings.Contains(err.Error(), linked.String()) {
		t.Fatalf("RequeueAll = %d, %v; want 1 requeued (%s) and an ErrUnsafeFile naming %s", n, err, good, linked)
	}
}

// Spec R23, R36: in dead-letter/, a name that only looks like a dead
// letter's (a line break and more after .json) is a look-alike, not a
// dead letter; the names capq gives (numbered, histories, tmp) are not.
func TestVerifyDeadLetterLookalike(t *testing.T) {
	q, dir := openTest(t, Options{NoSync: true})
	_ = q
	id := newULID(t).String()
	dl := filepath.Join(dir, deadLetterDir)
	if err := os.Mkdir(dl, 0o700); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		pendingPrefix + id + ".json\nviolation": findingLookalike,
		pendingPrefix + id + ".jsonx":           findingLookalike,
		pendingPrefix + id + ".json.1x":         findingLookalike,
		pendingPrefix + id + ".json":            findingDeadLetter,
		pendingPrefix + id + ".json.2":          findingDeadLetter,
	}
	for name := range want {
		writeRaw(t, filepath.Join(dl, name), "{}")
	}
	findings, err := Verify(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range findings {
		got[strings.TrimPrefix(f.Name, deadLetterDir+"/")] = f.Kind
	}
	for name, k := range want {
		if got[name] != k {
			t.Errorf("Verify: %q is %q, want %q", name, got[name], k)
		}
	}
}

// Spec R36, R29: Get of a ULID whose dead letter is a symlink names it
// (ErrUnsafeFile), it does not say the record does not exist.
func TestGetSymlinkedDeadLetter(t *testing.T) {
	q, dir := openTest(t, Options{NoSync: true})
	id := newULID(t)
	if err := os.Mkdir(filepath.Join(dir, deadLetterDir), 0o700); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "x.json")
	writeRaw(t, outside, "{}")
	if err := os.Symlink(outside, filepath.Join(dir, deadLetterDir, pendingName(id.String()))); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Get(id); !errors.Is(err, ErrUnsafeFile) || errors.Is(err, ErrNotFound) {
		t.Errorf("Get = %v, want ErrUnsafeFile naming the symlink", err)
	}
	if _, err := q.Get(newULID(t)); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of an unknown ULID = %v, want ErrNotFound", err)
	}
}

// Spec R29, R44: a sparse audit log of 10 GiB is read in the time its
// data takes: the hole is one too-long line (reported), and the lines
// before and after it are read.
func TestAuditEntriesSparseLog(t *testing.T) {
	q, dir := openTest(t, Options{NoSync: true})
	line := `{"ts":"t","dropped_ulid":"x","appended_at":"","reason":"pruned","queue_size_before_prune":1}` + "\n"
	f, err := os.OpenFile(filepath.Join(dir, auditLogName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(line); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("\n"+line), 10<<30); err != nil {
		f.Close()
		t.Skipf("no sparse 10 GiB file here: %v", err)
	}
	f.Close()
	type result struct{ entries, tooLong, other int }
	done := make(chan result, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		var r result
		for _, err := range q.AuditEntries(ctx) {
			var le *DataError
			switch {
			case err == nil:
				r.entries++
			case errors.As(err, &le) && tooLong(le):
				r.tooLong++
			default:
				r.other++
			}
		}
		done <- r
	}()
	select {
	case r := <-done:
		if r != (result{entries: 2, tooLong: 1}) {
			t.Errorf("AuditEntries on a sparse log: %+v, want 2 entries and 1 too-long line", r)
		}
	case <-time.After(15 * time.Second):
		cancel()
		t.Fatal("AuditEntries read the holes of a sparse 10 GiB log for over 15 s")
	}
}
