//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package queue

import (
	"context"
	"errors"
	"io/fs"
	"testing"
)

// Spec R39: Delivery.LockFile hands over a copy of the lock during the
// handler's call; called after the handler returned (the claim's
// descriptor is closed then), it fails with a typed error: an *OpError
// naming the lock file that wraps fs.ErrClosed.
func TestLockFileAfterHandler(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		handlerE error
		opts     IngestOptions
	}{
		{"handler succeeded", nil, IngestOptions{}},
		{"handler failed", errors.New("boom"), IngestOptions{}},
		{"handler failed, MaxAttempts", errors.New("boom"), IngestOptions{MaxAttempts: 3}},
		{"not the handler's fault", ErrNotHandlerFault, IngestOptions{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q, _ := openTest(t, Options{})
			id := mustAppend(t, q, sampleRecord(0, ""))
			var kept Delivery
			q.Ingest(context.Background(), func(_ context.Context, d Delivery) error {
				f, err := d.LockFile()
				if err != nil {
					t.Errorf("LockFile during the handler: %v", err)
				} else {
					f.Close()
				}
				kept = d
				return tt.handlerE
			}, tt.opts)
			f, err := kept.LockFile()
			if f != nil {
				f.Close()
			}
			var oe *OpError
			if !errors.As(err, &oe) || !errors.Is(err, fs.ErrClosed) || oe.Name != lockName(id.String()) || oe.Step != stepDup {
				t.Fatalf("LockFile after the handler returned = %v (%#v), want an *OpError for %s wrapping fs.ErrClosed", err, err, lockName(id.String()))
			}
		})
	}
}
