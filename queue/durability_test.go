//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package queue

// Durability: what an acknowledged Append and a returned Ingest promise
// across power loss (spec R9, R10, R15, R27), checked with the fault seam's
// call counters and with the in-memory file system's power-loss model, and
// (for RLIMIT_FSIZE) with a real child process.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/capq/capq/internal/fsys"
	"github.com/capq/capq/internal/mutate"
	"github.com/capq/capq/ulid"
	"golang.org/x/sys/unix"
)

// childEnv selects a child role when the test binary re-executes itself
// (see TestMain); childDirEnv passes the child its queue directory.
const (
	childEnv    = "CAPQ_QUEUE_TEST_CHILD"
	childDirEnv = "CAPQ_QUEUE_TEST_DIR"
)

// mutantEnv names mutants (internal/mutate, comma-separated, e.g.
// "skip-dir-sync") to plant in the queue for a whole run, to check that the
// tests catch them: CAPQ_QUEUE_MUTANT=skip-dir-sync go test -tags capqmutants
// -run Power ./queue must fail (without the tag the test binary refuses).
const mutantEnv = "CAPQ_QUEUE_MUTANT"

// TestMain runs the tests, or, when the binary was re-executed by a test
// with childEnv set, one child role that needs a process of its own (a
// resource limit cannot be undone within one process).
func TestMain(m *testing.M) {
	if names := os.Getenv(mutantEnv); names != "" {
		for _, name := range strings.Split(names, ",") {
			m, ok := mutate.Parse(name)
			if !ok {
				fmt.Fprintf(os.Stderr, "%s: unknown mutant %q\n", mutantEnv, name)
				os.Exit(2)
			}
			if _, err := mutate.Enable(m); err != nil {
				fmt.Fprintf(os.Stderr, "%s=%s: %v\n", mutantEnv, names, err)
				os.Exit(2)
			}
		}
	}
	switch role := os.Getenv(childEnv); role {
	case "":
		if !strings.Contains(os.Getenv("GORACE"), "atexit_sleep_ms") {
			// The children of these tests (the file-size and the
			// unprivileged matrix child) are this binary: under the race
			// detector each would sleep a second at exit. Harmless
			// without it.
			os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
		}
		os.Exit(m.Run())
	case "fsize":
		os.Exit(childAppendOverFileSizeLimit(os.Getenv(childDirEnv)))
	default:
		fmt.Fprintf(os.Stderr, "unknown child role %q\n", role)
		os.Exit(2)
	}
}

// seedsEnv raises the number of seeds of the randomized power-cut tests,
// for longer campaigns: CAPQ_QUEUE_SEEDS=2000 go test -run PowerCut ./queue.
const seedsEnv = "CAPQ_QUEUE_SEEDS"

// seeds returns how many seeds a randomized test runs: def, or more if
// seedsEnv asks for more.
func seeds(def int) int {
	if n, err := strconv.Atoi(os.Getenv(seedsEnv)); err == nil && n > def {
		return n
	}
	return def
}

// openMem opens a queue on fsy (a view of a Mem, or a Fault around one).
func openMem(t testing.TB, fsy fsys.FS, opts Options) *Queue {
	t.Helper()
	opts.fileSystem = fsy
	q, err := Open("mem", opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

// openMemFault opens a queue with opts on a fresh in-memory file system
// behind a fault injector, and returns all three: the Mem to crash, the
// Fault to count calls and inject errors, the queue.
func openMemFault(t testing.TB, opts Options) (*fsys.Mem, *fsys.Fault, *Queue) {
	t.Helper()
	m := fsys.NewMem(nil)
	f := fsys.NewFault(m.FS())
	return m, f, openMem(t, f, opts)
}

// memPending returns the pending records of a Mem after a crash, decoded:
// ULID string → record bytes. A pending file that does not decode fails
// the test: with fsync before rename, none may be torn.
func memPending(t testing.TB, m *fsys.Mem) map[string][]byte {
	t.Helper()
	out := make(map[string][]byte)
	for _, name := range m.Names(".") {
		id, ok := ulidFromPendingName(name)
		if !ok {
			continue
		}
		data, err := m.ReadFile(name)
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		env, err := decodeFile(name, data)
		if err != nil {
			t.Fatalf("a committed file is torn after a power cut: %v", err)
		}
		out[id] = env.Record
	}
	return out
}

// Spec R9: one Append makes exactly these calls, in this order: create the
// tmp file, write it, fsync it, close it, rename it to its final name,
// fsync the directory. Only then does it return.
func TestAppendStepOrder(t *testing.T) {
	t.Parallel()
	m, f, q := openMemFault(t, Options{})
	f.Reset()
	var mu sync.Mutex
	var got []string
	f.SetHook(func(c fsys.Call) error {
		mu.Lock()
		defer mu.Unlock()
		switch c.Op {
		case fsys.OpOpen, fsys.OpWrite, fsys.OpSync, fsys.OpClose, fsys.OpRename, fsys.OpSyncDir:
			s := c.Op.String() + " " + kindName(c.Name)
			if c.NewName != "" {
				s += " " + kindName(c.NewName)
			}
			got = append(got, s)
		}
		return nil
	})
	id := mustAppend(t, q, sampleRecord(0, ""))
	want := []string{"open tmp", "write tmp", "sync tmp", "close tmp", "rename tmp pending", "syncdir ."}
	if !slices.Equal(got, want) {
		t.Errorf("calls of one Append:\n got %q\nwant %q", got, want)
	}
	// Returned means durable: the entry is in the synced directory.
	if !slices.Contains(m.SyncedNames("."), pendingName(id.String())) {
		t.Errorf("Append returned before its directory entry was durable")
	}
}

// kindName names a file by its role, for call traces.
func kindName(name string) string {
	switch k, _ := classify([]byte(name)); k {
	case kindPending:
		return "pending"
	case kindTmp:
		return "tmp"
	case kindLock:
		return "lock"
	}
	return name
}

// Spec R9: every acknowledged append survives a power cut, whatever the
// cut leaves of the rest (Crash(nil): exactly the durable state; Crash(rng):
// adversarial outcomes), and no committed file is ever torn. Appends run
// concurrently and the power is cut while they are in flight.
func TestAckedAppendsSurvivePowerCut(t *testing.T) {
	t.Parallel()
	for seed := range uint64(seeds(16)) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 0x5eed))
			m := fsys.NewMem(nil)
			q := openMem(t, m.FS(), Options{})
			var (
				mu    sync.Mutex
				acked = map[string][]byte{}
				wg    sync.WaitGroup
			)
			acks := make(chan struct{}, 1000)
			for w := range 4 {
				wg.Go(func() {
					for i := range 25 {
						rec := sampleRecord(i, fmt.Sprintf("w%d-%d", w, i))
						var ids []ulid.ULID
						var err error
						if i%5 == 4 {
							ids, err = q.AppendBatch([][]byte{rec, sampleRecord(i, fmt.Sprintf("w%d-%d-b", w, i))})
						} else {
							var id ulid.ULID
							id, err = q.Append(rec)
							ids = []ulid.ULID{id}
						}
						if err != nil {
							return // the power is off
						}
						mu.Lock()
						acked[ids[0].String()] = rec
						if len(ids) == 2 {
							acked[ids[1].String()] = sampleRecord(i, fmt.Sprintf("w%d-%d-b", w, i))
						}
						mu.Unlock()
						acks <- struct{}{}
					}
				})
			}
			for range 1 + rng.IntN(60) {
				<-acks
			}
			outcomes := []*fsys.Mem{m.Crash(nil)}
			for range 5 {
				outcomes = append(outcomes, m.Crash(rng))
			}
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			for i, o := range outcomes {
				got := memPending(t, o)
				for id, rec := range acked {
					if g, ok := got[id]; !ok {
						t.Errorf("outcome %d: acknowledged append %s lost", i, id)
					} else if string(g) != string(rec) {
						t.Errorf("outcome %d: %s = %s, want %s", i, id, g, rec)
					}
				}
			}
		})
	}
}

