package model

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/capq/capq/internal/fsys"
	"github.com/capq/capq/internal/layout"
	"github.com/capq/capq/internal/queuefs"
	"github.com/capq/capq/queue"
	"github.com/capq/capq/ulid"
)

// corruptRecordQueue opens a queue over a fault-wrapped Mem with one
// appended record whose file is then made corrupt (so the next Ingest or
// Prune quarantines it, writing an audit line).
func corruptRecordQueue(t *testing.T) (*fsys.Mem, *fsys.Fault, *queue.Queue, ulid.ULID) {
	t.Helper()
	mem := fsys.NewMem(nil)
	ft := fsys.NewFault(mem.FS())
	q, err := queue.Open("mem", queuefs.With(queue.Options{MaxSize: -1}, ft))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	id, err := q.Append([]byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := mem.WriteFile("pending-"+id.String()+".json", []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	return mem, ft, q, id
}

// TestAuditTornTail: an audit write cut short (a short write on ENOSPC, or
// a power cut before its fsync) leaves a line without its newline; the next
// audit line must still be readable, or a record moves without an audit
// line (spec R20). Found by TestMachine.
func TestAuditTornTail(t *testing.T) {
	t.Parallel()
	mem, ft, q, id := corruptRecordQueue(t)
	ft.Inject(fsys.Rule{Op: fsys.OpWrite, Match: func(n string) bool { return n == layout.AuditLogName }, Times: 1, Err: fsys.ENOSPC, Short: true})
	// Spec R33: the corrupt record is left in place and reported.
	if res, err := q.Prune(t.Context(), 0); err != nil || res.Left != 1 || len(res.Problems) != 1 || !errors.Is(res.Problems[0].Err, fsys.ENOSPC) {
		t.Fatalf("Prune with a failing audit write = %+v, %v; want the record left and ENOSPC reported", res, err)
	}
	ft.Reset()
	if _, err := q.Prune(t.Context(), 0); err != nil {
		t.Fatal(err)
	}
	entries, err := AuditAll(q)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range entries {
		found = found || e.Reason == queue.ReasonQuarantined && e.ULID == id.String()
	}
	if !found {
		data, _ := mem.ReadFile(layout.AuditLogName)
		t.Fatalf("R20: %s was quarantined, but the audit log has no readable line for it:\n%s", id, strings.ReplaceAll(string(data), "\n", "\\n\n"))
	}
}

var errLeft = errors.New("left")

// TestQuarantineLstatError: when the file system fails every call (a disk
// that returns EIO, or a process being killed), quarantining a corrupt file
// must give up (the file is left and reported, spec R33), not spin forever probing for a free name in
// quarantine/ (queue.quarantine loops while Lstat fails with anything but
// ENOENT). Found by TestMachine (a crash at a file-system call of Ingest).
func TestQuarantineLstatError(t *testing.T) {
	t.Parallel()
	_, ft, q, _ := corruptRecordQueue(t)
	ft.Inject(fsys.Rule{Op: fsys.OpLstat, Match: func(n string) bool { return strings.HasPrefix(n, layout.QuarantineDir+"/") }, Err: fsys.EIO})
	done := make(chan error, 1)
	go func() {
		res, err := q.Ingest(context.Background(), func(context.Context, queue.Delivery) error { return nil }, queue.IngestOptions{})
		if err == nil && (res.Quarantined != 0 || res.Left != 1 || len(res.Problems) != 1 || !errors.Is(res.Problems[0].Err, fsys.EIO)) {
			err = fmt.Errorf("Ingest = %+v; want the file left and the EIO reported (spec R33)", res)
		} else if err == nil {
			err = errLeft
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != errLeft {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second): // a deadlock detector, not a performance bound
		t.Fatal("Ingest still running after 20s: queue.quarantine loops on Lstat errors other than ENOENT")
	}
}

// TestAttemptHistoryReadError: a claim whose read of the lock file's
// attempt history fails must not go on as if the history were empty: the
// Attempt would be lower than the truth without any power cut (spec R16),
// and the next history line would be written at offset 0, over the old
// ones. Found by RunCampaign (a read fault during Ingest after a crash).
func TestAttemptHistoryReadError(t *testing.T) {
	t.Parallel()
	mem := fsys.NewMem(nil)
	ft := fsys.NewFault(mem.FS())
	q, err := queue.Open("mem", queuefs.With(queue.Options{MaxSize: -1}, ft))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	id, err := q.Append([]byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	fail := func(context.Context, queue.Delivery) error { return errHandler }
	for range 2 { // attempts 1 and 2 fail: the history says 2
		if _, err := q.Ingest(context.Background(), fail, queue.IngestOptions{}); !errors.Is(err, errHandler) {
			t.Fatalf("Ingest: %v, want the handler's error", err)
		}
	}
	lock := "pending-" + id.String() + ".lock"
	ft.Inject(fsys.Rule{Op: fsys.OpRead, Match: func(n string) bool { return n == lock }, Times: 1, Err: fsys.EIO})
	var attempts []int
	_, err = q.Ingest(context.Background(), func(_ context.Context, d queue.Delivery) error {
		attempts = append(attempts, d.Attempt)
		return nil
	}, queue.IngestOptions{})
	if len(attempts) > 0 && attempts[0] != 3 {
		t.Fatalf("R16: after a failed read of the attempt history, delivery has Attempt %d (err %v), want 3 or no delivery", attempts[0], err)
	}
}

// TestCampaignRegressions replays campaign runs that once failed, by phase
// and seed, so that their bugs stay fixed.
func TestCampaignRegressions(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		phase string
		seed  uint64
		bug   string
	}{
		// A power cut during a move to dead-letter/ left the record
		// under both names; Requeue renamed one link onto the other (a
		// no-op) and the record stayed a dead letter too (spec R17).
		{"model", 4826986155994096574, "requeue of a record left under both names"},
		// The same, but the pending copy was delivered first: Requeue
		// of the stale dead-letter name delivered it again. Recover now
		// drops a dead-letter name that is the same file as the pending
		// one (spec R25).
		{"model", 3327881181171659189, "stale dead-letter name after a half-done move"},
	} {
		if steps, err := runOne(tt.phase, tt.seed, t.Logf); err != nil {
			t.Errorf("%s (%s seed %d, %d steps): %v", tt.bug, tt.phase, tt.seed, steps, err)
		}
	}
}
