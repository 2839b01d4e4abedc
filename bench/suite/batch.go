package benchsuite

import (
	"slices"
	"testing"

	"github.com/capq/capq/bench/floor"
	"github.com/capq/capq/queue"
)

// BatchSize is how many records one batch of BatchAppend holds (issue 16).
const BatchSize = 100

// Producers is the number of goroutines of ProducersAppend (issue 16).
const Producers = 16

// floorBatch makes one durable batch of n records with the floor in the
// given mode, its envelopes built before the clock starts.
func floorBatch(a *arm, d *floor.Dir, n int, mode floor.BatchMode) error {
	tmps, finals, datas := make([]string, n), make([]string, n), make([][]byte, n)
	for i := range n {
		name, data, err := envelope(nil)
		if err != nil {
			return err
		}
		tmps[i], finals[i], datas[i] = name+floor.TmpSuffix, name, data
	}
	return a.timed(n, func() error { return d.AppendBatch(tmps, finals, datas, mode, d.SyncDir) })
}

// floorSpareBatch is floorBatch with spare files: n empty spares are
// created first, untimed (as a background reserve would), and the timed
// batch renames them into place instead of creating its tmp files.
func floorSpareBatch(a *arm, d *floor.Dir, n int) error {
	spares, tmps, finals, datas := make([]string, n), make([]string, n), make([]string, n), make([][]byte, n)
	for i := range n {
		name, data, err := envelope(nil)
		if err != nil {
			return err
		}
		spares[i], tmps[i], finals[i], datas[i] = name+".spare", name+floor.TmpSuffix, name, data
		if err := d.WriteFile(spares[i], nil); err != nil {
			return err
		}
	}
	return a.timed(n, func() error { return d.AppendBatchSpare(spares, tmps, finals, datas, d.SyncDir) })
}

// appendEach makes n durable Appends of Record to q, one after another:
// capq's single-append arm, which the batch and producer arms are
// measured against.
func appendEach(q *queue.Queue, n int) error {
	for range n {
		if _, err := q.Append(Record); err != nil {
			return err
		}
	}
	return nil
}

// BatchAppend interleaves, batch by batch (BatchSize records, rotating
// which arm goes first): capq's single Append called BatchSize times;
// capq's AppendBatch of BatchSize records; and the floor's AppendBatch in
// every floor.BatchMode, each arm in a directory of its own; and the
// floor's syncfs batch with spare files (floor-spare, not counted as a
// variant: it needs a reserve of pre-created files). One op is one
// record in each arm. Targets (issue 16): batch-vs-single (single time /
// batch time) >= 5; speed-vs-floor-best (the fastest floor variant's time
// / capq batch time) >= 0.8.
func (e *Env) BatchAppend(b *testing.B) {
	q := e.openQueue(b, e.newDir(b, "batch-capq"), noPrune)
	defer q.Close()
	qs := e.openQueue(b, e.newDir(b, "batch-capq-single"), noPrune)
	defer qs.Close()
	var single, batch arm
	floors := make([]arm, len(floor.BatchModes))
	batchRecs := make([][]byte, BatchSize)
	for i := range batchRecs {
		batchRecs[i] = Record
	}
	arms := []func(n int) error{
		func(n int) error { return single.timed(n, func() error { return appendEach(qs, n) }) },
		func(n int) error {
			return batch.timed(n, func() error { _, err := q.AppendBatch(batchRecs[:n]); return err })
		},
	}
	for k, mode := range floor.BatchModes {
		d := e.openFloor(b, e.newDir(b, "batch-floor-"+mode.String()))
		defer d.Close()
		arms = append(arms, func(n int) error { return floorBatch(&floors[k], d, n, mode) })
	}
	var spare arm
	ds := e.openFloor(b, e.newDir(b, "batch-floor-spare"))
	defer ds.Close()
	arms = append(arms, func(n int) error { return floorSpareBatch(&spare, ds, n) })
	e.runArms(b, BatchSize, arms)
	b.ReportMetric(single.nsPerOp(), "capq-single-ns/op")
	b.ReportMetric(batch.nsPerOp(), "capq-batch-ns/op")
	best := 0.0
	for k, mode := range floor.BatchModes {
		ns := floors[k].nsPerOp()
		b.ReportMetric(ns, "floor-"+mode.String()+"-ns/op")
		if best == 0 || ns < best {
			best = ns
		}
	}
	b.ReportMetric(spare.nsPerOp(), "floor-spare-ns/op")
	if k := slices.Index(floor.BatchModes, floor.BatchSyncFS); k >= 0 {
		b.ReportMetric(floors[k].nsPerOp()/spare.nsPerOp(), "spare-vs-syncfs")
	}
	b.ReportMetric(single.nsPerOp()/batch.nsPerOp(), "batch-vs-single")
	b.ReportMetric(best/batch.nsPerOp(), "speed-vs-floor-best")
}

