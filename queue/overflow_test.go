//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package queue

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/capq/capq/internal/fsys"
	"github.com/capq/capq/ulid"
)

// Spec R18: the headroom rule, table-driven over MaxSize.
func TestHeadroom(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ maxSize, want int }{
		{1, 1}, {5, 1}, {10, 1}, {19, 1}, {20, 2}, {100, 10}, {999, 99}, {1000, 100}, {10000, 100}, {1 << 30, 100},
	} {
		if got := headroom(tt.maxSize); got != tt.want {
			t.Errorf("headroom(%d) = %d, want %d", tt.maxSize, got, tt.want)
		}
	}
}

// Spec R18: appends at small MaxSize end with the count the rule predicts,
// the newest record always kept, and one audit line per drop.
func TestOverflowCounts(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		maxSize, appends, wantCount int
	}{
		{maxSize: 1, appends: 5, wantCount: 1}, // headroom 1, target 0: only the newest stays
		{maxSize: 2, appends: 3, wantCount: 1}, // 3 > 2: prune to 1
		{maxSize: 10, appends: 11, wantCount: 9},
		{maxSize: 10, appends: 24, wantCount: 10}, // 11→9, 10, 11→9, ... 24 → 10
		{maxSize: 10, appends: 25, wantCount: 9},
		{maxSize: 100, appends: 110, wantCount: 99},
		{maxSize: -1, appends: 30, wantCount: 30}, // negative: no pruning
	} {
		// The rule is arithmetic over names, so the in-memory file system
		// checks it without ~200 fsynced appends (the seed twin
		// TestOverflowPruneOldest runs on the real disk).
		q := openMem(t, fsys.NewMem(nil).FS(), Options{MaxSize: tt.maxSize})
		var last ulid.ULID
		for i := range tt.appends {
			last = mustAppend(t, q, sampleRecord(i, ""))
		}
		ids, err := q.List()
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != tt.wantCount {
			t.Errorf("MaxSize %d, %d appends: %d pending, want %d", tt.maxSize, tt.appends, len(ids), tt.wantCount)
			continue
		}
		if ids[len(ids)-1] != last {
			t.Errorf("MaxSize %d: the newest record was dropped", tt.maxSize)
		}
		audit, err := auditAll(q)
		if err != nil {
			t.Fatal(err)
		}
		if len(audit) != tt.appends-tt.wantCount {
			t.Errorf("MaxSize %d: %d audit lines, want %d", tt.maxSize, len(audit), tt.appends-tt.wantCount)
		}
	}
}

