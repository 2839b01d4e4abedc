//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package queue

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/capq/capq/internal/fsys"
)

// Spec R18, R33: a pending record that cannot be unlinked (EPERM: chattr
// +i, another owner's file in a sticky directory) is passed over, left and
// reported, and the next oldest is dropped instead, so the MaxSize bound
// (and Prune's keep) holds whenever some records can be dropped. The audit
// log has a line only for what was dropped. Found by the second outside
// tester of #14: the overflow prune failed on the same oldest record for
// good and the count grew past MaxSize (53 with MaxSize 3).
func TestPrunePassesOverUnlinkFailure(t *testing.T) {
	t.Parallel()
	const maxSize = 3
	tests := []struct {
		name     string
		appends  int
		prune    bool // call Prune(ctx, 0) after the appends
		maxCount int  // the pending count afterwards is at most this
	}{
		{name: "overflow", appends: 50, maxCount: maxSize},
		{name: "prune", appends: 3, prune: true, maxCount: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var log bytes.Buffer
			opts := Options{MaxSize: maxSize, Logger: slog.New(slog.NewTextHandler(&log, nil))}
			if tt.prune {
				opts.MaxSize = -1
			}
			_, f, q := openMemFault(t, opts)
			stuck := mustAppend(t, q, sampleRecord(0, ""))
			stuckName := pendingName(stuck.String())
			f.Inject(fsys.Rule{Op: fsys.OpRemove, Match: func(n string) bool { return n == stuckName }, Err: fsys.EPERM})
			for i := 1; i <= tt.appends; i++ {
				mustAppend(t, q, sampleRecord(i, ""))
			}
			if tt.prune {
				res, err := q.Prune(context.Background(), 0)
				if err != nil {
					t.Fatalf("Prune: %v", err)
				}
				if res.Left != 1 || res.Dropped != tt.appends || len(res.Problems) != 1 ||
					res.Problems[0].Name != stuckName || !errors.Is(res.Problems[0].Err, fsys.EPERM) {
					t.Errorf("Prune = %+v, want %d dropped, the stuck record left with EPERM", res, tt.appends)
				}
			} else if !strings.Contains(log.String(), stuckName) {
				t.Errorf("no warning names the record left: %q", log.String())
			}
			ids, err := q.List()
			if err != nil {
				t.Fatal(err)
			}
			if len(ids) > tt.maxCount || len(ids) == 0 || ids[0] != stuck {
				t.Fatalf("pending %v (%d), want at most %d, the stuck %s first", ids, len(ids), tt.maxCount, stuck)
			}
			// Audit truth: a line for each dropped record, none for the
			// one left.
			entries, err := auditAll(q)
			if err != nil {
				t.Fatal(err)
			}
			if want := tt.appends + 1 - len(ids); len(entries) != want {
				t.Errorf("%d audit lines, want %d (one per dropped record)", len(entries), want)
			}
			for _, e := range entries {
				if e.DroppedULID == stuck.String() {
					t.Errorf("audit line for the record that was not dropped: %+v", e)
				}
			}
		})
	}
}

// Spec R33: Prune and the overflow prune inside Append switch a broken
// quarantine off for the rest of the call with one warning to the logger,
// as Ingest does; a later corrupt record is left, and its Problem names the
// earlier failure that switched the quarantine off. Found by the second
// outside tester of #14: neither warned.
func TestPruneQuarantineOffWarnsOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts Options
		run  func(q *Queue) (Result, error)
	}{
		{"Prune", Options{MaxSize: -1}, func(q *Queue) (Result, error) { return q.Prune(context.Background(), 0) }},
		{"overflow", Options{MaxSize: 2}, func(q *Queue) (Result, error) {
			// Three pending of MaxSize 2: the prune keeps 1, so it
			// takes both corrupt records. Append reports no Result.
			_, err := q.Append(sampleRecord(9, ""))
			return Result{Left: 2}, err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var log bytes.Buffer
			tt.opts.Logger = slog.New(slog.NewTextHandler(&log, nil))
			m := fsys.NewMem(nil)
			// Two corrupt records older than anything Append makes, and a
			// file where the quarantine folder should be.
			bad := []string{pendingName("00000000000000000000000001"), pendingName("00000000000000000000000002")}
			for _, name := range append(bad, quarantineDir) {
				if err := m.WriteFile(name, []byte("not json"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			q := openMem(t, m.FS(), tt.opts)
			res, err := tt.run(q)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if n := strings.Count(log.String(), "quarantine disabled"); n != 1 {
				t.Errorf("%d quarantine warnings, want 1: %q", n, log.String())
			}
			if res.Left != 2 {
				t.Errorf("Left = %d, want 2", res.Left)
			}
			if tt.name == "Prune" {
				if len(res.Problems) != 2 || !strings.Contains(res.Problems[1].Err.Error(), "switched off by the failure on "+bad[0]) {
					t.Errorf("Problems %v: the second should name %s as the failure that switched the quarantine off", res.Problems, bad[0])
				}
			}
			for _, name := range bad {
				if _, err := m.ReadFile(name); err != nil {
					t.Errorf("corrupt record %s not left in place: %v", name, err)
				}
			}
		})
	}
}
