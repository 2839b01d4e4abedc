//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package queue

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/capq/capq/ulid"
)

// Spec R13: MaxRecords, Budget and context cancellation bound a drain, and
// repeated bounded passes converge to an empty queue.
func TestBoundedIngest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		opts      IngestOptions
		cancel    bool
		want      int // delivered by the first pass
		wantErr   error
		converges bool
	}{
		{name: "unbounded", opts: IngestOptions{}, want: 10, converges: true},
		{name: "max 3", opts: IngestOptions{MaxRecords: 3}, want: 3, converges: true},
		{name: "max 1", opts: IngestOptions{MaxRecords: 1}, want: 1, converges: true},
		{name: "max above count", opts: IngestOptions{MaxRecords: 50}, want: 10, converges: true},
		{name: "negative: no bound", opts: IngestOptions{MaxRecords: -1}, want: 10, converges: true},
		{name: "budget elapsed", opts: IngestOptions{Budget: time.Nanosecond}, want: 1, converges: true},
		{name: "cancelled context", cancel: true, want: 0, wantErr: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, _ := openTest(t, Options{})
			for i := range 10 {
				mustAppend(t, q, sampleRecord(i, ""))
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel {
				cancel()
			}
			var seen []Delivery
			h := collect(&seen)
			if tt.opts.Budget > 0 {
				// The budget is checked before each record: make the
				// first record take longer than the budget.
				h = func(ctx context.Context, d Delivery) error {
					time.Sleep(time.Millisecond)
					return collect(&seen)(ctx, d)
				}
			}
			res, err := q.Ingest(ctx, h, tt.opts)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if res.Delivered != tt.want || len(seen) != tt.want {
				t.Fatalf("delivered %d (handler saw %d), want %d", res.Delivered, len(seen), tt.want)
			}
			if n := mustCount(t, q); n != 10-tt.want {
				t.Fatalf("Count = %d after the pass, want %d", n, 10-tt.want)
			}
			if !tt.converges {
				return
			}
			for pass := 0; mustCount(t, q) > 0; pass++ {
				if pass > 20 {
					t.Fatal("bounded passes do not converge")
				}
				if _, err := q.Ingest(context.Background(), h, tt.opts); err != nil {
					t.Fatal(err)
				}
			}
			// Oldest first across passes.
			for i := 1; i < len(seen); i++ {
				if seen[i-1].ULID.Compare(seen[i].ULID) >= 0 {
					t.Fatalf("delivery %d out of order", i)
				}
			}
		})
	}
}

// Spec R13: a bounded pass on a queue whose oldest records are locked by
// another consumer still delivers up to its bound from the rest.
func TestBoundedIngestSkipsLockedRecords(t *testing.T) {
	t.Parallel()
	q, _ := openTest(t, Options{})
	for i := range 6 {
		mustAppend(t, q, sampleRecord(i, ""))
	}
	var held []*claim
	ids, _ := q.List()
	for _, id := range ids[:2] {
		c, err := q.claimRecord("test", id.String())
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	defer func() {
		for _, c := range held {
			c.release(false)
		}
	}()
	var seen []Delivery
	res, err := q.Ingest(context.Background(), collect(&seen), IngestOptions{MaxRecords: 2})
	if err != nil {
		t.Fatal(err)
	}
	if res.Delivered != 2 || res.Skipped != 2 {
		t.Fatalf("res = %+v, want 2 delivered and 2 skipped", res)
	}
	if seen[0].ULID != ids[2] || seen[1].ULID != ids[3] {
		t.Fatalf("delivered %v, %v; want the two oldest unlocked", seen[0].ULID, seen[1].ULID)
	}
}

// Spec R12: a handler panic records the attempt, releases the lock (so the
// record can be retried), and keeps panicking.
func TestHandlerPanicReleasesLock(t *testing.T) {
	t.Parallel()
	q, dir := openTest(t, Options{})
	id := mustAppend(t, q, sampleRecord(0, ""))
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v, want the handler's panic", r)
			}
		}()
		q.Ingest(context.Background(), func(context.Context, Delivery) error { panic("boom") }, IngestOptions{})
	}()
	if !exists(t, pendingPath(dir, id)) || !exists(t, lockPath(dir, id)) {
		t.Fatal("record and lock file must stay after a panic")
	}
	var seen []Delivery
	if _, err := q.Ingest(context.Background(), collect(&seen), IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || seen[0].Attempt != 2 {
		t.Fatalf("after a panic: %d deliveries, attempt %d; want 1 delivery with attempt 2", len(seen), seen[0].Attempt)
	}
}