// Spec R8, R10: an append that failed leaves nothing, not even after a
// power cut: the rollback of a committed rename is itself made durable,
// and a file whose fsync failed is never renamed.
func TestFailedAppendLeavesNothingAfterPowerCut(t *testing.T) {
	t.Parallel()
	for _, op := range []fsys.Op{fsys.OpWrite, fsys.OpSync, fsys.OpClose, fsys.OpRename, fsys.OpSyncDir} {
		for _, times := range []int{1, 0} { // once, or for good
			t.Run(fmt.Sprintf("%s/times=%d", op, times), func(t *testing.T) {
				m, f, q := openMemFault(t, Options{})
				keep := mustAppend(t, q, sampleRecord(1, "kept"))
				f.Inject(fsys.Rule{Op: op, Times: times, Err: syscall.EIO})
				if _, err := q.Append(sampleRecord(2, "failed")); err == nil {
					t.Fatal("Append succeeded with a failing " + op.String())
				}
				for i, o := range []*fsys.Mem{m.Crash(nil), m.Crash(rand.New(rand.NewPCG(1, 2))), m.Crash(rand.New(rand.NewPCG(3, 4)))} {
					got := memPending(t, o)
					if len(got) != 1 || got[keep.String()] == nil {
						t.Errorf("outcome %d: pending after a failed append = %v, want only %s", i, slices.Sorted(maps.Keys(got)), keep)
					}
				}
			})
		}
	}
}

// Spec R9: group commit. 50 goroutines append at once; their directory
// fsyncs are shared. To make the sharing deterministic rather than a matter
// of scheduling luck, a hook holds every directory fsync until all 50
// renames have been issued: the appenders pile up behind the first fsync,
// and one more covers them all. Without group commit there would be 50.
// holdDirSyncsUntilRenames makes every directory fsync through f wait until
// n renames have been issued, so that concurrent appenders pile up behind
// one fsync whatever the scheduling. The minute's wait is a safety valve,
// not an assertion: the counts the tests take decide.
func holdDirSyncsUntilRenames(f *fsys.Fault, n int32) {
	var renames atomic.Int32
	all := make(chan struct{})
	f.SetHook(func(c fsys.Call) error {
		switch c.Op {
		case fsys.OpRename:
			if renames.Add(1) == n {
				close(all)
			}
		case fsys.OpSyncDir:
			select {
			case <-all:
			case <-time.After(time.Minute):
			}
		}
		return nil
	})
}

// appendConcurrently makes n Appends at once, one goroutine each
// (sampleRecord i), and returns their ULIDs; any error fails the test.
func appendConcurrently(t *testing.T, q *Queue, n int) []ulid.ULID {
	t.Helper()
	var wg sync.WaitGroup
	ids := make([]ulid.ULID, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { ids[i], errs[i] = q.Append(sampleRecord(i, "")) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	return ids
}

func TestGroupCommitSharesDirFsync(t *testing.T) {
	t.Parallel()
	const n = 50
	m, f, q := openMemFault(t, Options{})
	f.Reset()
	holdDirSyncsUntilRenames(f, n)
	ids := appendConcurrently(t, q, n)
	syncs := f.Calls(fsys.OpSyncDir)
	t.Logf("%d appends, %d directory fsyncs", n, syncs)
	if syncs < 1 || syncs > n/2 {
		t.Errorf("%d concurrent appends made %d directory fsyncs, want between 1 and %d", n, syncs, n/2)
	}
	got := memPending(t, m.Crash(nil))
	for _, id := range ids {
		if got[id.String()] == nil {
			t.Errorf("acknowledged %s lost at the power cut", id)
		}
	}
}

// Spec R49, R9: AppendBatch of N records makes its files durable with one
// syncfs per chunk of batchChunk files (no fsync per file) where the file
// system has syncfs, with one fsync per file where it has not (a lone
// file is always fsynced), and fsyncs the directory exactly once. Every
// record is durable at the power cut.
func TestAppendBatchFlushes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		n                 int
		syncfs            bool
		wantSyncFS, wantF int
	}{
		{1, true, 0, 1},
		{2, true, 1, 0},
		{10, true, 1, 0},
		{99, true, 1, 0},
		{batchChunk + 1, true, 1, 1}, // a last chunk of one file is fsynced
		{2*batchChunk + 3, true, 3, 0},
		{1, false, 0, 1},
		{10, false, 1, 10}, // one SyncFS call, refused as unsupported, once
		{99, false, 1, 99},
	} {
		t.Run(fmt.Sprintf("%d/syncfs=%v", tc.n, tc.syncfs), func(t *testing.T) {
			m, f, q := openMemFault(t, Options{})
			recs := make([][]byte, tc.n)
			for i := range recs {
				recs[i] = sampleRecord(i, "")
			}
			f.Reset()
			if !tc.syncfs {
				f.Inject(fsys.Rule{Op: fsys.OpSyncFS, Err: errors.ErrUnsupported})
			}
			ids, err := q.AppendBatch(recs)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Calls(fsys.OpSyncDir); got != 1 {
				t.Errorf("directory fsyncs = %d, want 1", got)
			}
			if got := f.Calls(fsys.OpSyncFS); got != tc.wantSyncFS {
				t.Errorf("syncfs calls = %d, want %d", got, tc.wantSyncFS)
			}
			if got := f.Calls(fsys.OpSync); got != tc.wantF {
				t.Errorf("file fsyncs = %d, want %d", got, tc.wantF)
			}
			if got := f.Calls(fsys.OpRename); got != tc.n {
				t.Errorf("renames = %d, want %d", got, tc.n)
			}
			if !tc.syncfs && tc.n > 1 {
				// The queue remembers that syncfs is unsupported.
				f.Reset()
				if _, err := q.AppendBatch(recs[:2]); err != nil {
					t.Fatal(err)
				}
				if got := f.Calls(fsys.OpSyncFS); got != 0 {
					t.Errorf("syncfs tried again after it was unsupported: %d calls", got)
				}
			}
			got := memPending(t, m.Crash(nil))
			for i, id := range ids {
				if string(got[id.String()]) != string(recs[i]) {
					t.Errorf("record %d (%s) after power cut = %s", i, id, got[id.String()])
				}
			}
		})
	}
}

