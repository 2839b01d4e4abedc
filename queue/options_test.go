//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package queue

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// Spec R13, R25: every limit has one rule: zero means the default, a
// negative value means no limit, and the two limits that bound memory have
// no "no limit" and are refused.
func TestOptionsLimitsRule(t *testing.T) {
	t.Parallel()
	r := Options{}.resolved()
	if r.MaxSize != defaultMaxSize || r.MaxRecordSize != defaultMaxRecordSize || r.MaxDepth != defaultMaxDepth ||
		r.TmpGrace != defaultTmpGrace || r.DeleteSyncEvery != defaultDeleteSyncEvery || r.AuditLogMaxSize != defaultAuditLogMaxSize {
		t.Errorf("zero Options resolved to %+v, want every default", r)
	}
	// A negative limit is returned as given by Options(), every one
	// alike (DeleteSyncEvery read as math.MaxInt before).
	nq, _ := openTest(t, Options{MaxSize: -2, TmpGrace: -2, DeleteSyncEvery: -2, AuditLogMaxSize: -2, SkipRecover: true})
	if n := nq.Options(); n.MaxSize != -2 || n.TmpGrace != -2 || n.DeleteSyncEvery != -2 || n.AuditLogMaxSize != -2 {
		t.Errorf("Options() of negative limits = %+v, want each as given", n)
	}
	for _, o := range []Options{{MaxRecordSize: -1}, {MaxDepth: -1}} {
		if _, err := Open(t.TempDir(), o); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("Open(%+v) = %v, want ErrInvalidOptions", o, err)
		}
		if _, err := Verify(context.Background(), t.TempDir(), o); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("Verify(context.Background(), %+v) = %v, want ErrInvalidOptions", o, err)
		}
	}

	// TmpGrace < 0: Recover never removes a stray .tmp file, however old.
	q, dir := openTest(t, Options{TmpGrace: -1, SkipRecover: true, clock: func() time.Time { return time.Now().Add(100 * 365 * 24 * time.Hour) }})
	tmp := dir + "/" + tmpName("01M89W077TES8Y8XEAP3E7KMB2")
	if err := os.WriteFile(tmp, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if rep, err := q.Recover(t.Context()); err != nil || len(rep.Removed) != 0 || !exists(t, tmp) {
		t.Errorf("Recover with TmpGrace -1 = %+v, %v; want the .tmp file kept", rep, err)
	}
}

// Spec R2: Append refuses a clock reading that appended_at cannot hold
// (outside years 1 to 9999) with ErrClock, before anything is written.
func TestAppendRefusesClockOutOfRange(t *testing.T) {
	t.Parallel()
	for _, at := range []time.Time{
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(0, 12, 31, 23, 59, 59, 0, time.UTC),
	} {
		q, dir := openTest(t, Options{clock: func() time.Time { return at }, SkipRecover: true})
		if _, err := q.Append([]byte(`{"a":1}`)); !errors.Is(err, ErrClock) {
			t.Errorf("Append at %v: %v, want ErrClock", at, err)
		}
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), pendingPrefix) {
				t.Errorf("Append at %v left %s, want nothing written", at, e.Name())
			}
		}
	}
}
