package benchsuite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/capq/capq/bench/floor"
	"github.com/capq/capq/internal/layout"
	"github.com/capq/capq/queue"
	"github.com/capq/capq/ulid"
)

// arm accumulates the time and allocations of one side of an interleaved
// benchmark.
type arm struct {
	d       time.Duration
	n       int
	mallocs uint64
	bytes   uint64
}

// timed runs f as n operations of the arm, adding its wall time.
func (a *arm) timed(n int, f func() error) error {
	t0 := time.Now()
	err := f()
	a.d += time.Since(t0)
	a.n += n
	return err
}

// measured is timed that also counts heap allocations (runtime.MemStats
// around f: a stop-the-world read, outside the timed window).
func (a *arm) measured(n int, f func() error) error {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := a.timed(n, f)
	runtime.ReadMemStats(&after)
	a.mallocs += after.Mallocs - before.Mallocs
	a.bytes += after.TotalAlloc - before.TotalAlloc
	return err
}

func (a *arm) nsPerOp() float64 {
	if a.n == 0 {
		return 0
	}
	return float64(a.d.Nanoseconds()) / float64(a.n)
}

func (a *arm) perSec() float64 {
	if a.d <= 0 {
		return 0
	}
	return float64(a.n) / a.d.Seconds()
}

func (a *arm) allocsPerOp() float64 { return float64(a.mallocs) / float64(max(a.n, 1)) }
func (a *arm) bytesPerOp() float64  { return float64(a.bytes) / float64(max(a.n, 1)) }

// floorAppend makes one durable append with the floor, its envelope built
// before the clock starts (the floor's cost is its system calls only).
func floorAppend(a *arm, d *floor.Dir, buf []byte, syncDir func() error) error {
	name, data, err := envelope(buf[:0])
	if err != nil {
		return err
	}
	return a.timed(1, func() error { return d.Append(name+floor.TmpSuffix, name, data, syncDir) })
}

