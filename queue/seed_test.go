//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package queue

// Go twins of the reference's own test suite, one per Python test, named
// after it and asserting the same things (and usually more). spec/REFERENCE.md
// section 5 says what each Python test pins down; each twin's comment names
// its Python test.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/capq/capq/gen"
	"github.com/capq/capq/internal/fsys"
	"github.com/capq/capq/ulid"
	"golang.org/x/sys/unix"
)

// Spec R2, R7: test_append_returns_ulid_and_creates_file.
func TestAppendReturnsULIDAndCreatesFile(t *testing.T) {
	t.Parallel()
	q, dir := openTest(t, Options{})
	id := mustAppend(t, q, sampleRecord(0, ""))

	if s := id.String(); len(s) != 26 || !ulid.Valid(s) {
		t.Fatalf("ULID %q is not 26 canonical characters", s)
	}
	data, err := os.ReadFile(pendingPath(dir, id))
	if err != nil {
		t.Fatalf("final file: %v", err)
	}
	var env gen.Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatal(err)
	}
	if env.ULID != id.String() {
		t.Errorf("envelope ulid = %q, want %q", env.ULID, id)
	}
	if env.SchemaVersion != gen.SchemaVersion {
		t.Errorf("schema_version = %d", env.SchemaVersion)
	}
	var rec map[string]any
	if err := json.Unmarshal(env.Record, &rec); err != nil || rec["surface"] != "sample text 0" {
		t.Errorf("record = %s (%v)", env.Record, err)
	}
	if _, err := time.Parse(time.RFC3339Nano, env.AppendedAt); err != nil {
		t.Errorf("appended_at %q is not ISO-8601: %v", env.AppendedAt, err)
	}
	if n := mustCount(t, q); n != 1 {
		t.Errorf("Count = %d, want 1", n)
	}
}

// Spec R8: test_append_atomic_under_crash_simulation. The rename fails
// through the fault seam; no final pending file may appear, and a later
// append works.
func TestAppendAtomicUnderCrashSimulation(t *testing.T) {
	t.Parallel()
	q, dir, f := openFault(t, Options{})
	f.Inject(fsys.Rule{Op: fsys.OpRename, Times: 1, Err: syscall.EIO})

	_, err := q.Append(sampleRecord(0, ""))
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("Append with failing rename: err = %v, want EIO", err)
	}
	if n := mustCount(t, q); n != 0 {
		t.Fatalf("Count = %d after failed append, want 0", n)
	}
	finals, _ := filepath.Glob(filepath.Join(dir, "pending-*.json"))
	if len(finals) != 0 {
		t.Fatalf("final files after failed rename: %v", finals)
	}
	// Unlike the reference, capq also removes the tmp file.
	if tmps, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(tmps) != 0 {
		t.Errorf("stray tmp files after failed rename: %v", tmps)
	}

	mustAppend(t, q, sampleRecord(1, ""))
	if n := mustCount(t, q); n != 1 {
		t.Fatalf("Count = %d after a good append, want 1", n)
	}
}

// Spec R6, R9: test_concurrent_append_50_threads, with goroutines.
func TestConcurrentAppend50Threads(t *testing.T) {
	t.Parallel()
	q, dir := openTest(t, Options{})
	const nWorkers, nPer = 50, 10
	var (
		mu   sync.Mutex
		ids  []ulid.ULID
		errs []error
		wg   sync.WaitGroup
	)
	for w := range nWorkers {
		wg.Go(func() {
			var local []ulid.ULID
			for i := range nPer {
				id, err := q.Append(sampleRecord(i, "thread-"+itoa(w)+"-record-"+itoa(i)))
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				local = append(local, id)
			}
			mu.Lock()
			ids = append(ids, local...)
			mu.Unlock()
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("appenders hung")
	}
	if len(errs) != 0 {
		t.Fatalf("appenders failed: %v", errs)
	}
	if len(ids) != nWorkers*nPer {
		t.Fatalf("%d ULIDs, want %d", len(ids), nWorkers*nPer)
	}
	seen := make(map[ulid.ULID]bool)
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("ULID collision: %s", id)
		}
		seen[id] = true
	}
	listed, err := q.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != nWorkers*nPer {
		t.Fatalf("List has %d, want %d", len(listed), nWorkers*nPer)
	}
	for _, id := range listed {
		data, err := os.ReadFile(pendingPath(dir, id))
		if err != nil {
			t.Fatal(err)
		}
		env, err := decodeFile("pending-"+id.String()+".json", data)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		var r struct{ Surface string }
		if json.Unmarshal(env.Record, &r) != nil || !strings.HasPrefix(r.Surface, "thread-") {
			t.Fatalf("%s: record %s", id, env.Record)
		}
	}
}