// Spec R50: concurrent Appends fsync their own files at once, side by
// side, none waiting for another's flush. A hook holds every fsync until
// all 16 have been issued: they all get there only if none waits for
// another (a queue behind a leader would stall until the safety valve).
// Every acknowledged record survives the power cut.
func TestConcurrentAppendsFsyncSideBySide(t *testing.T) {
	const n = 16
	m, f, q := openMemFault(t, Options{})
	f.Reset()
	var arrived atomic.Int32
	all := make(chan struct{})
	var timedOut atomic.Bool
	f.SetHook(func(c fsys.Call) error {
		if c.Op == fsys.OpSync {
			if arrived.Add(1) == n {
				close(all)
			}
			select {
			case <-all:
			case <-time.After(30 * time.Second): // a safety valve
				timedOut.Store(true)
			}
		}
		return nil
	})
	ids := appendConcurrently(t, q, n)
	if timedOut.Load() {
		t.Errorf("the fsyncs of %d concurrent appends did not all run at once (%d arrived)", n, arrived.Load())
	}
	if got := f.Calls(fsys.OpSync); got != n {
		t.Errorf("%d concurrent appends made %d fsyncs, want %d (one each)", n, got, n)
	}
	got := memPending(t, m.Crash(nil))
	for _, id := range ids {
		if got[id.String()] == nil {
			t.Errorf("acknowledged %s lost at the power cut", id)
		}
	}
}

