package conform

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/capq/capq/queue"
)

// probeCost compares the time of an append into an empty queue with one
// into a queue the checker pre-filled (R19: listing costs are amortised to
// a constant per append). The reference counts the directory on every
// append, so its appends slow down as the queue grows. Timing on a shared
// machine is noisy, and fsync times drift over seconds, so the two queues
// run side by side (two processes) and their appends are interleaved,
// pair by pair: each pair sees the same load, and the verdict rests on
// the median of the pairs' differences (what the deep queue adds to an
// append), which a burst of load in a few pairs does not move: a growth
// is over 4 ms and twice the empty queue's median append, seen
// in two rounds; under 2 ms or a ratio under 2 is a pass; in between is
// inconclusive.
func probeCost(s *Session) error {
	deep, max := 5000, (*int)(nil)
	if s.cfg.features[FeatureMaxSize] {
		deep, max = 10000, intp(1_000_000)
	}
	full, err := newSession(s.ctx, s.cfg, filepath.Join(s.root, "deep"))
	if err != nil {
		return err
	}
	defer full.Close()
	ids := newIDSource(s.seed, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	for range deep {
		id := ids.next()
		if err := os.WriteFile(filepath.Join(full.Dir, "pending-"+id+".json"), envelope(id, "2020-01-01T00:00:00+00:00", `{"fill":1}`, "1"), 0o600); err != nil {
			return err
		}
	}
	s.note("a second process of the implementation runs on %s, which the checker pre-filled with %d records; the appends of the two alternate", full.Dir, deep)
	if err := s.Start(max); err != nil {
		return err
	}
	if err := full.Start(max); err != nil {
		return err
	}
	timed := func(q *Session, i int) (time.Duration, error) {
		t0 := time.Now()
		_, err := q.Append(simple(i))
		return time.Since(t0), err
	}
	n := 0
	pairs := func(count int) (diffs, empty, deepT []time.Duration, err error) {
		for k := range count {
			n++
			var te, tf time.Duration
			// Alternate which goes first, so that neither always runs
			// right after the other's fsync.
			if k%2 == 0 {
				if te, err = timed(s, n); err == nil {
					tf, err = timed(full, n)
				}
			} else {
				if tf, err = timed(full, n); err == nil {
					te, err = timed(s, n)
				}
			}
			if err != nil {
				return nil, nil, nil, err
			}
			diffs = append(diffs, tf-te)
			empty, deepT = append(empty, te), append(deepT, tf)
		}
		return diffs, empty, deepT, nil
	}
	if _, _, _, err := pairs(3); err != nil { // the first appends warm caches up
		return err
	}
	var verdict error
	for round := 0; round < 2; round++ {
		diffs, empty, deepT, err := pairs(13)
		if err != nil {
			return err
		}
		me, mf, d := medianDur(empty), medianDur(deepT), medianDur(diffs)
		ratio := float64(mf) / float64(me)
		ev := fmt.Sprintf("median append %s at 0 pending, %s at %d pending (%d interleaved pairs): the deep queue adds %s (median of the pairs), ratio %.1f", me.Round(10*time.Microsecond), mf.Round(10*time.Microsecond), deep, len(diffs), d.Round(10*time.Microsecond), ratio)
		switch {
		case d > 4*time.Millisecond && d > 2*me:
			// 4 ms, not more: on a fast, quiet machine the reference's
			// listing of 10,000 names adds about 9 ms, and a larger bar
			// left that weakness inconclusive there. The median of paired
			// differences, confirmed in a second round, keeps load from
			// failing a queue whose appends do not list.
			// Seen again in the next round before it is a failure: one
			// long burst of load does not fail anybody.
			verdict = fmt.Errorf("R19: append cost grows with the queue: %s", ev)
			if round == 1 {
				return verdict
			}
			continue
		case d < 2*time.Millisecond || ratio < 2:
			return passWith("%s", ev)
		}
		return errInconclusive("%s (between the thresholds)", ev)
	}
	return verdict
}

func medianDur(xs []time.Duration) time.Duration {
	xs = slices.Clone(xs)
	slices.Sort(xs)
	return xs[len(xs)/2]
}

// probeInterop: a capq consumer and the implementation drain one directory
// at the same time, holding each other off with the reference's lock
// protocol (R11): every record is delivered exactly once, with its bytes.
func probeInterop(s *Session) error {
	theirs, err := s.startAppend(nil, 60)
	if err != nil {
		return err
	}
	q, err := queue.Open(s.Dir, queue.Options{MaxSize: -1})
	if err != nil {
		return fmt.Errorf("capq cannot open the implementation's queue directory: %v", err)
	}
	defer q.Close()
	want := map[string]string{}
	for i, id := range theirs {
		want[id] = simple(i)
	}
	for i := range 60 {
		rec := fmt.Sprintf(`{"capq":%d}`, i)
		id, err := q.Append([]byte(rec))
		if err != nil {
			return fmt.Errorf("capq append into the implementation's directory: %v", err)
		}
		want[id.String()] = rec
	}
	s.note("capq appended 60 records; now a capq consumer and the implementation drain together")
	var mu sync.Mutex
	got := map[string][]string{} // ULID -> who delivered it
	var bad []string
	var wg sync.WaitGroup
	var capqErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, capqErr = q.Ingest(context.Background(), func(_ context.Context, d queue.Delivery) error {
			mu.Lock()
			got[d.ULID.String()] = append(got[d.ULID.String()], "capq")
			if w := want[d.ULID.String()]; w != string(d.Record) {
				bad = append(bad, fmt.Sprintf("capq got %s for %s, appended %s", d.Record, d.ULID, w))
			}
			mu.Unlock()
			time.Sleep(time.Millisecond) // a slow handler: the drains overlap
			return nil
		}, queue.IngestOptions{})
	}()
	rep, err := s.ingest(nil, 0)
	wg.Wait()
	if err != nil {
		return err
	}
	if capqErr != nil {
		return fmt.Errorf("the capq consumer failed: %v", capqErr)
	}
	if !rep.OK {
		return fmt.Errorf("R11: ingest beside a capq consumer failed: %s", jsonOf(rep))
	}
	theirsN := 0
	for _, d := range rep.Deliveries {
		got[d.ULID] = append(got[d.ULID], "impl")
		theirsN++
		if w := want[d.ULID]; w != d.Record {
			bad = append(bad, fmt.Sprintf("the implementation got %s for %s, appended %s", d.Record, d.ULID, w))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("R4, R11: %s", bad[0])
	}
	// What is left (records each consumer skipped while the other held
	// them) goes in a second round.
	if _, err := q.Ingest(context.Background(), func(_ context.Context, d queue.Delivery) error {
		got[d.ULID.String()] = append(got[d.ULID.String()], "capq")
		return nil
	}, queue.IngestOptions{}); err != nil {
		return fmt.Errorf("the capq consumer failed: %v", err)
	}
	for id, who := range got {
		if len(who) > 1 {
			return fmt.Errorf("R11: %s was delivered twice (by %v) while capq and the implementation drained together", id, who)
		}
		if _, ok := want[id]; !ok {
			return fmt.Errorf("R11: %s was delivered but never appended", id)
		}
	}
	for id := range want {
		if len(got[id]) == 0 {
			return fmt.Errorf("R11: %s was never delivered (lost)", id)
		}
	}
	if on, _ := pendingOnDisk(s.Dir); len(on) > 0 {
		return fmt.Errorf("R11: %d records stay pending after both drains", len(on))
	}
	return passWith("120 records (60 appended by each), %d delivered by the implementation, the rest by capq, each once", theirsN)
}