// DurableAppend interleaves capq's Append with the floor's durable append
// (create O_EXCL, write, fsync, rename, directory fsync), one goroutine,
// each on an empty directory of its own, alternating which goes first.
// Target: speed-vs-floor (floor time / capq time) >= 0.85.
func (e *Env) DurableAppend(b *testing.B) {
	q := e.openQueue(b, e.newDir(b, "append-capq"), noPrune)
	defer q.Close()
	d := e.openFloor(b, e.newDir(b, "append-floor"))
	defer d.Close()
	var capq, fl arm
	buf := make([]byte, 0, 512)
	b.ResetTimer()
	for i := range b.N {
		if i%2 == 1 {
			if err := floorAppend(&fl, d, buf, d.SyncDir); err != nil {
				e.fatal(b, err)
			}
		}
		if err := capq.measured(1, func() error { _, err := q.Append(Record); return err }); err != nil {
			e.fatal(b, err)
		}
		if i%2 == 0 {
			if err := floorAppend(&fl, d, buf, d.SyncDir); err != nil {
				e.fatal(b, err)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(capq.nsPerOp(), "capq-ns/op")
	b.ReportMetric(fl.nsPerOp(), "floor-ns/op")
	b.ReportMetric(fl.nsPerOp()/capq.nsPerOp(), "speed-vs-floor")
	b.ReportMetric(capq.allocsPerOp(), "capq-allocs/op")
	b.ReportMetric(capq.bytesPerOp(), "capq-B/op")
}

// Append is capq's durable append alone, for profiles and -benchmem.
func (e *Env) Append(b *testing.B) {
	q := e.openQueue(b, e.newDir(b, "append-only"), noPrune)
	defer q.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := q.Append(Record); err != nil {
			e.fatal(b, err)
		}
	}
}

// FloorAppend is the floor's durable append alone.
func (e *Env) FloorAppend(b *testing.B) {
	d := e.openFloor(b, e.newDir(b, "append-floor-only"))
	defer d.Close()
	var fl arm
	buf := make([]byte, 0, 512)
	b.ResetTimer()
	for range b.N {
		if err := floorAppend(&fl, d, buf, d.SyncDir); err != nil {
			e.fatal(b, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(fl.perSec(), "appends/s")
}

// Writers is the number of concurrent appenders of ConcurrentAppend.
const Writers = 50

// parallel runs n operations on w goroutines (each takes the next index
// from a shared counter) and returns the first error.
func parallel(w, n int, op func(i int) error) error {
	var next atomic.Int64
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for range min(w, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := op(i); err != nil {
					mu.Lock()
					first = cmpOr(first, err)
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// ConcurrentAppend interleaves three arms of Writers goroutines appending
// durably, chunk by chunk (2 appends per writer per chunk, rotating which
// arm goes first): capq (one Queue, group commit); the floor sharing
// directory fsyncs (floor.Group); the floor where every writer fsyncs the
// directory itself. One op is one append in each arm.
// Target: speed-vs-floor (floor-shared time / capq time) >= 0.85.
func (e *Env) ConcurrentAppend(b *testing.B) {
	q := e.openQueue(b, e.newDir(b, "concurrent-capq"), noPrune)
	defer q.Close()
	ds := e.openFloor(b, e.newDir(b, "concurrent-floor-shared"))
	defer ds.Close()
	du := e.openFloor(b, e.newDir(b, "concurrent-floor-unshared"))
	defer du.Close()
	group := floor.NewGroup(ds)
	var capq, shared, unshared arm
	chunk := Writers * 2
	es := newEnvelopes(chunk)
	arms := []func(n int) error{
		func(n int) error {
			return capq.timed(n, func() error {
				return parallel(Writers, n, func(int) error { _, err := q.Append(Record); return err })
			})
		},
		func(n int) error { return es.timedAppend(&shared, ds, Writers, n, group.Sync) },
		func(n int) error { return es.timedAppend(&unshared, du, Writers, n, du.SyncDir) },
	}
	e.runArms(b, chunk, arms)
	b.ReportMetric(capq.nsPerOp(), "capq-ns/op")
	b.ReportMetric(shared.nsPerOp(), "floor-shared-ns/op")
	b.ReportMetric(unshared.nsPerOp(), "floor-unshared-ns/op")
	b.ReportMetric(shared.nsPerOp()/capq.nsPerOp(), "speed-vs-floor")
	b.ReportMetric(unshared.nsPerOp()/capq.nsPerOp(), "speed-vs-unshared")
}

// envelopes holds fresh envelopes for concurrent floor appends, built
// before each timed round: making a record is the producer's work, not
// the floor's, and capq's arm is not charged for it either.
type envelopes struct {
	names []string
	datas [][]byte
}

// newEnvelopes returns room for rounds of up to n envelopes.
func newEnvelopes(n int) *envelopes {
	return &envelopes{names: make([]string, n), datas: make([][]byte, n)}
}

// fill builds n fresh envelopes (new ULIDs), reusing the last round's
// buffers.
func (es *envelopes) fill(n int) error {
	for i := range n {
		name, data, err := envelope(es.datas[i][:0])
		if err != nil {
			return err
		}
		es.names[i], es.datas[i] = name, data
	}
	return nil
}

// appendAll appends the first n envelopes into d, w writers at once,
// each append made durable by syncDir (a floor.Group's Sync, or
// d.SyncDir for a writer that fsyncs the directory itself).
func (es *envelopes) appendAll(d *floor.Dir, w, n int, syncDir func() error) error {
	return parallel(w, n, func(i int) error {
		return d.Append(es.names[i]+floor.TmpSuffix, es.names[i], es.datas[i], syncDir)
	})
}

// timedAppend is an arm's round: fill, untimed, then appendAll timed
// in a.
func (es *envelopes) timedAppend(a *arm, d *floor.Dir, w, n int, syncDir func() error) error {
	if err := es.fill(n); err != nil {
		return err
	}
	return a.timed(n, func() error { return es.appendAll(d, w, n, syncDir) })
}

// FloorConcurrentAppend is the floor's concurrent append alone, with
// shared directory fsyncs or with one per writer.
func (e *Env) FloorConcurrentAppend(sharedSync bool) func(b *testing.B) {
	return func(b *testing.B) {
		d := e.openFloor(b, e.newDir(b, "concurrent-floor-only"))
		defer d.Close()
		syncDir := d.SyncDir
		if sharedSync {
			syncDir = floor.NewGroup(d).Sync
		}
		var fl arm
		es := newEnvelopes(b.N)
		if err := es.fill(b.N); err != nil {
			e.fatal(b, err)
		}
		b.ResetTimer()
		err := fl.timed(b.N, func() error { return es.appendAll(d, Writers, b.N, syncDir) })
		b.StopTimer()
		if err != nil {
			e.fatal(b, err)
		}
		b.ReportMetric(fl.perSec(), "appends/s")
	}
}

// checkInterval mirrors the queue's count interval (queue/queue.go,
// countInterval): with a MaxSize that never prunes, a process lists the
// directory once every max(100, count/100) of its own appends.
func checkInterval(count int) int { return max(100, count/100) }

// AppendAtDepth interleaves capq appends into queues already holding 0,
// medium and deep pending records (MaxSize too large to prune), and the
// floor's append at 0 and at the deep depth, rotating the order. The
// overflow check lists the directory once every checkInterval appends,
// more rarely than a short run appends, so its amortised cost is measured
// apart (one Count at the deep depth divided by the interval) and added
// in time-<deep>-vs-0-with-check. Targets: that ratio <= 1.2 (issue 7);
// time-<deep>-vs-0 <= 1.5 (issue 2).
func (e *Env) AppendAtDepth(b *testing.B) {
	medium, deep := e.Depths()
	depths := []int{0, medium, deep}
	qs := make([]*queue.Queue, len(depths))
	caps := make([]arm, len(depths))
	for i, n := range depths {
		dir := e.newDir(b, "depth-0")
		if n > 0 {
			dir = e.fill(b, "depth", n, false)
		}
		qs[i] = e.openQueue(b, dir, noPrune)
		defer qs[i].Close()
	}
	d0 := e.openFloor(b, e.newDir(b, "depth-0-floor"))
	defer d0.Close()
	dd := e.openFloor(b, e.fill(b, "depth-floor", deep, false))
	defer dd.Close()
	var f0, fd arm
	buf := make([]byte, 0, 512)
	ops := make([]func() error, 0, 5)
	for i := range qs {
		ops = append(ops, func() error {
			return caps[i].timed(1, func() error { _, err := qs[i].Append(Record); return err })
		})
	}
	ops = append(ops,
		func() error { return floorAppend(&f0, d0, buf, d0.SyncDir) },
		func() error { return floorAppend(&fd, dd, buf, dd.SyncDir) })
	b.ResetTimer()
	for i := range b.N {
		for k := range ops {
			if err := ops[(k+i)%len(ops)](); err != nil {
				e.fatal(b, err)
			}
		}
	}
	b.StopTimer()
	// The overflow check's listing, amortised over its interval.
	t0 := time.Now()
	count, err := qs[2].Count()
	if err != nil {
		e.fatal(b, err)
	}
	check := float64(time.Since(t0).Nanoseconds()) / float64(checkInterval(count))
	for i, n := range depths {
		b.ReportMetric(caps[i].nsPerOp(), fmt.Sprintf("capq-%d-ns/op", n))
	}
	b.ReportMetric(f0.nsPerOp(), "floor-0-ns/op")
	b.ReportMetric(fd.nsPerOp(), fmt.Sprintf("floor-%d-ns/op", deep))
	b.ReportMetric(check, fmt.Sprintf("check-%d-ns/op", deep))
	b.ReportMetric(caps[2].nsPerOp()/caps[0].nsPerOp(), fmt.Sprintf("time-%d-vs-0", deep))
	b.ReportMetric((caps[2].nsPerOp()+check)/caps[0].nsPerOp(), fmt.Sprintf("time-%d-vs-0-with-check", deep))
	b.ReportMetric(fd.nsPerOp()/f0.nsPerOp(), fmt.Sprintf("floor-time-%d-vs-0", deep))
}

// noop is the handler of the ingest benchmarks.
func noop(context.Context, queue.Delivery) error { return nil }

// floorConsume claims and deletes the n oldest records of d with the
// floor, fsyncing the directory every every deletes and at the end, as
// capq's Ingest does with DeleteSyncEvery.
func floorConsume(d *floor.Dir, n, every int, listBuf, readBuf []byte, ids [][floor.IDLen]byte) ([][floor.IDLen]byte, error) {
	ids, err := d.Oldest(listBuf, n, ids)
	if err != nil {
		return ids, err
	}
	if len(ids) < n {
		return ids, fmt.Errorf("floor: %d records pending, want %d", len(ids), n)
	}
	unsynced := 0
	var name [len(floor.Prefix) + floor.IDLen + len(floor.LockSuffix)]byte
	for _, id := range ids {
		base := append(append(name[:0], floor.Prefix...), id[:]...)
		rec := string(append(base, floor.Suffix...))
		lock := string(append(base[:len(floor.Prefix)+floor.IDLen], floor.LockSuffix...))
		if _, err := d.Consume(rec, lock, readBuf); err != nil {
			return ids, err
		}
		if unsynced++; unsynced >= every {
			if err := d.SyncDir(); err != nil {
				return ids, err
			}
			unsynced = 0
		}
	}
	if unsynced > 0 {
		return ids, d.SyncDir()
	}
	return ids, nil
}

// ingestChunk is how many records one bounded drain takes at depth: 1,000
// (MaxRecords), or a quarter of a shallower queue.
func ingestChunk(depth int) int { return max(min(depth/4, 1000), 1) }

// Ingest compares capq's Ingest (no-op handler, DeleteSyncEvery at its
// default of 64) with the floor's claim-and-delete (lock file created
// O_EXCL and flocked, record read with one read, record and lock unlinked,
// directory fsync per 64 deletes and at the end), each on its own
// directory holding depth pending records. Each arm drains chunks of
// ingestChunk records with one bounded pass (capq: Ingest with MaxRecords;
// floor: one listing keeping the oldest), after which the consumed records
// are written back, untimed, so the depth holds.
//
// The arms interleave record by record: capq's handler consumes the
// floor's next record, timed on its own clock, and that time is taken out
// of capq's. Interleaving per record matters on the disks capq targets,
// where creates slow down for minutes after many deletes: an arm that ran
// after the other would pay for the other's deletes. One op is one record
// delivered in each arm. Target: speed-vs-floor >= 0.8.
func (e *Env) Ingest(depth int) func(b *testing.B) {
	return func(b *testing.B) {
		qdir := e.fill(b, "depth", depth, false)
		q := e.openQueue(b, qdir, noPrune)
		defer q.Close()
		d := e.openFloor(b, e.fill(b, "depth-floor", depth, false))
		defer d.Close()
		qd := e.openFloor(b, qdir) // to write capq's records back
		defer qd.Close()
		ctx := context.Background()
		var capq, fl arm
		listBuf := make([]byte, floor.ListBufSize)
		readBuf := make([]byte, 64<<10)
		var ids [][floor.IDLen]byte
		var name [len(floor.Prefix) + floor.IDLen + len(floor.LockSuffix)]byte
		every := q.Options().DeleteSyncEvery
		chunk := ingestChunk(depth)
		var next, unsynced int
		var inHandler time.Duration // floor time spent inside capq's handler
		floorOne := func() error {
			if next >= len(ids) {
				return nil
			}
			id := ids[next]
			next++
			t0 := time.Now()
			base := append(append(name[:0], floor.Prefix...), id[:]...)
			rec := string(append(base, floor.Suffix...))
			lock := string(append(base[:len(floor.Prefix)+floor.IDLen], floor.LockSuffix...))
			_, err := d.Consume(rec, lock, readBuf)
			if err == nil {
				if unsynced++; unsynced >= every {
					err = d.SyncDir()
					unsynced = 0
				}
			}
			dt := time.Since(t0)
			fl.d += dt
			fl.n++
			inHandler += dt
			return err
		}
		// On every other chunk the floor lags one record behind, so that
		// its directory fsyncs come after capq's as often as before them
		// (whichever fsyncs first may write back metadata both dirtied).
		lag, calls := false, 0
		handler := func(context.Context, queue.Delivery) error {
			calls++
			if lag && calls == 1 {
				return nil
			}
			return floorOne()
		}
		lag = e.flip()
		b.ResetTimer()
		for done := 0; done < b.N; lag = !lag {
			n := min(chunk, b.N-done)
			// The floor's listing, then capq's drain with the floor's
			// records in its handler, then whatever the floor has left.
			t0 := time.Now()
			var err error
			ids, err = d.Oldest(listBuf, n, ids)
			fl.d += time.Since(t0)
			if err == nil && len(ids) < n {
				err = fmt.Errorf("floor: %d records pending, want %d", len(ids), n)
			}
			if err != nil {
				e.fatal(b, err)
			}
			next, unsynced, inHandler, calls = 0, 0, 0, 0
			var res queue.Result
			err = capq.timed(0, func() error {
				var err error
				res, err = q.Ingest(ctx, handler, queue.IngestOptions{MaxRecords: n})
				return err
			})
			capq.d -= inHandler
			capq.n += res.Delivered
			if err == nil && res.Delivered != n {
				err = fmt.Errorf("capq delivered %d of %d records (%+v)", res.Delivered, n, res)
			}
			for err == nil && next < len(ids) {
				err = floorOne()
			}
			if err == nil && unsynced > 0 {
				t0 := time.Now()
				err = d.SyncDir()
				fl.d += time.Since(t0)
			}
			if err != nil {
				e.fatal(b, err)
			}
			b.StopTimer()
			if err := errors.Join(e.refill(qd, n), e.refill(d, n)); err != nil {
				e.fatal(b, err)
			}
			b.StartTimer()
			done += n
		}
		b.StopTimer()
		b.ReportMetric(capq.perSec(), "capq-records/s")
		b.ReportMetric(fl.perSec(), "floor-records/s")
		b.ReportMetric(capq.perSec()/fl.perSec(), "speed-vs-floor")
	}
}

// IngestOnly is capq's Ingest alone at depth (same chunks and refills as
// Ingest), for profiles and -benchmem: Ingest's handler runs the floor's
// work, whose allocations would mix with capq's.
func (e *Env) IngestOnly(depth int) func(b *testing.B) {
	return func(b *testing.B) {
		dir := e.fill(b, "depth", depth, false)
		q := e.openQueue(b, dir, noPrune)
		defer q.Close()
		d := e.openFloor(b, dir)
		defer d.Close()
		ctx := context.Background()
		chunk := ingestChunk(depth)
		b.ReportAllocs()
		b.ResetTimer()
		for done := 0; done < b.N; {
			n := min(chunk, b.N-done)
			res, err := q.Ingest(ctx, noop, queue.IngestOptions{MaxRecords: n})
			if err != nil || res.Delivered != n {
				e.fatalf(b, "delivered %d of %d: %v", res.Delivered, n, err)
			}
			b.StopTimer()
			if err := e.refill(d, n); err != nil {
				e.fatal(b, err)
			}
			b.StartTimer()
			done += n
		}
	}
}

// FloorConsume is the floor's claim-and-delete alone at depth.
func (e *Env) FloorConsume(depth int) func(b *testing.B) {
	return func(b *testing.B) {
		dir := e.fill(b, "depth", depth, false)
		d := e.openFloor(b, dir)
		defer d.Close()
		listBuf := make([]byte, floor.ListBufSize)
		readBuf := make([]byte, 64<<10)
		var ids [][floor.IDLen]byte
		chunk := ingestChunk(depth)
		var fl arm
		b.ResetTimer()
		for done := 0; done < b.N; {
			n := min(chunk, b.N-done)
			err := fl.timed(n, func() error {
				var err error
				ids, err = floorConsume(d, n, 64 /* queue.Options.DeleteSyncEvery's default */, listBuf, readBuf, ids)
				return err
			})
			if err != nil {
				e.fatal(b, err)
			}
			b.StopTimer()
			if err := e.refill(d, n); err != nil {
				e.fatal(b, err)
			}
			b.StartTimer()
			done += n
		}
		b.StopTimer()
		b.ReportMetric(fl.perSec(), "records/s")
	}
}

// listFill returns the directory a listing at depth runs on: the shared
// depth fill, or for 1,000,000 a fill of empty files.
func (e *Env) listFill(b *testing.B, depth int) string {
	if depth >= 1_000_000 {
		return e.fill(b, "list", depth, true)
	}
	return e.fill(b, "depth", depth, false)
}

// CountList interleaves, on one directory of depth pending files: the
// floor's count (getdents64 into a 1 MiB buffer), capq's Count, capq's
// List, and os.ReadDir (for comparison), rotating the order. Memory is
// the bytes allocated per call (runtime.MemStats.TotalAlloc), an upper
// bound on the heap growth the call causes; the floor's buffer and capq's
// pooled 256 KiB buffer are allocated once, before the clock starts.
// Targets: capq count time-vs-floor <= 1.5; count-B/op < 16 MiB.
func (e *Env) CountList(depth int) func(b *testing.B) {
	return func(b *testing.B) {
		dir := e.listFill(b, depth)
		q := e.openQueue(b, dir, noPrune)
		defer q.Close()
		d := e.openFloor(b, dir)
		defer d.Close()
		listBuf := make([]byte, floor.ListBufSize)
		var fl, cnt, lst, rd arm
		var fn, cn, ln int
		ops := []func() error{
			func() error {
				return fl.measured(1, func() (err error) { fn, err = d.Count(listBuf); return err })
			},
			func() error { return cnt.measured(1, func() (err error) { cn, err = q.Count(); return err }) },
			func() error {
				return lst.measured(1, func() error { ids, err := q.List(); ln = len(ids); return err })
			},
			func() error {
				return rd.measured(1, func() error { _, err := os.ReadDir(dir); return err })
			},
		}
		b.ResetTimer()
		for i := range b.N {
			for k := range ops {
				if err := ops[(k+i)%len(ops)](); err != nil {
					e.fatal(b, err)
				}
			}
			if fn != cn || cn != ln || cn < depth {
				e.fatalf(b, "floor counted %d, capq counted %d and listed %d, want %d", fn, cn, ln, depth)
			}
		}
		b.StopTimer()
		b.ReportMetric(fl.nsPerOp(), "floor-count-ns/op")
		b.ReportMetric(cnt.nsPerOp(), "capq-count-ns/op")
		b.ReportMetric(cnt.nsPerOp()/fl.nsPerOp(), "time-vs-floor")
		b.ReportMetric(fl.bytesPerOp(), "floor-count-B/op")
		b.ReportMetric(cnt.bytesPerOp(), "capq-count-B/op")
		b.ReportMetric(cnt.allocsPerOp(), "capq-count-allocs/op")
		b.ReportMetric(lst.nsPerOp(), "capq-list-ns/op")
		b.ReportMetric(lst.bytesPerOp(), "capq-list-B/op")
		b.ReportMetric(rd.nsPerOp(), "readdir-ns/op")
		b.ReportMetric(rd.bytesPerOp(), "readdir-B/op")
	}
}

// FloorCount is the floor's count alone at depth.
func (e *Env) FloorCount(depth int) func(b *testing.B) {
	return func(b *testing.B) {
		d := e.openFloor(b, e.listFill(b, depth))
		defer d.Close()
		listBuf := make([]byte, floor.ListBufSize)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if _, err := d.Count(listBuf); err != nil {
				e.fatal(b, err)
			}
		}
	}
}

// Overflow appends durably to a queue that already holds MaxSize records
// (OverflowMaxSize), so that the first append prunes, and then every
// headroom+1 appends one
// append lists the directory and drops headroom+1 records (audit lines
// fsynced first). It tells the pruning appends from the others by the
// growth of the audit log, and reports the mean time of each kind, the
// slowest append, and the amortised time per append (ns/op), which over
// any whole number of prune cycles equals the steady state of 100,000
// appends.
func (e *Env) Overflow(b *testing.B) {
	maxSize := e.OverflowMaxSize()
	dir := e.fill(b, "overflow", maxSize, false)
	// Earlier runs pruned the fill below MaxSize: top it up (untimed,
	// before Open counts it), so that the first append prunes.
	d := e.openFloor(b, dir)
	have, err := d.Count(make([]byte, floor.ListBufSize))
	if err == nil && have < maxSize {
		err = e.refill(d, maxSize-have)
	}
	d.Close()
	if err != nil {
		e.fatal(b, err)
	}
	q := e.openQueue(b, dir, maxSize)
	defer q.Close()
	auditSize := func() int64 {
		fi, err := os.Stat(filepath.Join(dir, layout.AuditLogName))
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	var trig, plain arm
	var worst time.Duration
	size := auditSize()
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if _, err := q.Append(Record); err != nil {
			e.fatal(b, err)
		}
		dt := time.Since(t0)
		worst = max(worst, dt)
		b.StopTimer()
		if s := auditSize(); s != size {
			size = s
			trig.d += dt
			trig.n++
		} else {
			plain.d += dt
			plain.n++
		}
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(trig.nsPerOp(), "prune-append-ns")
	b.ReportMetric(plain.nsPerOp(), "plain-append-ns")
	b.ReportMetric(float64(worst.Nanoseconds()), "worst-append-ns")
	b.ReportMetric(float64(trig.n), "prunes")
	b.ReportMetric(float64((trig.d+plain.d).Nanoseconds())/float64(b.N), "amortised-ns/op")
}

// ULID measures ULID generation with the process's default generator.
func (e *Env) ULID(b *testing.B) {
	g := ulid.Default()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := g.New(); err != nil {
			e.fatal(b, err)
		}
	}
	b.StopTimer()
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "ulids/s")
	}
}