// Spec R50: group commit of batch flushes. 8 goroutines each append a
// batch of 2; a hook holds the first syncfs until all 16 tmp files are
// written, so that the batches pile up behind it whatever the scheduling:
// the next leader makes all the waiting files durable with one syncfs.
// Without the group commit there would be 8. Every acknowledged record
// survives the power cut.
func TestGroupCommitSharesBatchFlushes(t *testing.T) {
	const batches, size = 8, 2
	m, f, q := openMemFault(t, Options{})
	f.Reset()
	var writes atomic.Int32
	all := make(chan struct{})
	f.SetHook(func(c fsys.Call) error {
		switch c.Op {
		case fsys.OpWrite:
			if writes.Add(1) == batches*size {
				close(all)
			}
		case fsys.OpSync, fsys.OpSyncFS:
			select {
			case <-all:
			case <-time.After(time.Minute): // a safety valve; the counts decide
			}
		}
		return nil
	})
	var wg sync.WaitGroup
	ids := make([][]ulid.ULID, batches)
	errs := make([]error, batches)
	for i := range batches {
		wg.Go(func() { ids[i], errs[i] = q.AppendBatch([][]byte{sampleRecord(i, ""), sampleRecord(i, "b")}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	t.Logf("%d batches: %d fsyncs, %d syncfs, %d directory fsyncs", batches, f.Calls(fsys.OpSync), f.Calls(fsys.OpSyncFS), f.Calls(fsys.OpSyncDir))
	if flushes := f.Calls(fsys.OpSync) + f.Calls(fsys.OpSyncFS); flushes < 1 || flushes > 3 {
		t.Errorf("%d concurrent batches made %d file flushes, want between 1 and 3", batches, flushes)
	}
	got := memPending(t, m.Crash(nil))
	for _, b := range ids {
		for _, id := range b {
			if got[id.String()] == nil {
				t.Errorf("acknowledged %s lost at the power cut", id)
			}
		}
	}
}

// Spec R49, R10: a failed syncfs reports its error once, to whichever
// group's leader called it; but it may have failed on the writeback of
// files written before it by appenders still waiting in the next group,
// whose pages the kernel then marked clean. So a syncfs failure fails
// every appender that began writing before it, even when its own flush
// succeeds, and none that began after.
func TestFlusherFailsFilesWrittenBeforeASyncFSFailure(t *testing.T) {
	t.Parallel()
	m := fsys.NewMem(nil)
	f := fsys.NewFault(m.FS())
	fl := newFlusher(f)
	open := func(name string) fsys.File {
		file, err := f.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { file.Close() })
		return file
	}
	early := fl.epoch() // an appender begins writing a and b
	a, b := open("a"), open("b")
	f.Inject(fsys.Rule{Op: fsys.OpSyncFS, Times: 1, Err: syscall.EIO})
	for _, err := range fl.flush([]fsys.File{open("c"), open("d")}, fl.epoch()) {
		if !errors.Is(err, syscall.EIO) {
			t.Errorf("flush with a failing syncfs: %v, want EIO", err)
		}
	}
	for _, err := range fl.flush([]fsys.File{a, b}, early) {
		if !errors.Is(err, syscall.EIO) {
			t.Errorf("files written before the failed syncfs: %v, want its EIO", err)
		}
	}
	for _, err := range fl.flush([]fsys.File{open("e"), open("f")}, fl.epoch()) {
		if err != nil {
			t.Errorf("files written after the failed syncfs: %v, want nil", err)
		}
	}
	if got := f.Calls(fsys.OpSyncFS); got != 3 {
		t.Errorf("syncfs calls = %d, want 3 (never retried, never skipped)", got)
	}
}

// Spec R15: Ingest fsyncs the directory after at most DeleteSyncEvery
// deletes, and after the last delete of the call. The call trace is cut
// into windows at each directory fsync; no window holds more than
// DeleteSyncEvery record deletes, and none follows the last fsync. A
// negative DeleteSyncEvery fsyncs only at the end: all the deletes are in
// one window.
func TestIngestDeleteSyncCadence(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ n, every int }{
		{1, 64}, {5, 1}, {5, 2}, {20, 5}, {23, 5}, {64, 64}, {130, 64}, {70, -1},
	} {
		t.Run(fmt.Sprintf("n=%d/every=%d", tc.n, tc.every), func(t *testing.T) {
			_, f, q := openMemFault(t, Options{DeleteSyncEvery: tc.every})
			for i := range tc.n {
				mustAppend(t, q, sampleRecord(i, ""))
			}
			f.Reset()
			var mu sync.Mutex
			var trace []string
			f.SetHook(func(c fsys.Call) error {
				if c.Op == fsys.OpSyncDir || (c.Op == fsys.OpRemove && kindName(c.Name) == "pending") {
					mu.Lock()
					trace = append(trace, c.Op.String())
					mu.Unlock()
				}
				return nil
			})
			res, err := q.Ingest(context.Background(), func(context.Context, Delivery) error { return nil }, IngestOptions{})
			if err != nil || res.Delivered != tc.n {
				t.Fatalf("Ingest = %+v, %v; want %d delivered", res, err, tc.n)
			}
			every := tc.every
			if every < 0 {
				every = tc.n
			}
			window, syncs, widest := 0, 0, 0
			for _, op := range trace {
				if op == "syncdir" {
					window = 0
					syncs++
					continue
				}
				window++
				widest = max(widest, window)
				if window > every {
					t.Fatalf("%d deletes without a directory fsync (DeleteSyncEvery %d): %v", window, tc.every, trace)
				}
			}
			if window != 0 {
				t.Errorf("Ingest returned with %d deletes not made durable", window)
			}
			if tc.every < 0 && widest != tc.n {
				t.Errorf("DeleteSyncEvery %d: at most %d deletes between directory fsyncs, want all %d before one", tc.every, widest, tc.n)
			}
			if min := (tc.n + every - 1) / every; syncs < min {
				t.Errorf("%d directory fsyncs, want at least %d", syncs, min)
			}
		})
	}
}

// Spec R15: a power cut after Ingest returned brings nothing delivered
// back.
func TestPowerCutAfterIngestReturned(t *testing.T) {
	t.Parallel()
	for seed := range uint64(seeds(20)) {
		rng := rand.New(rand.NewPCG(seed, 7))
		m := fsys.NewMem(nil)
		q := openMem(t, m.FS(), Options{DeleteSyncEvery: 1 + rng.IntN(10)})
		n := 1 + rng.IntN(40)
		for i := range n {
			mustAppend(t, q, sampleRecord(i, ""))
		}
		res, err := q.Ingest(context.Background(), func(context.Context, Delivery) error { return nil }, IngestOptions{})
		if err != nil || res.Delivered != n {
			t.Fatalf("seed %d: Ingest = %+v, %v", seed, res, err)
		}
		for i, o := range []*fsys.Mem{m.Crash(nil), m.Crash(rng), m.Crash(rng), m.Crash(rng)} {
			if got := memPending(t, o); len(got) != 0 {
				t.Errorf("seed %d outcome %d: %d delivered records came back: %v", seed, i, len(got), slices.Sorted(maps.Keys(got)))
			}
		}
	}
}

// Spec R15, R16: a power cut in the middle of an Ingest, taken inside the
// handler of the k-th record. Never a loss: the record being handled and
// every later one survive. Only records whose delete came after the last
// directory fsync may come back; with Crash(nil) exactly those do.
func TestPowerCutMidIngest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ n, every, k int }{
		{10, 4, 1}, {10, 4, 5}, {10, 4, 10}, {10, 1, 7}, {30, 64, 20}, {30, 3, 30}, {12, 5, 11},
	} {
		t.Run(fmt.Sprintf("n=%d/every=%d/k=%d", tc.n, tc.every, tc.k), func(t *testing.T) {
			m, f, q := openMemFault(t, Options{DeleteSyncEvery: tc.every})
			ids := make([]string, tc.n)
			for i := range ids {
				ids[i] = mustAppend(t, q, sampleRecord(i, "")).String()
			}
			// removed counts record deletes; atSync is removed at the last
			// directory fsync, which makes those deletes durable.
			var removed, atSync atomic.Int32
			f.SetHook(func(c fsys.Call) error {
				switch {
				case c.Op == fsys.OpRemove && kindName(c.Name) == "pending":
					removed.Add(1)
				case c.Op == fsys.OpSyncDir && c.Name == ".":
					atSync.Store(removed.Load())
				}
				return nil
			})
			var outcomes []*fsys.Mem
			var delivered []string
			durable := -1 // deletes made durable before the cut
			h := func(_ context.Context, d Delivery) error {
				delivered = append(delivered, d.ULID.String())
				if len(delivered) == tc.k {
					durable = int(atSync.Load())
					outcomes = append(outcomes, m.Crash(nil))
					for s := range uint64(8) {
						outcomes = append(outcomes, m.Crash(rand.New(rand.NewPCG(s, uint64(tc.k)))))
					}
				}
				return nil
			}
			if _, err := q.Ingest(context.Background(), h, IngestOptions{}); err == nil {
				t.Fatal("Ingest succeeded on a machine that lost power")
			}
			if len(delivered) != tc.k || !slices.Equal(delivered, ids[:tc.k]) {
				t.Fatalf("delivered %v, want the first %d in order", delivered, tc.k)
			}
			if window := tc.k - 1 - durable; window > tc.every {
				t.Errorf("%d deletes were pending a directory fsync at the cut (DeleteSyncEvery %d)", window, tc.every)
			}
			for i, o := range outcomes {
				got := memPending(t, o)
				for j, id := range ids {
					_, present := got[id]
					switch {
					case j >= tc.k-1 && !present: // the record in the handler, and later ones
						t.Errorf("outcome %d: record %d (%s), never acknowledged, lost", i, j, id)
					case j < durable && present:
						t.Errorf("outcome %d: record %d (%s) came back although its delete was fsynced", i, j, id)
					case i == 0 && j >= durable && j < tc.k-1 && !present:
						t.Errorf("Crash(nil): record %d (%s) deleted after the last fsync is gone", j, id)
					}
				}
				// The survivor is a working queue: it drains exactly what
				// came back.
				q2 := openMem(t, o.FS(), Options{})
				var again []Delivery
				res, err := q2.Ingest(context.Background(), collect(&again), IngestOptions{})
				if err != nil || res.Delivered != len(got) {
					t.Errorf("outcome %d: draining the survivor = %+v, %v; want %d delivered", i, res, err, len(got))
				}
			}
		})
	}
}