// Spec R11, R12: test_idempotent_ingest_crash_mid_handler.
func TestIdempotentIngestCrashMidHandler(t *testing.T) {
	t.Parallel()
	q, dir := openTest(t, Options{})
	id := mustAppend(t, q, sampleRecord(42, "payload-42"))
	boom := errors.New("handler exploded")

	_, err := q.Ingest(context.Background(), func(context.Context, Delivery) error { return boom }, IngestOptions{})
	if !errors.Is(err, boom) {
		t.Fatalf("Ingest err = %v, want the handler's error", err)
	}
	var he *HandlerError
	if !errors.As(err, &he) || he.ULID != id {
		t.Fatalf("Ingest err = %#v, want *HandlerError for %s", err, id)
	}
	if !exists(t, pendingPath(dir, id)) {
		t.Fatal("pending file must remain after handler error")
	}
	if !exists(t, lockPath(dir, id)) {
		t.Fatal("lock file must remain to mark mid-flight crash")
	}
	if n := mustCount(t, q); n != 1 {
		t.Fatalf("Count = %d, want 1", n)
	}

	var seen []Delivery
	res, err := q.Ingest(context.Background(), collect(&seen), IngestOptions{})
	if err != nil || res.Delivered != 1 || len(seen) != 1 {
		t.Fatalf("retry: res=%+v err=%v seen=%d", res, err, len(seen))
	}
	if got := surface(t, seen[0]); got != "payload-42" {
		t.Fatalf("surface = %q", got)
	}
	if seen[0].Attempt != 2 {
		t.Errorf("retry Attempt = %d, want 2 (spec R16)", seen[0].Attempt)
	}
	if exists(t, pendingPath(dir, id)) || exists(t, lockPath(dir, id)) {
		t.Fatal("pending and lock files must be gone after success")
	}
	if n := mustCount(t, q); n != 0 {
		t.Fatalf("Count = %d, want 0", n)
	}
}

