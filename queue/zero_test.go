//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package queue

import (
	"context"
	"errors"
	"testing"

	"github.com/capq/capq/ulid"
)

// Spec R37: only Open makes a Queue. The zero Queue and a nil *Queue are
// closed: every method that returns an error returns ErrClosed (never a
// panic, never a misleading error such as a record exceeding a limit of
// 0), AppendRoom returns 0 and Options the zero Options.
func TestZeroQueueIsClosed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var id ulid.ULID
	calls := []struct {
		name string
		call func(q *Queue) error
	}{
		{"Append", func(q *Queue) error { _, err := q.Append([]byte(`{"a":1}`)); return err }},
		{"AppendBatch", func(q *Queue) error { _, err := q.AppendBatch([][]byte{[]byte(`{}`)}); return err }},
		{"Ingest", func(q *Queue) error {
			_, err := q.Ingest(ctx, func(context.Context, Delivery) error { return nil }, IngestOptions{})
			return err
		}},
		// A nil Handler on a closed queue: ErrClosed comes before the
		// argument check (found by the second outside tester of #14).
		{"Ingest(nil)", func(q *Queue) error { _, err := q.Ingest(ctx, nil, IngestOptions{}); return err }},
		{"Prune", func(q *Queue) error { _, err := q.Prune(ctx, 0); return err }},
		{"Recover", func(q *Queue) error { _, err := q.Recover(ctx); return err }},
		{"Count", func(q *Queue) error { _, err := q.Count(); return err }},
		{"List", func(q *Queue) error { _, err := q.List(); return err }},
		{"Get", func(q *Queue) error { _, err := q.Get(id); return err }},
		{"Stats", func(q *Queue) error { _, err := q.Stats(ctx); return err }},
		{"DeadLetters", func(q *Queue) error { _, err := q.DeadLetters(); return err }},
		{"DeadLetterHistory", func(q *Queue) error { _, err := q.DeadLetterHistory(id); return err }},
		{"Requeue", func(q *Queue) error { return q.Requeue(id) }},
		{"RequeueAll", func(q *Queue) error { _, err := q.RequeueAll(ctx); return err }},
		{"AuditEntries", func(q *Queue) error {
			for _, err := range q.AuditEntries(ctx) {
				return err
			}
			return nil
		}},
		{"Close", func(q *Queue) error { return q.Close() }},
	}
	closed, _ := openTest(t, Options{MaxSize: 100})
	if err := closed.Close(); err != nil {
		t.Fatal(err)
	}
	queues := []struct {
		name string
		q    *Queue
	}{
		{"zero", new(Queue)},
		{"nil", nil},
		{"closed", closed}, // made by Open, then closed
	}
	for _, tq := range queues {
		q := tq.q
		for _, c := range calls {
			if err := c.call(q); !errors.Is(err, ErrClosed) {
				t.Errorf("%s on the %s Queue = %v, want ErrClosed", c.name, tq.name, err)
			}
		}
		if n := q.AppendRoom(); n != 0 {
			t.Errorf("AppendRoom on the %s Queue = %d, want 0", tq.name, n)
		}
		if tq.name == "closed" {
			continue // Options keeps what Open was given
		}
		if o := q.Options(); o.MaxSize != 0 || o.Logger != nil {
			t.Errorf("Options on the %s Queue = %+v, want zero", tq.name, o)
		}
	}
}

// Problem.String never panics: a nil Err (the zero Problem, or one a
// caller built) prints "<nil>" (found by the second outside tester of #14).
func TestProblemStringNilErr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{}, ": <nil>"},
		{Problem{Name: "x.json"}, "x.json: <nil>"},
		{Problem{Name: "x.json", Err: ErrCorrupt}, "x.json: " + ErrCorrupt.Error()},
	}
	for _, tt := range tests {
		var got string
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("Problem%+v.String() panicked: %v", tt.p, r)
				}
			}()
			got = tt.p.String()
		}()
		if got != tt.want {
			t.Errorf("Problem%+v.String() = %q, want %q", tt.p, got, tt.want)
		}
	}
}