// Spec R18: a record whose lock a consumer holds is skipped by the prune,
// never deleted under it; a dropped record's stale lock file goes with it.
func TestOverflowSkipsLockedAndRemovesStaleLocks(t *testing.T) {
	t.Parallel()
	q, dir := openTest(t, Options{MaxSize: 10})
	var ids []ulid.ULID
	for i := range 10 {
		ids = append(ids, mustAppend(t, q, sampleRecord(i, "")))
	}
	// ids[0] is in a handler elsewhere; ids[1] has a stale lock (a
	// reference consumer failed on it).
	c, err := q.claimRecord("test", ids[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.release(false)
	if err := os.WriteFile(lockPath(dir, ids[1]), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, q, sampleRecord(10, "")) // 11 > 10: prune to 9
	if !exists(t, pendingPath(dir, ids[0])) {
		t.Fatal("a locked record was pruned under its handler")
	}
	if exists(t, pendingPath(dir, ids[1])) || exists(t, lockPath(dir, ids[1])) {
		t.Fatal("the oldest unlocked record and its stale lock must be dropped")
	}
	audit, _ := auditAll(q)
	var dropped []string
	for _, e := range audit {
		dropped = append(dropped, e.DroppedULID)
	}
	if slices.Contains(dropped, ids[0].String()) {
		t.Fatal("audit log claims the locked record was dropped")
	}
	if !slices.Contains(dropped, ids[1].String()) {
		t.Fatal("no audit line for the dropped record")
	}
}

// Spec R18, R21: a corrupt record among the victims is quarantined, not
// deleted.
func TestOverflowQuarantinesCorruptVictims(t *testing.T) {
	t.Parallel()
	q, dir := openTest(t, Options{MaxSize: 3})
	bad := "01HZQ0000000000000000000AA"
	p := filepath.Join(dir, pendingName(bad))
	if err := os.WriteFile(p, []byte(`{"not":"an envelope"`), 0o600); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		mustAppend(t, q, sampleRecord(i, ""))
	}
	if exists(t, p) {
		t.Fatal("corrupt victim still pending")
	}
	kept, err := os.ReadFile(filepath.Join(dir, quarantineDir, pendingName(bad)))
	if err != nil || string(kept) != `{"not":"an envelope"` {
		t.Fatalf("corrupt victim not kept verbatim in quarantine: %q, %v", kept, err)
	}
}

// Spec R19: several processes (queues on views of one file system) append
// to one directory; the count never passes MaxSize by more than the bound,
// and every drop has an audit line.
func TestOverflowBoundWithSeveralProcesses(t *testing.T) {
	t.Parallel()
	const maxSize, procs, rounds = 50, 3, 40
	mem := fsys.NewMem(nil)
	var qs []*Queue
	for range procs {
		q, err := Open("mem", Options{MaxSize: maxSize, fileSystem: mem.FS()})
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		qs = append(qs, q)
	}
	bound := maxSize + procs*countIntervalBound(maxSize)
	total := 0
	for r := range rounds {
		for _, q := range qs {
			mustAppend(t, q, sampleRecord(r, ""))
			total++
			if n := mustCount(t, q); n > bound {
				t.Fatalf("after %d appends: %d pending > bound %d", total, n, bound)
			}
		}
	}
	audit, err := auditAll(qs[0])
	if err != nil {
		t.Fatal(err)
	}
	if n := mustCount(t, qs[0]); n+len(audit) != total {
		t.Fatalf("%d pending + %d audit lines != %d appended", n, len(audit), total)
	}
}

func countIntervalBound(maxSize int) int { return int(countInterval(maxSize, int64(2*maxSize))) }

// Spec R18: Prune drops the oldest down to keep, with reason "pruned".
func TestPrune(t *testing.T) {
	t.Parallel()
	q, _ := openTest(t, Options{})
	var ids []ulid.ULID
	for i := range 7 {
		ids = append(ids, mustAppend(t, q, sampleRecord(i, "")))
	}
	res, err := q.Prune(t.Context(), 3)
	if err != nil || res.Dropped != 4 {
		t.Fatalf("Prune = %+v, %v", res, err)
	}
	left, _ := q.List()
	if !slices.Equal(left, ids[4:]) {
		t.Fatalf("left %v, want the 3 newest", left)
	}
	audit, _ := auditAll(q)
	for i, e := range audit {
		if e.Reason != ReasonPruned || e.DroppedULID != ids[i].String() || e.QueueSizeBeforePrune == nil || *e.QueueSizeBeforePrune != 7 {
			t.Errorf("audit line %d = %+v", i, e)
		}
	}
	if res, err := q.Prune(t.Context(), 10); err != nil || res.Dropped != 0 {
		t.Fatalf("Prune above count = %+v, %v", res, err)
	}
	var seen []Delivery
	if _, err := q.Ingest(context.Background(), collect(&seen), IngestOptions{}); err != nil || len(seen) != 3 {
		t.Fatalf("drain after prune: %d, %v", len(seen), err)
	}
}

// Spec R19: appends do not list the directory on every call (the
// reference did, and slowed from 1 ms to 112 ms per append as it filled):
// a process lists it about once per countInterval of its own appends.
func TestAppendDoesNotRescanEveryTime(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		maxSize, appends, maxListings int
	}{
		{maxSize: defaultMaxSize, appends: 300, maxListings: 3},  // interval 100
		{maxSize: 1000, appends: 300, maxListings: 3},            // interval 100
		{maxSize: 100, appends: 95, maxListings: 95/10 + 1},      // interval 10, never over MaxSize
		{maxSize: 1 << 20, appends: 250, maxListings: 250 / 100}, // interval 100 (count/100 is small)
	} {
		// Only the calls are counted: the in-memory file system, not ~945
		// fsynced appends on the real disk.
		f := fsys.NewFault(fsys.NewMem(nil).FS())
		q := openMem(t, f, Options{MaxSize: tt.maxSize})
		before := f.Calls(fsys.OpReadDir)
		for i := range tt.appends {
			mustAppend(t, q, sampleRecord(i, ""))
		}
		if got := f.Calls(fsys.OpReadDir) - before; got > tt.maxListings {
			t.Errorf("MaxSize %d: %d appends listed the directory %d times, want at most %d",
				tt.maxSize, tt.appends, got, tt.maxListings)
		}
	}
}
