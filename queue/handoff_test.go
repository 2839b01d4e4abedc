//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package queue

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/capq/capq/ulid"
)

// Spec R39: the descriptor Delivery.LockFile returns holds the record's
// lock by itself: after the handler failed and Ingest closed its own
// descriptor, a consumer still skips the record until that copy is
// closed, and then delivers it as a retry. Without a descriptor to hand
// over (the fault seam), LockFile says so.
func TestDeliveryLockFile(t *testing.T) {
	t.Parallel()
	q, _ := openTest(t, Options{NoSync: true})
	id := mustAppend(t, q, sampleRecord(1, ""))
	held, err := ingestKeepingLock(t, q, errors.New("the work goes on in another process"))
	if err != nil {
		t.Fatal(err)
	}
	ingestSkips(t, q, id, "a copy of its lock is held")
	held.Close()
	var seen []Delivery
	if _, err := q.Ingest(context.Background(), collect(&seen), IngestOptions{MaxAttempts: 5}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || seen[0].Attempt != 2 {
		t.Fatalf("after the copy was closed: deliveries %+v, want one with Attempt 2", seen)
	}

	fq, _, _ := openFault(t, Options{NoSync: true})
	mustAppend(t, fq, sampleRecord(2, ""))
	fq.Ingest(context.Background(), func(_ context.Context, d Delivery) error {
		if _, err := d.LockFile(); !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("LockFile behind the fault seam: %v, want errors.ErrUnsupported", err)
		}
		return nil
	}, IngestOptions{})
}

// Spec R39: a claim that ends without an attempt (ErrNotHandlerFault, as
// when capq is told to stop) on a lock file it created does not unlink the
// lock name while a copy of the descriptor is still held elsewhere (a
// handler's child): otherwise the next consumer would create a new lock
// file and deliver the record while the first handler's work goes on.
// Once the copy is closed, an unheld lock name is removed again.
func TestReleaseKeepsLockHeldElsewhere(t *testing.T) {
	t.Parallel()
	q, dir := openTest(t, Options{NoSync: true})
	id := mustAppend(t, q, sampleRecord(1, ""))
	held, err := ingestKeepingLock(t, q, fmt.Errorf("%w: capq was told to stop", ErrNotHandlerFault))
	if err != nil && !errors.Is(err, ErrNotHandlerFault) {
		t.Fatal(err)
	}
	if _, err := os.Lstat(dir + "/" + lockName(id.String())); err != nil {
		t.Fatalf("lock name of a record whose lock is still held elsewhere: %v, want it kept", err)
	}
	ingestSkips(t, q, id, "its first handler's copy of the lock is held")
	held.Close()

	// Nobody else holds it: a release without an attempt leaves no lock.
	id2 := mustAppend(t, q, sampleRecord(2, ""))
	q.Ingest(context.Background(), func(_ context.Context, d Delivery) error {
		return fmt.Errorf("%w: stop", ErrNotHandlerFault)
	}, IngestOptions{MaxAttempts: 5})
	if _, err := os.Lstat(dir + "/" + lockName(id2.String())); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("lock of a record released without an attempt and held by nobody: %v, want it removed", err)
	}
}

// ingestKeepingLock runs an Ingest (MaxAttempts 5) whose handler takes a
// copy of its record's lock (Delivery.LockFile), as a handler that hands
// the work to another process does, and returns handlerErr. It returns
// that copy, still open, and Ingest's error.
func ingestKeepingLock(t *testing.T, q *Queue, handlerErr error) (*os.File, error) {
	t.Helper()
	var held *os.File
	_, err := q.Ingest(context.Background(), func(_ context.Context, d Delivery) error {
		f, err := d.LockFile()
		if err != nil {
			t.Fatalf("LockFile: %v", err)
		}
		held = f
		return handlerErr
	}, IngestOptions{MaxAttempts: 5})
	return held, err
}

// ingestSkips runs an Ingest that must skip the record id, whose lock is
// held elsewhere (while says how).
func ingestSkips(t *testing.T, q *Queue, id ulid.ULID, while string) {
	t.Helper()
	res, err := q.Ingest(context.Background(), func(context.Context, Delivery) error {
		t.Fatalf("record %s delivered while %s", id, while)
		return nil
	}, IngestOptions{MaxAttempts: 5})
	if err != nil || res.Skipped != 1 {
		t.Fatalf("second Ingest: %+v, %v; want the record skipped", res, err)
	}
}
