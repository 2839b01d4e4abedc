//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package queue

// Tests of the defects the outside tester of issue #14 found, each as a
// class: arguments that have no meaning are refused up front, before
// anything is claimed or removed.

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"testing"
	"time"
)

// Spec R12: Ingest refuses a nil Handler with ErrInvalidOptions before it
// claims anything: no panic, no attempt used, no lock file left, on an
// empty queue as on a full one.
func TestIngestNilHandler(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		records int
		opts    IngestOptions
	}{
		{"empty queue", 0, IngestOptions{}},
		{"one record", 1, IngestOptions{}},
		{"one record, MaxAttempts 1", 1, IngestOptions{MaxAttempts: 1}},
		{"three records, MaxRecords 1", 3, IngestOptions{MaxRecords: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q, dir := openTest(t, Options{})
			for i := range tt.records {
				mustAppend(t, q, sampleRecord(i, ""))
			}
			ids, _ := q.List()
			for range 3 {
				func() {
					defer func() {
						if r := recover(); r != nil {
							t.Fatalf("Ingest(nil handler) panicked: %v", r)
						}
					}()
					res, err := q.Ingest(context.Background(), nil, tt.opts)
					if !errors.Is(err, ErrInvalidOptions) {
						t.Fatalf("Ingest(nil handler) = %+v, %v; want ErrInvalidOptions", res, err)
					}
				}()
			}
			for _, id := range ids {
				if !exists(t, pendingPath(dir, id)) || exists(t, lockPath(dir, id)) {
					t.Fatalf("record %s after Ingest(nil): want it pending with no lock file", id)
				}
			}
			var seen []Delivery
			if _, err := q.Ingest(context.Background(), collect(&seen), IngestOptions{}); err != nil {
				t.Fatal(err)
			}
			if len(seen) != tt.records {
				t.Fatalf("%d records delivered after Ingest(nil), want %d", len(seen), tt.records)
			}
			for _, d := range seen {
				if d.Attempt != 1 {
					t.Errorf("record %s delivered with attempt %d, want 1 (Ingest(nil) used no attempt)", d.ULID, d.Attempt)
				}
			}
		})
	}
}

// Spec R12: a handler that panics uses the attempt and loses nothing: the
// record stays pending with its lock file (the crash marker), the panic
// reaches Ingest's caller, the next delivery's Attempt is one more (even
// when the panic used up MaxAttempts: dead-lettering follows a returned
// failure, so the record is delivered again rather than lost), and Close
// still works.
func TestHandlerPanicKeepsRecord(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		maxAttempts int
	}{
		{"no MaxAttempts", 0},
		{"MaxAttempts 3", 3},
		{"MaxAttempts 1", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q, dir := openTest(t, Options{})
			id := mustAppend(t, q, sampleRecord(0, ""))
			opts := IngestOptions{MaxAttempts: tt.maxAttempts}
			func() {
				defer func() {
					if r := recover(); r != "boom" {
						t.Fatalf("recovered %v, want the handler's panic", r)
					}
				}()
				q.Ingest(context.Background(), func(context.Context, Delivery) error { panic("boom") }, opts)
			}()
			if !exists(t, pendingPath(dir, id)) || !exists(t, lockPath(dir, id)) {
				t.Fatal("record and lock file must stay after a panic")
			}
			var seen []Delivery
			if _, err := q.Ingest(context.Background(), collect(&seen), opts); err != nil {
				t.Fatal(err)
			}
			if len(seen) != 1 || seen[0].Attempt != 2 {
				t.Fatalf("after a panic: %d deliveries (%+v); want 1 delivery with attempt 2", len(seen), seen)
			}
			if err := q.Close(); err != nil {
				t.Fatalf("Close after a handler panic: %v", err)
			}
		})
	}
}

// Spec R18: Prune's keep follows the rule of every capq limit: a negative
// value means no limit, so nothing is dropped; zero and positive values
// drop down to keep.
func TestPruneKeepRule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		keep, wantLeft int
	}{
		{-1, 5},
		{math.MinInt, 5},
		{0, 0},
		{2, 2},
		{5, 5},
		{9, 5},
	}
	for _, tt := range tests {
		t.Run("", func(t *testing.T) {
			t.Parallel()
			q, _ := openTest(t, Options{})
			for i := range 5 {
				mustAppend(t, q, sampleRecord(i, ""))
			}
			res, err := q.Prune(context.Background(), tt.keep)
			if err != nil {
				t.Fatal(err)
			}
			n, err := q.Count()
			if err != nil || n != tt.wantLeft || res.Dropped != 5-tt.wantLeft {
				t.Fatalf("Prune(keep %d) of 5 = %+v; Count %d, %v; want %d left", tt.keep, res, n, err, tt.wantLeft)
			}
		})
	}
}

