//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package queue

import (
	"context"
	"sync"
	"testing"
)

// Spec R42, R36: two RequeueAll at once on one directory (two Queues, as
// two `capq requeue --all` processes) requeue every dead letter exactly
// once between them, and neither reports the dead letters the other moved
// first as errors.
func TestRequeueAllConcurrent(t *testing.T) {
	const n = 300
	q1, dir := openTest(t, Options{NoSync: true})
	var ids []string
	for i := range n {
		ids = append(ids, mustAppend(t, q1, sampleRecord(i, "")).String())
	}
	res, err := q1.Ingest(context.Background(), func(context.Context, Delivery) error { return errBoom }, IngestOptions{MaxAttempts: 1})
	if err != nil || res.DeadLettered != n {
		t.Fatalf("Ingest = %+v, %v; want %d dead letters", res, err, n)
	}
	q2, err := Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q2.Close() })
	for round := 0; round < 2; round++ {
		var wg sync.WaitGroup
		counts := make([]int, 2)
		errs := make([]error, 2)
		for i, q := range []*Queue{q1, q2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				counts[i], errs[i] = q.RequeueAll(context.Background())
			}()
		}
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatalf("round %d: RequeueAll errors %v; %v, want none", round, errs[0], errs[1])
		}
		if counts[0]+counts[1] != n {
			t.Fatalf("round %d: requeued %d + %d, want %d in all", round, counts[0], counts[1], n)
		}
		if c := mustCount(t, q1); c != n {
			t.Fatalf("round %d: %d pending, want %d", round, c, n)
		}
		if round == 0 {
			res, err := q1.Ingest(context.Background(), func(context.Context, Delivery) error { return errBoom }, IngestOptions{MaxAttempts: 1})
			if err != nil || res.DeadLettered != n {
				t.Fatalf("Ingest = %+v, %v; want %d dead letters again", res, err, n)
			}
		}
	}
	// Each record was requeued once per round: one audit line each.
	entries, err := auditAll(q1)
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	for _, e := range entries {
		if e.Reason == ReasonRequeued {
			per[e.ULID]++
		}
	}
	for _, id := range ids {
		if per[id] != 2 {
			t.Errorf("%s: %d requeue audit lines, want 2", id, per[id])
			break
		}
	}
}
