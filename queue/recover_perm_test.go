//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package queue

import (
	"context"
	"syscall"
	"testing"

	"github.com/capq/capq/internal/fsys"
)

// Spec R33: a dead-letter folder capq may not read (EACCES, left by a
// `sudo capq`) is a side path problem: Recover, and so Open, still succeed,
// and a drain still delivers.
func TestRecoverUnreadableDeadLetterFolder(t *testing.T) {
	q, _, f := openFault(t, Options{NoSync: true})
	mustAppend(t, q, sampleRecord(1, ""))
	if err := q.fs.Mkdir(deadLetterDir, 0o700); err != nil {
		t.Fatal(err)
	}
	f.Inject(fsys.Rule{Op: fsys.OpReadDir, Match: func(n string) bool { return n == deadLetterDir }, Err: syscall.EACCES})
	rep, err := q.Recover(context.Background())
	if err != nil {
		t.Fatalf("Recover with an unreadable dead-letter folder: %v", err)
	}
	if !problemIs(rep.Problems, syscall.EACCES) {
		t.Errorf("RecoverResult.Problems = %v, want the EACCES reported", rep.Problems)
	}
	var seen []Delivery
	res, err := q.Ingest(context.Background(), collect(&seen), IngestOptions{MaxAttempts: 3})
	if err != nil || res.Delivered != 1 {
		t.Fatalf("Ingest: %+v, %v; want the record delivered", res, err)
	}
}
