package crashtest

import (
	"context"
	"strings"
	"testing"

	"github.com/capq/capq/internal/fsys"
	"github.com/capq/capq/internal/queuefs"
	"github.com/capq/capq/queue"
)

// Spec R16: a re-delivery has Attempt > 1, exactly, across process crashes.
//
// The kill-crash rounds found this interleaving in the first version of the
// lock protocol: consumer A created the record's lock file (O_EXCL, so A
// believed the record was never tried) but was descheduled before its flock;
// consumer B opened the existing lock file, locked it first, delivered the
// record as attempt 2 and was SIGKILLed before the delete; A then took the
// lock and, because it had created the file, delivered the record again as
// attempt 1. The queue now creates lock files already locked
// (fsys.FS.CreateLocked). This test replays the race on the in-memory file
// system, two views of one Mem standing for the two processes: a Fault hook
// on A's view runs B's whole cut delivery at A's first flock, whichever step
// of the claim that is, and A's delivery must then count on from B's.
func TestClaimRaceAttempt(t *testing.T) {
	t.Parallel()
	mem := fsys.NewMem(nil)
	viewA, viewB := fsys.NewFault(mem.FS()), mem.FS()
	qB, err := queue.Open("mem", queuefs.With(queue.Options{}, viewB))
	if err != nil {
		t.Fatal(err)
	}
	id, err := qB.Append([]byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	qA, err := queue.Open("mem", queuefs.With(queue.Options{SkipRecover: true}, viewA))
	if err != nil {
		t.Fatal(err)
	}
	defer qA.Close()

	attemptB := 0
	fired := false
	viewA.SetHook(func(c fsys.Call) error {
		if c.Op != fsys.OpFlock || fired || !strings.HasSuffix(c.Name, ".lock") {
			return nil
		}
		fired = true
		// B delivers the record and dies between the handler's success and
		// the delete.
		qB.Ingest(context.Background(), func(_ context.Context, d queue.Delivery) error {
			attemptB = d.Attempt
			viewB.Kill()
			return nil
		}, queue.IngestOptions{})
		return nil
	})
	attemptA := 0
	if _, err := qA.Ingest(context.Background(), func(_ context.Context, d queue.Delivery) error {
		attemptA = d.Attempt
		return nil
	}, queue.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	if !fired || attemptB == 0 {
		t.Fatalf("the interleaving did not happen (hook fired %v, B's attempt %d)", fired, attemptB)
	}
	if attemptA <= attemptB {
		t.Errorf("record %s delivered as attempt %d after attempt %d: a re-delivery must count on", id, attemptA, attemptB)
	}
}
