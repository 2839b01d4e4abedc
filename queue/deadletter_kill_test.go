//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package queue

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/capq/capq/internal/fsys"
	"github.com/capq/capq/ulid"
)

// Spec R36, R17, R9: a consumer SIGKILLed between writing a dead letter's
// history and moving the record (the history is written first, so a dead
// letter is never without it) leaves capq's own history at the unnumbered
// history name. The record's next dead letter supersedes that history and
// takes its own name, where DeadLetters and Requeue see it. Were the
// leftover kept, the record would move to the numbered pair
// pending-<ULID>.json.1, which DeadLetters does not list: the kill-crash
// checker (verify/crashtest) then finds an acknowledged record neither
// delivered, dropped, quarantined nor dead-lettered, and reports it lost.
func TestDeadLetterAfterKilledMoveKeepsItsName(t *testing.T) {
	t.Parallel()
	m := fsys.NewMem(nil)
	producer := openMem(t, m.FS(), Options{})
	id := mustAppend(t, producer, sampleRecord(0, ""))
	fail := func(context.Context, Delivery) error { return errors.New("handler failed") }
	opts := IngestOptions{MaxAttempts: 1}
	dst := deadLetterDir + "/" + pendingName(id.String())
	hist := deadLetterDir + "/" + pendingPrefix + id.String() + historySuffix

	// The kill point: the consumer dies just before its move of the
	// record, after the history is durable. Every later call of the
	// killed process fails (EBADF), its clean-up included, as after a
	// SIGKILL; its flocks are released.
	view := m.FS()
	f := fsys.NewFault(view)
	moves := 0
	f.SetHook(func(c fsys.Call) error {
		if c.Op == fsys.OpRename && c.NewName == dst {
			moves++
			view.Kill()
		}
		return nil
	})
	killed := openMem(t, f.WithNoReplace(), Options{SkipRecover: true})
	killed.Ingest(context.Background(), fail, opts) // fails: the process is dead
	if moves != 1 {
		t.Fatalf("the kill point was reached %d times, want 1", moves)
	}
	if _, err := m.ReadFile(hist); err != nil {
		t.Fatalf("the killed move left no history at %s (%v): the test no longer reaches its kill point", hist, err)
	}
	if _, err := m.ReadFile(pendingName(id.String())); err != nil {
		t.Fatalf("the record is not pending after the killed move: %v", err)
	}

	// The next consumer fails the record again: it must be dead-lettered
	// under its own name.
	q := openMem(t, m.FS(), Options{})
	res, err := q.Ingest(context.Background(), fail, opts)
	if err != nil || res.DeadLettered != 1 {
		t.Fatalf("Ingest after the killed move = %+v, %v; want one dead letter", res, err)
	}
	if ids, err := q.DeadLetters(); err != nil || !slices.Equal(ids, []ulid.ULID{id}) {
		t.Errorf("DeadLetters() = %v, %v; want [%s] (the record must not be at a numbered pair)", ids, err, id)
	}
	for _, name := range []string{dst + ".1", hist + ".1"} {
		if _, err := m.ReadFile(name); err == nil {
			t.Errorf("%s exists: the dead letter went to a numbered pair", name)
		}
	}
	if b, err := m.ReadFile(hist); err != nil || len(b) == 0 {
		t.Errorf("history %s after the dead letter: %q, %v; want the new history", hist, b, err)
	}
	if n, err := q.Count(); err != nil || n != 0 {
		t.Errorf("Count() = %d, %v; want 0", n, err)
	}
}
