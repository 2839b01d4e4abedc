//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package queue

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/capq/capq/internal/fsys"
	"github.com/capq/capq/ulid"
)

// Spec R20: every operation that writes an audit line before its action
// (requeue, RequeueAll, dead letter, quarantine, prune, overflow drop)
// takes the line back when the action fails, so once the call returned no
// readable line describes a move or drop that did not happen. Each case
// sets up the operation on the in-memory file system, makes its action
// fail (an entry in the way, or a fault on the rename or unlink), runs it,
// and checks that the action did not happen and that the log has no line.
func TestFailedActionLeavesNoAuditLine(t *testing.T) {
	t.Parallel()
	failing := func(context.Context, Delivery) error { return errors.New("fail") }
	type env struct {
		t   *testing.T
		m   *fsys.Mem
		f   *fsys.Fault
		q   *Queue
		id  ulid.ULID     // the record the action is about
		log *bytes.Buffer // the queue's Logger writes here
	}
	// put writes a file through a view of the Mem that has no fault.
	put := func(e *env, name, data string) {
		w, err := e.m.FS().OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			e.t.Fatal(err)
		}
		if _, err := w.Write([]byte(data)); err != nil {
			e.t.Fatal(err)
		}
		w.Close()
	}
	deadLettered := func(e *env) {
		e.id = deadLetterN(e.t, e.q, 1)[0]
	}
	stillDeadLetter := func(e *env) {
		if dl, err := e.q.DeadLetters(); err != nil || len(dl) != 1 || dl[0] != e.id {
			e.t.Errorf("DeadLetters = %v, %v; want %s still there", dl, err, e.id)
		}
	}
	stillPending := func(e *env) {
		if _, err := e.m.FS().Lstat(pendingName(e.id.String())); err != nil {
			e.t.Errorf("record %s is not pending any more: %v", e.id, err)
		}
	}
	// renameInto fails the move of a record into dir, not the writing of
	// the history beside it (pending-<ULID>.history, through a .tmp).
	renameInto := func(dir string) fsys.Rule {
		return fsys.Rule{Op: fsys.OpRename, Match: func(n string) bool {
			return strings.HasPrefix(n, dir+"/") && strings.HasSuffix(n, pendingSuffix)
		}}
	}
	removeOf := fsys.Rule{Op: fsys.OpRemove, Match: isName(pendingSuffix)}
	for _, tc := range []struct {
		name   string
		opts   Options
		setup  func(e *env)      // before the fault is injected
		fault  *fsys.Rule        // nil: setup already put something in the way
		run    func(e *env) bool // runs the operation, reports whether it said it failed
		after  func(e *env)      // checks that the action did not happen
		reason Reason
	}{{
		name: "requeue onto an occupied name",
		setup: func(e *env) {
			deadLettered(e)
			put(e, pendingName(e.id.String()), "someone else's")
		},
		run: func(e *env) bool {
			err := e.q.Requeue(e.id)
			if !errors.Is(err, fs.ErrExist) {
				e.t.Errorf("Requeue = %v, want fs.ErrExist", err)
			}
			return err != nil
		},
		after: stillDeadLetter, reason: ReasonRequeued,
	}, {
		name:  "requeue whose rename fails",
		setup: deadLettered,
		fault: &fsys.Rule{Op: fsys.OpRename, Match: isName(pendingSuffix)},
		run:   func(e *env) bool { return e.q.Requeue(e.id) != nil },
		after: stillDeadLetter, reason: ReasonRequeued,
	}, {
		name: "RequeueAll onto an occupied name, tried twice",
		setup: func(e *env) {
			deadLettered(e)
			put(e, pendingName(e.id.String()), "someone else's")
		},
		run: func(e *env) bool {
			n1, err1 := e.q.RequeueAll(context.Background())
			n2, err2 := e.q.RequeueAll(context.Background())
			return n1+n2 == 0 && err1 != nil && err2 != nil
		},
		after: stillDeadLetter, reason: ReasonRequeued,
	}, {
		name: "dead letter whose rename fails",
		setup: func(e *env) {
			e.id = mustAppend(e.t, e.q, sampleRecord(1, ""))
		},
		fault: ptr(renameInto(deadLetterDir)),
		run: func(e *env) bool {
			res, err := e.q.Ingest(context.Background(), failing, IngestOptions{MaxAttempts: 1})
			return res.DeadLettered == 0 && (err != nil || len(res.Problems) > 0)
		},
		after: stillPending, reason: ReasonDeadLetter,
	}, {
		name: "quarantine whose rename fails",
		setup: func(e *env) {
			e.id = newULID(e.t)
			put(e, pendingName(e.id.String()), "junk")
		},
		fault: ptr(renameInto(quarantineDir)),
		run: func(e *env) bool {
			res, err := e.q.Ingest(context.Background(), failing, IngestOptions{})
			return res.Quarantined == 0 && res.Left == 1 && (err != nil || len(res.Problems) > 0)
		},
		after: stillPending, reason: ReasonQuarantined,
	}, {
		name: "prune whose unlink fails",
		setup: func(e *env) {
			e.id = mustAppend(e.t, e.q, sampleRecord(1, ""))
		},
		fault: &removeOf,
		run: func(e *env) bool {
			res, err := e.q.Prune(context.Background(), 0)
			return res.Dropped == 0 && err != nil
		},
		after: stillPending, reason: ReasonPruned,
	}, {
		name: "overflow drop whose unlink fails",
		opts: Options{MaxSize: 1},
		setup: func(e *env) {
			e.id = mustAppend(e.t, e.q, sampleRecord(1, ""))
		},
		fault: &removeOf,
		run: func(e *env) bool {
			// The append itself committed: the failed drop is logged.
			_, err := e.q.Append(sampleRecord(2, ""))
			return err == nil && strings.Contains(e.log.String(), "unlink")
		},
		after: stillPending, reason: ReasonOverflow,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var log bytes.Buffer
			tc.opts.Logger = slog.New(slog.NewTextHandler(&log, nil))
			m, f, q := openMemFault(t, tc.opts)
			e := &env{t: t, m: m, f: f, q: q, log: &log}
			tc.setup(e)
			if tc.fault != nil {
				f.Inject(*tc.fault)
			}
			if !tc.run(e) {
				t.Error("the operation did not report the failure of its action")
			}
			f.Reset()
			tc.after(e)
			for _, l := range auditFor(t, q, tc.reason, e.id.String()) {
				t.Errorf("audit line for an action that did not happen: %+v", l)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