// FloorBatch is the floor's AppendBatch alone in one mode, BatchSize
// records per batch.
func (e *Env) FloorBatch(mode floor.BatchMode) func(b *testing.B) {
	return func(b *testing.B) {
		d := e.openFloor(b, e.newDir(b, "batch-floor-only"))
		defer d.Close()
		var fl arm
		b.ResetTimer()
		for done := 0; done < b.N; done += BatchSize {
			if err := floorBatch(&fl, d, min(BatchSize, b.N-done), mode); err != nil {
				e.fatal(b, err)
			}
		}
		b.StopTimer()
		b.ReportMetric(fl.perSec(), "records/s")
	}
}

// ProducersAppend interleaves, round by round (Producers*4 appends per
// round, rotating which arm goes first), capq's Append from one goroutine
// and from Producers goroutines sharing one Queue, and the floor's append
// from one goroutine and from Producers goroutines sharing directory
// fsyncs (floor-producers-vs-one: what the disk itself gains). One op is one append
// in each arm. Target (issue 16): producers-vs-one (one goroutine's time /
// Producers goroutines' time) >= 5.
func (e *Env) ProducersAppend(b *testing.B) {
	q1 := e.openQueue(b, e.newDir(b, "producers-capq-1"), noPrune)
	defer q1.Close()
	qn := e.openQueue(b, e.newDir(b, "producers-capq-n"), noPrune)
	defer qn.Close()
	d := e.openFloor(b, e.newDir(b, "producers-floor"))
	defer d.Close()
	group := floor.NewGroup(d)
	d1 := e.openFloor(b, e.newDir(b, "producers-floor-1"))
	defer d1.Close()
	var one, many, fl, fl1 arm
	chunk := Producers * 4
	es := newEnvelopes(chunk)
	buf := make([]byte, 0, 512)
	arms := []func(n int) error{
		func(n int) error {
			for range n {
				if err := floorAppend(&fl1, d1, buf, d1.SyncDir); err != nil {
					return err
				}
			}
			return nil
		},
		func(n int) error { return one.timed(n, func() error { return appendEach(q1, n) }) },
		func(n int) error {
			return many.timed(n, func() error {
				return parallel(Producers, n, func(int) error { _, err := qn.Append(Record); return err })
			})
		},
		func(n int) error { return es.timedAppend(&fl, d, Producers, n, group.Sync) },
	}
	e.runArms(b, chunk, arms)
	b.ReportMetric(one.nsPerOp(), "capq-1-ns/op")
	b.ReportMetric(many.nsPerOp(), "capq-n-ns/op")
	b.ReportMetric(fl.nsPerOp(), "floor-n-ns/op")
	b.ReportMetric(one.nsPerOp()/many.nsPerOp(), "producers-vs-one")
	b.ReportMetric(fl.nsPerOp()/many.nsPerOp(), "speed-vs-floor")
	b.ReportMetric(fl1.nsPerOp(), "floor-1-ns/op")
	b.ReportMetric(fl1.nsPerOp()/fl.nsPerOp(), "floor-producers-vs-one")
}