// Spec R11: test_idempotent_ingest_lock_skipped. The lock of A is held
// through a separate file descriptor with flock, as another process would.
func TestIdempotentIngestLockSkipped(t *testing.T) {
	t.Parallel()
	q, dir := openTest(t, Options{})
	a := mustAppend(t, q, sampleRecord(1, "A"))
	b := mustAppend(t, q, sampleRecord(2, "B"))
	c := mustAppend(t, q, sampleRecord(3, "C"))

	fd, err := unix.Open(lockPath(dir, a), unix.O_WRONLY|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	defer unix.Flock(fd, unix.LOCK_UN)

	var seen []Delivery
	res, err := q.Ingest(context.Background(), collect(&seen), IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Delivered != 2 {
		t.Fatalf("Delivered = %d, want 2", res.Delivered)
	}
	var got []string
	for _, d := range seen {
		got = append(got, surface(t, d))
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"B", "C"}) {
		t.Fatalf("delivered %v, want [B C]", got)
	}
	if !exists(t, pendingPath(dir, a)) {
		t.Fatal("A must still be pending")
	}
	if exists(t, pendingPath(dir, b)) || exists(t, pendingPath(dir, c)) {
		t.Fatal("B and C must be gone")
	}
}

// Spec R18, R20: test_overflow_prune_oldest. At MaxSize 100, 110 appends
// end with 99 pending and 11 audit lines (headroom 10: the 101st append
// prunes 11 down to 90, then 9 more arrive).
func TestOverflowPruneOldest(t *testing.T) {
	t.Parallel()
	const maxSize, total = 100, 110
	q, dir := openTest(t, Options{MaxSize: maxSize})
	var appended []ulid.ULID
	for i := range total {
		appended = append(appended, mustAppend(t, q, sampleRecord(i, "")))
	}
	final := mustCount(t, q)
	if final > maxSize {
		t.Fatalf("Count = %d > MaxSize", final)
	}
	if final != 99 {
		t.Fatalf("Count = %d, want 99", final)
	}
	f, err := os.Open(filepath.Join(dir, auditLogName))
	if err != nil {
		t.Fatalf("audit log must exist after overflow: %v", err)
	}
	defer f.Close()
	var lines []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	dropped := total - final
	if dropped <= 0 || len(lines) != dropped || dropped != 11 {
		t.Fatalf("dropped %d, audit lines %d, want 11 and 11", dropped, len(lines))
	}
	known := make(map[string]bool)
	for _, id := range appended {
		known[id.String()] = true
	}
	for i, l := range lines {
		if l["reason"] != "queue_overflow" {
			t.Errorf("line %d reason = %v", i, l["reason"])
		}
		if !known[l["dropped_ulid"].(string)] {
			t.Errorf("line %d drops unknown ULID %v", i, l["dropped_ulid"])
		}
		if _, ok := l["queue_size_before_prune"].(float64); !ok {
			t.Errorf("line %d queue_size_before_prune = %v", i, l["queue_size_before_prune"])
		}
		// The oldest were dropped, in order.
		if l["dropped_ulid"] != appended[i].String() {
			t.Errorf("line %d dropped %v, want the %d-th oldest %s", i, l["dropped_ulid"], i, appended[i])
		}
	}
}

// Spec R4: test_verbatim_round_trip_unicode, with both forms of "é" (the
// seed's copy lost the combining form; the upstream test had it).
func TestVerbatimRoundTripUnicode(t *testing.T) {
	t.Parallel()
	for _, payload := range []string{
		"Привет, world! 🧠 Δ ∑ — combining e\u0301 vs \u00e9",
		"Привет, world! 🧠 Δ ∑ — combining \u00e9 vs \u00e9",
	} {
		q, _ := openTest(t, Options{})
		rec := sampleRecord(0, payload)
		mustAppend(t, q, rec)
		var seen []Delivery
		res, err := q.Ingest(context.Background(), collect(&seen), IngestOptions{})
		if err != nil || res.Delivered != 1 || len(seen) != 1 {
			t.Fatalf("res=%+v err=%v", res, err)
		}
		if got := surface(t, seen[0]); got != payload {
			t.Fatalf("surface = %q, want %q", got, payload)
		}
		if string(seen[0].Record) != string(rec) {
			t.Fatalf("record bytes changed:\n got %s\nwant %s", seen[0].Record, rec)
		}
	}
}

// Spec R7: test_list_pending_sort_order.
func TestListPendingSortOrder(t *testing.T) {
	t.Parallel()
	q, _ := openTest(t, Options{})
	var want []ulid.ULID
	for i := range 20 {
		want = append(want, mustAppend(t, q, sampleRecord(i, "")))
	}
	got, err := q.List()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("List = %v\nwant  %v (oldest first)", got, want)
	}
}