// Spec R37: AuditEntries keeps the queue in use only while it reads, so
// Close from the loop body, or while a pulled iterator is neither advanced
// nor stopped, returns at once; the step after Close yields ErrClosed and
// ends. Each case runs in a goroutine so that a deadlock fails the test
// instead of hanging it.
func TestAuditEntriesCloseInLoop(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		run  func(q *Queue) (closeErr error, after []error, err error)
	}{
		{"Close in the range body", func(q *Queue) (error, []error, error) {
			var closeErr error
			var after []error
			closed := false
			for _, err := range q.AuditEntries(context.Background()) {
				if closed {
					after = append(after, err)
					continue
				}
				if err != nil {
					return nil, nil, err
				}
				closeErr, closed = q.Close(), true
			}
			return closeErr, after, nil
		}},
		{"Close between the steps of iter.Pull2", func(q *Queue) (error, []error, error) {
			next, stop := iter.Pull2(q.AuditEntries(context.Background()))
			defer stop()
			if _, err, ok := next(); !ok || err != nil {
				return nil, nil, fmt.Errorf("first step: ok %v, err %v", ok, err)
			}
			closeErr := q.Close()
			var after []error
			for {
				_, err, ok := next()
				if !ok {
					break
				}
				after = append(after, err)
			}
			return closeErr, after, nil
		}},
		{"Close with iter.Pull2 never stopped", func(q *Queue) (error, []error, error) {
			next, _ := iter.Pull2(q.AuditEntries(context.Background()))
			if _, err, ok := next(); !ok || err != nil {
				return nil, nil, fmt.Errorf("first step: ok %v, err %v", ok, err)
			}
			closeErr := q.Close() // stop is never called
			_, err, ok := next()
			if !ok {
				return closeErr, nil, nil
			}
			return closeErr, []error{err}, nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q, _ := openTest(t, Options{})
			for i := range 3 {
				mustAppend(t, q, sampleRecord(i, ""))
			}
			if _, err := q.Prune(context.Background(), 0); err != nil {
				t.Fatal(err)
			}
			type outcome struct {
				closeErr error
				after    []error
				err      error
			}
			done := make(chan outcome, 1)
			go func() {
				c, a, err := tt.run(q)
				done <- outcome{c, a, err}
			}()
			select {
			case o := <-done:
				if o.err != nil {
					t.Fatal(o.err)
				}
				if o.closeErr != nil {
					t.Fatalf("Close during the iteration: %v", o.closeErr)
				}
				if len(o.after) != 1 || !errors.Is(o.after[0], ErrClosed) {
					t.Fatalf("steps after Close yielded %v, want one ErrClosed", o.after)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Close inside an AuditEntries iteration deadlocked")
			}
		})
	}
}

// Spec R34: a record released because its handler returned an error
// wrapping ErrNotHandlerFault is listed in Result.Problems with a typed
// Err, a *HandlerError naming the record and its (uncharged) attempt,
// which still unwraps to the handler's error.
func TestNotHandlerFaultProblemTyped(t *testing.T) {
	t.Parallel()
	sentinel := errors.New("fork failed")
	tests := []struct {
		name string
		herr error
	}{
		{"%w: text", fmt.Errorf("%w: fork failed", ErrNotHandlerFault)},
		{"%w: %w", fmt.Errorf("%w: %w", ErrNotHandlerFault, sentinel)},
		{"the sentinel itself", ErrNotHandlerFault},
		{"joined", errors.Join(sentinel, ErrNotHandlerFault)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q, _ := openTest(t, Options{})
			id := mustAppend(t, q, sampleRecord(0, ""))
			res, err := q.Ingest(context.Background(), func(context.Context, Delivery) error { return tt.herr }, IngestOptions{})
			if err != nil || res.Left != 1 || len(res.Problems) != 1 {
				t.Fatalf("Ingest = %+v, %v; want the record left with one problem", res, err)
			}
			p := res.Problems[0]
			var he *HandlerError
			if !errors.As(p.Err, &he) || he.ULID != id || he.Attempt != 1 {
				t.Fatalf("Problem.Err = %#v, want a *HandlerError for %s attempt 1", p.Err, id)
			}
			if !errors.Is(p.Err, ErrNotHandlerFault) || !errors.Is(p.Err, tt.herr) {
				t.Fatalf("Problem.Err = %v: want it to wrap the handler's error and ErrNotHandlerFault", p.Err)
			}
			if p.Name != pendingName(id.String()) {
				t.Errorf("Problem.Name = %q, want %q", p.Name, pendingName(id.String()))
			}
		})
	}
}