// Spec R27: NoSync trades durability for speed. After a power cut that
// keeps only the durable state, a NoSync queue has lost its unsynced
// appends, where the default queue has kept every one. Whatever an
// adversarial cut leaves of a NoSync queue (empty or torn files), Ingest
// drains it without an error, quarantining what is torn.
func TestNoSyncLosesOnPowerCut(t *testing.T) {
	t.Parallel()
	const n = 10
	for _, noSync := range []bool{false, true} {
		m := fsys.NewMem(nil)
		q := openMem(t, m.FS(), Options{NoSync: noSync})
		for i := range n {
			mustAppend(t, q, sampleRecord(i, ""))
		}
		var survived int
		for _, name := range m.Crash(nil).Names(".") {
			if _, ok := ulidFromPendingName(name); ok {
				survived++
			}
		}
		switch {
		case !noSync && survived != n:
			t.Errorf("default: %d of %d acknowledged appends survived", survived, n)
		case noSync && survived == n:
			t.Errorf("NoSync: all %d appends survived a cut that keeps only fsynced state: was something fsynced?", n)
		}
		if noSync {
			for s := range uint64(seeds(20)) {
				o := m.Crash(rand.New(rand.NewPCG(s, 99)))
				q2 := openMem(t, o.FS(), Options{NoSync: true})
				res, err := q2.Ingest(context.Background(), func(context.Context, Delivery) error { return nil }, IngestOptions{})
				if err != nil {
					t.Errorf("seed %d: Ingest after a NoSync power cut: %v", s, err)
				}
				if left := mustCount(t, q2); left != 0 {
					t.Errorf("seed %d: %d records left after the drain (%+v)", s, left, res)
				}
			}
		}
	}
}

// childAppendOverFileSizeLimit is the child of TestAppendFileSizeLimit: it
// lowers RLIMIT_FSIZE, ignores SIGXFSZ (so the write fails with EFBIG
// instead of killing the process), appends a record larger than the limit
// to the queue in dir, and prints the outcome as JSON.
func childAppendOverFileSizeLimit(dir string) int {
	const limit = 4096
	out := struct {
		Err   string `json:"err"`
		EFBIG bool   `json:"efbig"`
		Step  string `json:"step"`
		ULID  string `json:"ulid"`
	}{}
	signal.Ignore(syscall.SIGXFSZ)
	if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: limit, Max: limit}); err != nil {
		fmt.Fprintln(os.Stderr, "setrlimit:", err)
		return 3
	}
	q, err := Open(dir, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 3
	}
	defer q.Close()
	big := []byte(`{"surface":"` + strings.Repeat("x", 4*limit) + `"}`)
	id, err := q.Append(big)
	if err != nil {
		out.Err = err.Error()
		out.EFBIG = errors.Is(err, syscall.EFBIG)
		var oe *OpError
		if errors.As(err, &oe) {
			out.Step = oe.Step
		}
	} else {
		out.ULID = id.String()
	}
	json.NewEncoder(os.Stdout).Encode(out)
	return 0
}