// Spec R14: test_schema_version_mismatch_raises.
func TestSchemaVersionMismatchRaises(t *testing.T) {
	t.Parallel()
	q, dir := openTest(t, Options{})
	p := writeEnvelopeDirectly(t, dir, "01HZQTESTBADSCHEMA00000000", sampleRecord(0, ""), 99, "")
	if n := mustCount(t, q); n != 1 {
		t.Fatalf("Count = %d, want 1", n)
	}
	_, err := q.Ingest(context.Background(), func(context.Context, Delivery) error {
		t.Fatal("handler must not be called on schema mismatch")
		return nil
	}, IngestOptions{})
	var se *DataError
	if !errors.As(err, &se) || !errors.Is(err, ErrSchemaVersion) {
		t.Fatalf("err = %v, want *DataError", err)
	}
	if found(se) != "99" || !strings.Contains(err.Error(), "schema_version") || !strings.Contains(err.Error(), "99") {
		t.Fatalf("error %q must name schema_version and 99 (Found=%q)", err, found(se))
	}
	if !exists(t, p) {
		t.Fatal("the file must stay in place")
	}
}

// Spec R11: test_empty_queue_ingest_returns_zero.
func TestEmptyQueueIngestReturnsZero(t *testing.T) {
	t.Parallel()
	q, _ := openTest(t, Options{})
	if n := mustCount(t, q); n != 0 {
		t.Fatalf("Count = %d", n)
	}
	called := false
	res, err := q.Ingest(context.Background(), func(context.Context, Delivery) error { called = true; return nil }, IngestOptions{})
	if err != nil || res.Delivered != 0 || called {
		t.Fatalf("res=%+v err=%v called=%v", res, err, called)
	}
}

// Spec R6: test_ulid_lexicographic_sort_matches_time_order, on the
// generator the queue uses.
func TestULIDLexicographicSortMatchesTimeOrder(t *testing.T) {
	t.Parallel()
	const n = 1000
	var strs []string
	for range n {
		id, err := ulid.Default().New()
		if err != nil {
			t.Fatal(err)
		}
		strs = append(strs, id.String())
	}
	uniq := make(map[string]bool)
	for _, s := range strs {
		uniq[s] = true
	}
	if len(uniq) != n {
		t.Fatalf("%d distinct of %d", len(uniq), n)
	}
	if !slices.IsSorted(strs) {
		t.Fatal("lexicographic order differs from generation order")
	}
}

// Spec R11: test_lock_file_cleanup_on_handler_success. Unlike the Python
// test, the Go twin also checks that the lock file is there while the
// handler runs.
func TestLockFileCleanupOnHandlerSuccess(t *testing.T) {
	t.Parallel()
	q, dir := openTest(t, Options{})
	id := mustAppend(t, q, sampleRecord(0, ""))
	res, err := q.Ingest(context.Background(), func(context.Context, Delivery) error {
		if !exists(t, lockPath(dir, id)) {
			t.Error("lock file must exist while the handler runs")
		}
		return nil
	}, IngestOptions{})
	if err != nil || res.Delivered != 1 {
		t.Fatalf("res=%+v err=%v", res, err)
	}
	if exists(t, lockPath(dir, id)) {
		t.Fatal("lock file must be cleaned on success")
	}
	if exists(t, pendingPath(dir, id)) {
		t.Fatal("pending file must be gone")
	}
}

// Spec R12: test_lock_file_persists_on_handler_exception.
func TestLockFilePersistsOnHandlerException(t *testing.T) {
	t.Parallel()
	q, dir := openTest(t, Options{})
	id := mustAppend(t, q, sampleRecord(0, ""))
	crash := errors.New("simulated mid-handler crash")
	_, err := q.Ingest(context.Background(), func(context.Context, Delivery) error { return crash }, IngestOptions{})
	if !errors.Is(err, crash) {
		t.Fatalf("err = %v", err)
	}
	if !exists(t, pendingPath(dir, id)) {
		t.Fatal("pending must remain after handler error")
	}
	if !exists(t, lockPath(dir, id)) {
		t.Fatal("lock must remain to mark mid-flight crash")
	}
}
