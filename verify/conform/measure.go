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
// a constant per append), each the fastest of twelve. The reference counts the directory on every
// append, so its appends slow down as the queue grows. Timing on a shared
// machine is noisy: two empty-queue runs that disagree make the verdict
// inconclusive, as does a ratio between the pass and fail thresholds.
func probeCost(s *Session) error {
	deep, max := 5000, (*int)(nil)
	if s.cfg.features[FeatureMaxSize] {
		deep, max = 10000, intp(1_000_000)
	}
	measure := func(prefill int) (time.Duration, error) {
		s.Kill()
		if err := os.RemoveAll(s.Dir); err != nil {
			return 0, err
		}
		if err := os.MkdirAll(s.Dir, 0o700); err != nil {
			return 0, err
		}
		if prefill > 0 {
			ids := newIDSource(s.seed, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
			for range prefill {
				id := ids.next()
				if err := os.WriteFile(filepath.Join(s.Dir, "pending-"+id+".json"), envelope(id, "2020-01-01T00:00:00+00:00", `{"fill":1}`, "1"), 0o600); err != nil {
					return 0, err
				}
			}
			s.note("the checker pre-filled the directory with %d records", prefill)
		}
		if err := s.Start(max); err != nil {
			return 0, err
		}
		var ts []time.Duration
		for i := range 15 {
			t0 := time.Now()
			if _, err := s.Append(simple(i)); err != nil {
				return 0, err
			}
			if i >= 3 { // the first appends warm caches up
				ts = append(ts, time.Since(t0))
			}
		}
		// The fastest append: load on a shared machine only ever adds
		// time, so the minimum is the steadiest estimate of the cost.
		return slices.Min(ts), nil
	}
	// Two rounds at most: a growth seen once must be seen again, so that
	// one burst of load on a shared machine does not fail anybody.
	var verdict error
	for round := 0; round < 2; round++ {
		empty1, err := measure(0)
		if err != nil {
			return err
		}
		full, err := measure(deep)
		if err != nil {
			return err
		}
		empty2, err := measure(0)
		if err != nil {
			return err
		}
		// The faster of the two empty rounds: with the fastest append of
		// each, slowness is load, not cost.
		base := min(empty1, empty2)
		ratio := float64(full) / float64(base)
		ev := fmt.Sprintf("fastest append %s at 0 pending (%s again), %s at %d pending: ratio %.1f", empty1.Round(10*time.Microsecond), empty2.Round(10*time.Microsecond), full.Round(10*time.Microsecond), deep, ratio)
		// fsync times on a shared disk vary threefold from one run to the
		// next: only a ratio well beyond that, and several milliseconds,
		// is a verdict of growth.
		noisy := float64(max2(empty1, empty2)) > 3*float64(min(empty1, empty2))
		switch {
		case ratio > 6 && full-base > 5*time.Millisecond:
			// Beyond the slower of the two empty runs: noise does not
			// explain it, unless the next round disagrees.
			verdict = fmt.Errorf("R19: append cost grows with the queue: %s", ev)
			if round == 1 {
				return verdict
			}
			continue
		case ratio < 3:
			return passWith("%s", ev)
		case noisy:
			return errInconclusive("too noisy to judge: %s", ev)
		}
		return errInconclusive("%s (between the thresholds 3 and 6)", ev)
	}
	return verdict
}

func max2(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}

// probeInterop: a capq consumer and the implementation drain one directory
// at the same time, holding each other off with the reference's lock
// protocol (R11): every record is delivered exactly once, with its bytes.
func probeInterop(s *Session) error {
	if err := s.Start(nil); err != nil {
		return err
	}
	theirs, err := s.appendN(60, nil)
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
