//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package queue

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/capq/capq/internal/fsys"
)

// TestMovesNeverReplaceAPlantedTarget plants a file at the target of a
// dead-letter move, a quarantine move and a requeue at the last moment,
// after the queue chose the name and just before its rename, through the
// fault seam's hook. On a file system with the no-replace call the move
// must fail and the planted file keep its bytes: each caller goes through
// moveNoReplace, never a plain rename (spec R45, R36, R21).
func TestMovesNeverReplaceAPlantedTarget(t *testing.T) {
	t.Parallel()
	fail := func(context.Context, Delivery) error { return errors.New("handler fails") }
	ok := func(context.Context, Delivery) error { return nil }
	for _, tc := range []struct {
		name   string
		prefix string // the rename target planted: it starts so, ends in .json
		// run sets the queue up and does the move; it returns the error
		// the move gave, if the operation reports one.
		run func(t *testing.T, q *Queue, m *fsys.Mem, arm func()) error
	}{
		{"dead-letter", deadLetterDir + "/" + pendingPrefix, func(t *testing.T, q *Queue, m *fsys.Mem, arm func()) error {
			mustAppend(t, q, []byte(`{"n":1}`))
			arm()
			_, err := q.Ingest(context.Background(), fail, IngestOptions{MaxAttempts: 1})
			return err
		}},
		{"quarantine", quarantineDir + "/" + pendingPrefix, func(t *testing.T, q *Queue, m *fsys.Mem, arm func()) error {
			id := mustAppend(t, q, []byte(`{"n":1}`))
			if err := m.WriteFile(pendingName(id.String()), []byte("{not json"), 0o600); err != nil {
				t.Fatal(err)
			}
			arm()
			res, err := q.Ingest(context.Background(), ok, IngestOptions{})
			if err == nil && res.Quarantined != 0 {
				t.Errorf("Ingest reports %d quarantined", res.Quarantined)
			}
			return err
		}},
		{"requeue", pendingPrefix, func(t *testing.T, q *Queue, m *fsys.Mem, arm func()) error {
			id := mustAppend(t, q, []byte(`{"n":1}`))
			if _, err := q.Ingest(context.Background(), fail, IngestOptions{MaxAttempts: 1}); err != nil {
				t.Fatal(err)
			}
			arm()
			err := q.Requeue(id)
			if !errors.Is(err, fs.ErrExist) {
				t.Errorf("Requeue onto a planted pending file: %v, want fs.ErrExist", err)
			}
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := fsys.NewMem(nil)
			f := fsys.NewFault(m.FS())
			q := openMem(t, f.WithNoReplace(), Options{})
			var armed, planted atomic.Bool
			var at string
			const bytes = "planted by someone else"
			f.SetHook(func(c fsys.Call) error {
				if c.Op == fsys.OpRename && armed.Load() && strings.HasPrefix(c.NewName, tc.prefix) &&
					strings.HasSuffix(c.NewName, pendingSuffix) && planted.CompareAndSwap(false, true) {
					at = c.NewName
					if err := m.WriteFile(c.NewName, []byte(bytes), 0o600); err != nil {
						t.Errorf("planting %s: %v", c.NewName, err)
					}
				}
				return nil
			})
			tc.run(t, q, m, func() { armed.Store(true) })
			if !planted.Load() {
				t.Fatalf("no rename to %s* happened", tc.prefix)
			}
			if got, err := m.ReadFile(at); err != nil || string(got) != bytes {
				t.Fatalf("planted %s after the move: %q, %v: replaced", at, got, err)
			}
		})
	}
}
