//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package queue

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// Prune and Recover stop when their context is done, with its error, and
// leave what they did not get to.
func TestPruneRecoverCancel(t *testing.T) {
	t.Parallel()
	q, dir := openTest(t, Options{MaxSize: -1, TmpGrace: time.Nanosecond, SkipRecover: true})
	for i := range 3 {
		mustAppend(t, q, sampleRecord(i, ""))
	}
	// A stray .tmp and an orphan lock, both old enough to be removed.
	tmp := filepath.Join(dir, tmpName("01M89W077TES8Y8XEAP3E7KMB2"))
	lock := filepath.Join(dir, lockName("01M89W077TES8Y8XEAP3E7KMB3"))
	for _, p := range []string{tmp, lock} {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Millisecond)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if res, err := q.Prune(ctx, 0); !errors.Is(err, context.Canceled) || res.Dropped != 0 {
		t.Errorf("Prune(cancelled) = %+v, %v; want nothing dropped, context.Canceled", res, err)
	}
	if n, _ := q.Count(); n != 3 {
		t.Errorf("Count after a cancelled Prune = %d, want 3", n)
	}
	if rep, err := q.Recover(ctx); !errors.Is(err, context.Canceled) || len(rep.Removed) != 0 {
		t.Errorf("Recover(cancelled) = %+v, %v; want nothing removed, context.Canceled", rep, err)
	}
	if !exists(t, tmp) || !exists(t, lock) {
		t.Error("a cancelled Recover removed files")
	}

	// The same calls with a live context do their work.
	if res, err := q.Prune(t.Context(), 1); err != nil || res.Dropped != 2 {
		t.Errorf("Prune = %+v, %v; want 2 dropped", res, err)
	}
	if rep, err := q.Recover(t.Context()); err != nil || !slices.Equal(rep.Removed, []string{tmpName("01M89W077TES8Y8XEAP3E7KMB2"), lockName("01M89W077TES8Y8XEAP3E7KMB3")}) {
		t.Errorf("Recover = %+v, %v; want the tmp and the lock removed", rep, err)
	}
}

// The rule for contexts: every call whose work grows with the directory's
// contents (Ingest, Prune, Recover, Stats, AuditEntries, RequeueAll,
// Verify) takes one and stops when it is cancelled. A cancelled RequeueAll
// moves nothing back and a cancelled Verify returns no findings, and both
// do their work with a live context.
func TestRequeueAllVerifyCancel(t *testing.T) {
	t.Parallel()
	q, dir := openTest(t, Options{MaxSize: -1})
	deadLetterN(t, q, 2)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if n, err := q.RequeueAll(ctx); !errors.Is(err, context.Canceled) || n != 0 {
		t.Errorf("RequeueAll(cancelled) = %d, %v; want 0, context.Canceled", n, err)
	}
	if f, err := Verify(ctx, dir, Options{}); !errors.Is(err, context.Canceled) || f != nil {
		t.Errorf("Verify(cancelled) = %v, %v; want nothing, context.Canceled", f, err)
	}
	if f, err := Verify(t.Context(), dir, Options{}); err != nil || len(f) != 2 {
		t.Errorf("Verify = %v, %v; want the two dead letters", f, err)
	}
	if n, err := q.RequeueAll(t.Context()); err != nil || n != 2 {
		t.Errorf("RequeueAll = %d, %v; want 2", n, err)
	}
}