// Spec R11: Close waits for an Ingest in progress, and operations after
// Close fail with ErrClosed.
func TestCloseWaitsAndRefuses(t *testing.T) {
	t.Parallel()
	q, _ := openTest(t, Options{})
	mustAppend(t, q, sampleRecord(0, ""))
	inHandler := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := q.Ingest(context.Background(), func(context.Context, Delivery) error {
			close(inHandler)
			<-release
			return nil
		}, IngestOptions{})
		done <- err
	}()
	<-inHandler
	closed := make(chan error, 1)
	go func() { closed <- q.Close() }()
	select {
	case <-closed:
		t.Fatal("Close returned while an Ingest was in its handler")
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"Append": func() error { _, err := q.Append(sampleRecord(1, "")); return err }(),
		"Count":  func() error { _, err := q.Count(); return err }(),
		"Ingest": func() error {
			_, err := q.Ingest(context.Background(), collect(new([]Delivery)), IngestOptions{})
			return err
		}(),
		"Close": q.Close(),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

// Spec R13: a bounded pass keeps only the oldest names it lists, in a heap
// of at most the bound; whatever order the directory lists them in, the
// heap ends up with exactly the smallest ULIDs.
func TestKeepOldest(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tt := range []struct{ n, limit int }{
		{0, 3}, {5, 0}, {1, 1}, {5, 10}, {10, 10}, {100, 1}, {100, 7}, {1000, 64}, {1000, 999},
	} {
		all := make([]ulid.ULID, tt.n)
		for i := range all {
			for j := range all[i] {
				all[i][j] = byte(rng.IntN(256))
			}
		}
		var heap []ulid.ULID
		for _, id := range all {
			heap = keepOldest(heap, id, tt.limit)
		}
		slices.SortFunc(heap, ulid.ULID.Compare)
		want := slices.Clone(all)
		slices.SortFunc(want, ulid.ULID.Compare)
		want = want[:min(tt.limit, tt.n)]
		if !slices.Equal(heap, want) {
			t.Errorf("n=%d limit=%d: kept %d ids, not the %d oldest", tt.n, tt.limit, len(heap), len(want))
		}
	}
}

// Spec R37: a handler that calls back into the queue while another
// goroutine is in Close never deadlocks: its call fails with ErrClosed,
// the Ingest stops before its next record, and Close returns.
func TestCloseWhileHandlerCallsBack(t *testing.T) {
	t.Parallel()
	q, _ := openTest(t, Options{})
	for i := range 3 {
		mustAppend(t, q, sampleRecord(i, ""))
	}
	inHandler := make(chan struct{})
	closing := make(chan struct{})
	var appendErr error
	done := make(chan error, 1)
	calls := 0
	go func() {
		_, err := q.Ingest(context.Background(), func(context.Context, Delivery) error {
			calls++
			if calls == 1 {
				close(inHandler)
				<-closing
				time.Sleep(20 * time.Millisecond) // let Close start waiting
				_, appendErr = q.Append(sampleRecord(9, ""))
			}
			return nil
		}, IngestOptions{})
		done <- err
	}()
	<-inHandler
	closed := make(chan error, 1)
	go func() { close(closing); closed <- q.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close deadlocked with a handler calling Append")
	}
	if !errors.Is(appendErr, ErrClosed) {
		t.Errorf("Append from the handler during Close: %v, want ErrClosed", appendErr)
	}
	if err := <-done; !errors.Is(err, ErrClosed) || calls != 1 {
		t.Errorf("Ingest during Close: %v after %d deliveries, want ErrClosed after 1", err, calls)
	}
}

// Spec R13: MaxRecords bounds the handler calls, not only the successes:
// a failing handler (with MaxAttempts, so the drain goes on) or one that
// returns ErrNotHandlerFault runs at most MaxRecords times per call. Found
// by the second outside tester of #14: failures were not counted, so the
// handler ran up to twice the bound (the listing window).
func TestBoundedIngestCountsEveryCall(t *testing.T) {
	t.Parallel()
	errBoom := errors.New("boom")
	tests := []struct {
		name    string
		handler func(call int) error
		max     int
	}{
		{"every call fails", func(int) error { return errBoom }, 3},
		{"not the handler's fault", func(int) error { return fmt.Errorf("%w: no connection", ErrNotHandlerFault) }, 3},
		{"every other call fails", func(call int) error {
			if call%2 == 0 {
				return errBoom
			}
			return nil
		}, 4},
		{"bound 1, failing", func(int) error { return errBoom }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q, _ := openTest(t, Options{NoSync: true})
			for i := range 10 {
				mustAppend(t, q, sampleRecord(i, ""))
			}
			calls := 0
			h := func(context.Context, Delivery) error {
				calls++
				return tt.handler(calls)
			}
			res, err := q.Ingest(context.Background(), h, IngestOptions{MaxRecords: tt.max, MaxAttempts: 100})
			if err != nil {
				t.Fatalf("Ingest: %v", err)
			}
			if calls != tt.max {
				t.Errorf("handler ran %d times with MaxRecords %d (%+v), want %d", calls, tt.max, res, tt.max)
			}
			if got := res.Delivered + res.Failed + res.Left; got != calls {
				t.Errorf("Delivered+Failed+Left = %d (%+v), want the %d calls", got, res, calls)
			}
		})
	}
}