// Spec R8, R10: the real short write. A process whose file-size limit is
// smaller than the envelope gets a partial write and then EFBIG; the
// reference published such truncated files. capq must fail the append
// with EFBIG and leave neither a pending nor a tmp file.
func TestAppendFileSizeLimit(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	dir := t.TempDir()
	q, err := Open(dir, Options{}) // create the directory with normal limits
	if err != nil {
		t.Fatal(err)
	}
	q.Close()
	exe, err := os.Executable()
	if err != nil {
		t.Skip("cannot find the test binary:", err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=fsize", childDirEnv+"="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, stderr.String())
	}
	var got struct {
		Err   string `json:"err"`
		EFBIG bool   `json:"efbig"`
		Step  string `json:"step"`
		ULID  string `json:"ulid"`
	}
	if err := json.Unmarshal(stdout, &got); err != nil {
		t.Fatalf("child output %q: %v", stdout, err)
	}
	if got.ULID != "" {
		t.Errorf("Append over RLIMIT_FSIZE succeeded with %s", got.ULID)
	}
	if !got.EFBIG || got.Step != "write" {
		t.Errorf("Append over RLIMIT_FSIZE: err %q (EFBIG %v, step %q), want EFBIG at step write", got.Err, got.EFBIG, got.Step)
	}
	names, err := filepath.Glob(filepath.Join(dir, "pending-*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 0 {
		t.Errorf("files left by the failed append: %v", names)
	}
}

// crashAt runs op on a queue over f (a Fault around a view of m) and cuts
// the power just before the file system call number k (counting from 1)
// of op; k beyond op's calls means no cut. It returns whether the cut
// happened, and the outcomes: Crash(nil) and eight adversarial ones.
//
// Every call after the cut fails with EIO. Code that retries such a call
// forever would hang the test, so after maxAfterCut calls the hook reports
// a live-lock and fails the calls with ENOENT instead, which ends the loops
// that wait for a free name.
func crashAt(t testing.TB, m *fsys.Mem, f *fsys.Fault, k int, op func()) (bool, []*fsys.Mem) {
	const maxAfterCut = 10000
	var calls atomic.Int32
	var outcomes []*fsys.Mem
	var livelock atomic.Bool
	f.SetHook(func(c fsys.Call) error {
		n := int(calls.Add(1))
		if n == k {
			outcomes = append(outcomes, m.Crash(nil))
			for s := range uint64(8) {
				outcomes = append(outcomes, m.Crash(rand.New(rand.NewPCG(s, uint64(k)))))
			}
		}
		if n > k+maxAfterCut {
			if !livelock.Swap(true) {
				t.Errorf("cut before call %d: still calling the file system %d calls after the power cut (last: %s %s): a loop retries an error forever", k, maxAfterCut, c.Op, c.Name)
			}
			return syscall.ENOENT
		}
		return nil
	})
	op()
	f.SetHook(nil)
	return len(outcomes) > 0, outcomes
}

// findBytes reports whether data is the content of name in the root or in
// one of the folders, under name or a name derived from it (quarantine
// adds ".1", ".2" on collisions).
func findBytes(m *fsys.Mem, name string, data []byte, folders ...string) bool {
	for _, dir := range append([]string{"."}, folders...) {
		for _, n := range m.Names(dir) {
			if !strings.HasPrefix(n, name) {
				continue
			}
			p := n
			if dir != "." {
				p = dir + "/" + n
			}
			if got, err := m.ReadFile(p); err == nil && string(got) == string(data) {
				return true
			}
		}
	}
	return false
}

// Spec R15, R17, R21: a power cut before each single file-system call of
// an Ingest that delivers one record, quarantines a corrupt one and
// dead-letters a poison one. Whatever the cut leaves, no bytes are lost:
// the corrupt file is in the root or in quarantine/, the poison record in
// the root or in dead-letter/, and the good record is still pending unless
// its handler had been called.
func TestPowerCutAtEveryStepOfIngest(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 5, 2, 15, 0, 0, 0, time.UTC)
	corrupt, poison, good := newULID(t).String(), newULID(t).String(), newULID(t).String()
	corruptData := []byte(rawEnvelope(corrupt, `"a string"`, "1"))
	poisonData := appendEnvelope(nil, ulid.MustParse(poison), at, []byte(`{"poison":true}`))
	goodData := appendEnvelope(nil, ulid.MustParse(good), at, []byte(`{"good":true}`))
	setup := func() (*fsys.Mem, *fsys.Fault, *Queue) {
		m := fsys.NewMem(nil)
		for name, data := range map[string][]byte{
			pendingName(corrupt): corruptData,
			pendingName(poison):  poisonData,
			pendingName(good):    goodData,
			lockName(poison):     []byte(`{"attempt":2,"failed":"x","error":"boom"}` + "\n"),
		} {
			if err := m.WriteFile(name, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		f := fsys.NewFault(m.FS())
		return m, f, openMem(t, f, Options{SkipRecover: true})
	}
	for k := 1; ; k++ {
		m, f, q := setup()
		var goodSeen atomic.Bool
		cut, outcomes := crashAt(t, m, f, k, func() {
			q.Ingest(context.Background(), func(_ context.Context, d Delivery) error {
				if d.ULID.String() == poison {
					return errBoom
				}
				goodSeen.Store(true)
				return nil
			}, IngestOptions{MaxAttempts: 3})
		})
		if !cut {
			if k < 10 {
				t.Fatalf("only %d calls: the scenario did not run", k-1)
			}
			t.Logf("cut before each of %d calls", k-1)
			break
		}
		for i, o := range outcomes {
			if !findBytes(o, pendingName(corrupt), corruptData, quarantineDir) {
				t.Errorf("cut %d outcome %d: the corrupt file's bytes are gone: root %v, quarantine %v", k, i, o.Names("."), o.Names(quarantineDir))
			}
			if !findBytes(o, pendingName(poison), poisonData, deadLetterDir) {
				t.Errorf("cut %d outcome %d: the poison record is gone: root %v, dead-letter %v", k, i, o.Names("."), o.Names(deadLetterDir))
			}
			// A file never moves without a durable line saying why.
			// BUG(lead): writeAudit (queue/audit.go:106) creates the
			// log without fsyncing the root directory, so the first
			// audit line of a queue is durable data under a name that
			// may not be: the quarantine's move can survive a cut that
			// loses the log (cut 21). The overflow prune has the same
			// hole (TestPowerCutAtEveryStepOfOverflow).
			reasons := auditReasons(o)
			if !findBytes(o, pendingName(corrupt), corruptData) && !reasons[corrupt+" "+string(ReasonQuarantined)] {
				t.Errorf("cut %d outcome %d: the corrupt file was quarantined without a durable audit line", k, i)
			}
			if !findBytes(o, pendingName(poison), poisonData) {
				if !reasons[poison+" "+string(ReasonDeadLetter)] {
					t.Errorf("cut %d outcome %d: the poison record was dead-lettered without a durable audit line", k, i)
				}
				// BUG(lead): deadLetter (queue/deadletter.go:27) writes
				// the history with writeFile, which renames it into
				// dead-letter/ without fsyncing that folder, then moves
				// the record in; both entries only become durable at the
				// final syncDirs, so a cut before it can keep the record
				// and lose the history (cuts 54-56), although the code
				// promises "a dead letter is never without it". Fix:
				// syncDirs(op, deadLetterDir) right after writeFile.
				if !slices.Contains(o.Names(deadLetterDir), pendingName(poison)[:len(pendingName(poison))-len(pendingSuffix)]+historySuffix) {
					t.Errorf("cut %d outcome %d: a dead letter without its history: %v", k, i, o.Names(deadLetterDir))
				}
			}
			if !goodSeen.Load() && !findBytes(o, pendingName(good), goodData) {
				t.Errorf("cut %d outcome %d: the good record vanished before its handler ran", k, i)
			}
			// The survivor opens and drains without an error.
			q2 := openMem(t, o.FS(), Options{})
			if _, err := q2.Ingest(context.Background(), func(context.Context, Delivery) error { return nil }, IngestOptions{}); err != nil {
				t.Errorf("cut %d outcome %d: draining the survivor: %v", k, i, err)
			}
		}
	}
}

// auditReasons returns the durable audit lines of a Mem as "ULID reason"
// keys.
func auditReasons(m *fsys.Mem) map[string]bool {
	out := map[string]bool{}
	data, err := m.ReadFile(auditLogName)
	if err != nil {
		return out
	}
	for line := range strings.Lines(string(data)) {
		var e AuditEntry
		if json.Unmarshal([]byte(line), &e) == nil {
			out[e.ULID+e.DroppedULID+" "+string(e.Reason)] = true
		}
	}
	return out
}

// Spec R17: a power cut before each call of Requeue never loses the dead
// letter: it is in dead-letter/ or back in the root.
func TestPowerCutAtEveryStepOfRequeue(t *testing.T) {
	t.Parallel()
	for k := 1; ; k++ {
		m, f, q := openMemFault(t, Options{})
		id := mustAppend(t, q, sampleRecord(0, "poison"))
		data, _ := m.ReadFile(pendingName(id.String()))
		if res, err := q.Ingest(context.Background(), failing(new([]Delivery), id), IngestOptions{MaxAttempts: 1}); err != nil || res.DeadLettered != 1 {
			t.Fatalf("dead-lettering: %+v, %v", res, err)
		}
		cut, outcomes := crashAt(t, m, f, k, func() { q.Requeue(id) })
		if !cut {
			t.Logf("cut before each of %d calls", k-1)
			break
		}
		for i, o := range outcomes {
			if !findBytes(o, pendingName(id.String()), data, deadLetterDir) {
				t.Errorf("cut %d outcome %d: the record is gone: root %v, dead-letter %v", k, i, o.Names("."), o.Names(deadLetterDir))
			}
		}
	}
}

// Spec R9, R10: when a shared directory fsync fails, every appender that
// relied on it fails and is rolled back, and every appender that returned
// nil is durable: no acknowledged record is missing after a power cut,
// and no failed append left its record behind.
func TestGroupCommitFailureIsConsistent(t *testing.T) {
	t.Parallel()
	for _, fail := range []int{0, 1} { // which directory fsync fails
		t.Run(fmt.Sprint("fail-after-", fail), func(t *testing.T) {
			const n = 30
			m, f, q := openMemFault(t, Options{})
			f.Reset()
			f.Inject(fsys.Rule{Op: fsys.OpSyncDir, After: fail, Times: 1, Err: syscall.EIO})
			holdDirSyncsUntilRenames(f, n)
			var wg sync.WaitGroup
			ids := make([]ulid.ULID, n)
			errs := make([]error, n)
			for i := range n {
				wg.Go(func() { ids[i], errs[i] = q.Append(sampleRecord(i, fmt.Sprint("r", i))) })
			}
			wg.Wait()
			f.SetHook(nil)
			current := m.Names(".")
			durable := memPending(t, m.Crash(nil))
			failed := 0
			for i, err := range errs {
				if err != nil {
					failed++
					if !errors.Is(err, ErrSync) || !errors.Is(err, syscall.EIO) {
						t.Errorf("append %d: %v, want ErrSync and EIO", i, err)
					}
					continue
				}
				if durable[ids[i].String()] == nil {
					t.Errorf("append %d (%s) acknowledged but lost at the power cut", i, ids[i])
				}
			}
			for name := range durable {
				i := slices.IndexFunc(ids, func(id ulid.ULID) bool { return id.String() == name })
				if i < 0 || errs[i] != nil {
					t.Errorf("%s survived the power cut although its append failed", name)
				}
			}
			for _, name := range current {
				if id, ok := ulidFromPendingName(name); ok {
					i := slices.IndexFunc(ids, func(u ulid.ULID) bool { return u.String() == id })
					if i >= 0 && errs[i] != nil {
						t.Errorf("%s still pending although its append failed", name)
					}
				}
			}
			if fail == 0 && failed == 0 {
				t.Error("no append failed although the first directory fsync failed")
			}
			t.Logf("%d of %d appends failed", failed, n)
		})
	}
}

// Spec R8, R9, R49: a power cut before each single call of an AppendBatch
// leaves no torn pending file, and a queue that opens and drains; with
// syncfs, and with concurrent fsyncs where the file system has no syncfs.
func TestPowerCutAtEveryStepOfAppend(t *testing.T) {
	t.Parallel()
	for _, syncfs := range []bool{true, false} {
		t.Run(fmt.Sprint("syncfs=", syncfs), func(t *testing.T) {
			for k := 1; ; k++ {
				m, f, q := openMemFault(t, Options{})
				if !syncfs {
					f.Inject(fsys.Rule{Op: fsys.OpSyncFS, Err: errors.ErrUnsupported})
				}
				recs := [][]byte{sampleRecord(0, ""), sampleRecord(1, ""), sampleRecord(2, "")}
				var err error
				cut, outcomes := crashAt(t, m, f, k, func() { _, err = q.AppendBatch(recs) })
				if !cut {
					if err != nil {
						t.Fatal(err)
					}
					t.Logf("cut before each of %d calls", k-1)
					break
				}
				if err == nil {
					t.Errorf("cut %d: AppendBatch succeeded after the power cut", k)
				}
				for i, o := range outcomes {
					got := memPending(t, o) // fails on a torn file
					drainSurvivor(t, o, len(got), fmt.Sprintf("cut %d outcome %d", k, i))
				}
			}
		})
	}
}

// drainSurvivor opens the queue a power cut left in o and drains it: it
// must deliver its want pending records and quarantine none (no file is
// torn). what names the cut and outcome.
func drainSurvivor(t *testing.T, o *fsys.Mem, want int, what string) {
	t.Helper()
	q := openMem(t, o.FS(), Options{})
	res, err := q.Ingest(context.Background(), func(context.Context, Delivery) error { return nil }, IngestOptions{})
	if err != nil || res.Delivered != want || res.Quarantined != 0 {
		t.Errorf("%s: draining the survivor: %+v, %v", what, res, err)
	}
}

// Spec R50, R9: a power cut before each single call of three concurrent
// Appends whose file flushes are grouped (a hook holds the first flush
// until all three tmp files are written): every acknowledged record
// survives with its bytes, no pending file is torn, and the survivor
// drains.
func TestPowerCutAtEveryStepOfGroupedAppends(t *testing.T) {
	t.Parallel()
	const n = 3
	for k := 1; ; k++ {
		m, f, q := openMemFault(t, Options{})
		var calls, writes atomic.Int32
		var mu sync.Mutex
		var outcomes []*fsys.Mem
		all, off := make(chan struct{}), make(chan struct{})
		f.SetHook(func(c fsys.Call) error {
			if int(calls.Add(1)) == k {
				mu.Lock()
				outcomes = append(outcomes, m.Crash(nil))
				for s := range uint64(4) {
					outcomes = append(outcomes, m.Crash(rand.New(rand.NewPCG(s, uint64(k)))))
				}
				mu.Unlock()
				close(off)
			}
			switch c.Op {
			case fsys.OpWrite:
				if writes.Add(1) == n {
					close(all)
				}
			case fsys.OpSync, fsys.OpSyncFS:
				select {
				case <-all:
				case <-off: // the power is off: a create may have failed
				}
			}
			return nil
		})
		recs := make([][]byte, n)
		ids := make([]ulid.ULID, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			recs[i] = sampleRecord(i, fmt.Sprint("grouped ", i))
			wg.Go(func() { ids[i], errs[i] = q.Append(recs[i]) })
		}
		wg.Wait()
		f.SetHook(nil)
		if len(outcomes) == 0 {
			for i, err := range errs {
				if err != nil {
					t.Fatalf("append %d without a power cut: %v", i, err)
				}
			}
			t.Logf("cut before each of %d calls", k-1)
			break
		}
		for j, o := range outcomes {
			got := memPending(t, o) // fails on a torn file
			for i, err := range errs {
				if err == nil && string(got[ids[i].String()]) != string(recs[i]) {
					t.Errorf("cut %d outcome %d: acknowledged %s lost", k, j, ids[i])
				}
			}
			drainSurvivor(t, o, len(got), fmt.Sprintf("cut %d outcome %d", k, j))
		}
	}
}

// Spec R18, R20: a power cut before each single call of an Append that
// triggers an overflow prune. Every record missing afterwards has a
// durable audit line saying it was dropped, and the record being appended
// is never the one dropped. Run with an audit log that this prune creates,
// and with one that is already durable.
func TestPowerCutAtEveryStepOfOverflow(t *testing.T) {
	t.Parallel()
	for _, existing := range []bool{false, true} {
		t.Run(fmt.Sprint("log exists: ", existing), func(t *testing.T) { powerCutOverflow(t, existing) })
	}
}

// powerCutOverflow runs TestPowerCutAtEveryStepOfOverflow, with or without
// an audit log that is already durable.
func powerCutOverflow(t *testing.T, existingLog bool) {
	const maxSize = 10
	for k := 1; ; k++ {
		m := fsys.NewMem(nil)
		if existingLog {
			if err := m.WriteFile(auditLogName, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		f := fsys.NewFault(m.FS())
		q := openMem(t, f, Options{MaxSize: maxSize})
		var old []string
		for i := range maxSize {
			old = append(old, mustAppend(t, q, sampleRecord(i, "")).String())
		}
		var id ulid.ULID
		var err error
		cut, outcomes := crashAt(t, m, f, k, func() { id, err = q.Append(sampleRecord(99, "newest")) })
		if !cut {
			if err != nil {
				t.Fatal(err)
			}
			if n := len(memPending(t, m)); n >= maxSize+1 {
				t.Fatalf("no prune happened: %d pending", n)
			}
			t.Logf("cut before each of %d calls", k-1)
			break
		}
		for i, o := range outcomes {
			got := memPending(t, o)
			logged := map[string]bool{}
			if data, err := o.ReadFile(auditLogName); err == nil {
				for line := range strings.Lines(string(data)) {
					var e AuditEntry
					if json.Unmarshal([]byte(line), &e) == nil && e.Reason == ReasonOverflow {
						logged[e.DroppedULID] = true
					}
				}
			}
			for _, u := range old {
				// BUG(lead): the first prune creates the audit log
				// (writeAudit, queue/audit.go: OpenFile with O_CREATE)
				// and fsyncs its data, but not the root directory, so
				// the log's directory entry is not durable when the
				// record is unlinked; a power cut before pruneChunk's
				// final directory fsync can keep the unlink and lose
				// the log (Mem's Crash(rng) draws such outcomes: cuts
				// 31 to 35). Fix: when writeAudit creates the log,
				// fsync the directory before returning (once per log).
				if got[u] == nil && !logged[u] {
					t.Errorf("cut %d outcome %d: %s dropped without a durable audit line", k, i, u)
				}
			}
			if err == nil && got[id.String()] == nil {
				t.Errorf("cut %d outcome %d: the acknowledged newest record was dropped", k, i)
			}
		}
	}
}

// Spec R19: Open lists the directory once, for the overflow rule's count,
// unless nothing needs the count: with SkipRecover and a negative MaxSize
// it lists nothing. Appends and Count work the same either way.
func TestOpenListsOnlyWhenTheCountIsNeeded(t *testing.T) {
	for _, tc := range []struct {
		opts     Options
		listings int
	}{
		{Options{SkipRecover: true, MaxSize: -1}, 0},
		{Options{SkipRecover: true, MaxSize: 100}, 1},
		{Options{SkipRecover: true}, 1},
		{Options{MaxSize: -1}, -1}, // recovery lists (root and folders): at least once
	} {
		t.Run(fmt.Sprintf("skip=%v/max=%d", tc.opts.SkipRecover, tc.opts.MaxSize), func(t *testing.T) {
			m := fsys.NewMem(nil)
			seed := openMem(t, m.FS(), Options{})
			for i := range 3 {
				mustAppend(t, seed, sampleRecord(i, ""))
			}
			f := fsys.NewFault(m.FS())
			q := openMem(t, f, tc.opts)
			if got := f.Calls(fsys.OpReadDir); got != tc.listings && (tc.listings >= 0 || got == 0) {
				t.Errorf("Open listed the directory %d times, want %d", got, tc.listings)
			}
			mustAppend(t, q, sampleRecord(9, ""))
			if n := mustCount(t, q); n != 4 {
				t.Errorf("Count = %d, want 4", n)
			}
		})
	}
}
