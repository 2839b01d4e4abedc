package queue

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"

	"github.com/capq/capq/ulid"
)

// Prune drops the oldest pending records until at most keep remain, writing
// an audit line (reason "pruned") for each. Records locked by a consumer
// are skipped, never deleted under it; corrupt ones are quarantined rather
// than deleted (when the quarantine is broken, it is off for the rest of
// the call with one warning to the logger, and they are left, spec R33). A
// record whose unlink is refused (EPERM or EACCES: an immutable file,
// another owner's file in a sticky directory) is left, counted in Left and listed in Problems,
// with no audit line, and the next oldest is dropped instead (R18), for at
// most 64 such records per call. Any other unlink error (EIO) stops the
// call with the error. Cancelling ctx stops it between chunks of victims, each
// made durable, with ctx's error and the counts so far.
//
// A negative keep means no limit (the package's rule for limits): every
// record is kept and Prune touches nothing. Zero drops every record it
// can.
func (q *Queue) Prune(ctx context.Context, keep int) (Result, error) {
	if err := q.enter(); err != nil {
		return Result{}, err
	}
	defer q.leave()
	if keep < 0 {
		// No limit: nothing to drop. (This used to read as zero and
		// delete every record.)
		return Result{}, nil
	}
	q.tally.mu.Lock()
	defer q.tally.mu.Unlock()
	start := q.tally.appended.Load()
	count, err := q.count("prune")
	if err != nil {
		return Result{}, err
	}
	res, err := q.prune(ctx, count, keep, ulid.ULID{}, ReasonPruned)
	q.tally.reset(count-res.Dropped-res.Quarantined, start)
	return res, err
}

// pruneChunk bounds how many victims are held locked at once.
const pruneChunk = 256

// prune drops the oldest records until target remain, of the count found
// (spec R18, R20). It never drops newest or anything newer (the
// record whose append triggered the prune; zero means no such record).
// The caller holds q.tally.mu.
//
// For each chunk of victims: take each victim's lock (skipping those held
// by consumers), read its appended_at, write all audit lines and fsync the
// log, then unlink the records and their locks, then fsync the directory.
// The audit line comes first so that no record is ever dropped without
// one; a crash after it may leave a record that the log calls dropped,
// which the next prune drops (and logs) again.
func (q *Queue) prune(ctx context.Context, count, target int, newest ulid.ULID, reason Reason) (Result, error) {
	var res Result
	excess := count - target
	if excess <= 0 {
		return res, nil
	}
	q.ensureSpares()
	q.ensureAuditLog()
	ids, err := q.list("prune", excess, nil)
	if err != nil {
		return res, err
	}
	if mutantOn(mutOverflowDropsNewest) {
		// list returned every id, ordered; take the newest instead.
		slices.SortFunc(ids, ulid.ULID.Compare)
		slices.Reverse(ids)
		ids = ids[:min(excess, len(ids))]
		newest = ulid.ULID{}
	} else if len(ids) > excess {
		ids = ids[:excess] // the ReverseList mutant listed everything
	}
	if !newest.IsZero() {
		for i, id := range ids {
			if id.Compare(newest) >= 0 {
				ids = ids[:i]
				break
			}
		}
	}
	st := &pruneState{quarantine: sidePath{what: "quarantine", stays: staysCorrupt, call: "prune"}}
	// handled holds the ids taken so far, so that a later round, which
	// lists further, skips them.
	handled := make(map[ulid.ULID]bool, len(ids))
	for {
		passed := st.passed
		for len(ids) > 0 {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			chunk := ids[:min(len(ids), pruneChunk)]
			n, err := q.pruneChunk(chunk, count, reason, &res, st)
			for _, id := range chunk[:n] {
				handled[id] = true
			}
			if err != nil {
				return res, err
			}
			ids = ids[n:]
		}
		// A record that could not be unlinked (EPERM on an immutable
		// file, another owner's file in a sticky directory) stays, and
		// would stay the oldest for good: drop the next oldest instead,
		// so that the bound holds whenever some records can be dropped
		// (spec R18). Locked records are not replaced: their consumer
		// removes them soon.
		want := st.passed - passed
		if want == 0 || mutantOn(mutOverflowDropsNewest) {
			return res, nil
		}
		more, err := q.list("prune", len(handled)+want, nil)
		if err != nil {
			return res, err
		}
		ids = ids[:0]
		for _, id := range more {
			if !newest.IsZero() && id.Compare(newest) >= 0 {
				break
			}
			if !handled[id] && len(ids) < want {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			return res, nil
		}
	}
}

// pruneState is the state of one prune call that outlives a chunk.
type pruneState struct {
	// passed counts the records passed over because their unlink failed.
	passed int
	// quarantine is off for the rest of the call after its first
	// failure (R33), as in Ingest.
	quarantine sidePath
}

// maxUnlinkPass bounds the records one prune call passes over because
// their unlink failed: each costs an audit write and cut, and a directory
// where no unlink succeeds (read-only, no write permission) must not make
// the call try every record of the queue.
const maxUnlinkPass = maxProblems

// pruneChunk drops what it can of ids and returns how many of them it
// dealt with: all, unless it ran out of room for lock files (spare files
// included) with victims in hand, in which case it drops those first, which
// frees inodes, and leaves the rest to the next chunk (R32).
//
// A victim whose unlink is refused (EPERM, EACCES) is passed over: it stays, counted in Left
// and listed in Problems, its audit line is cut off again, and the victims
// after it are dropped (st.passed counts it, so prune drops the next
// oldest instead), up to maxUnlinkPass per call.
func (q *Queue) pruneChunk(ids []ulid.ULID, count int, reason Reason, res *Result, st *pruneState) (int, error) {
	const op = "prune"
	type victim struct {
		c    *claim
		name string
	}
	var victims []victim
	var entries []AuditEntry
	defer func() {
		for _, v := range victims {
			if v.c != nil {
				v.c.release(false)
			}
		}
	}()
	done := len(ids)
	for i, id := range ids {
		s := id.String()
		c, err := q.claimRecord(op, s)
		if err == errBusy {
			res.Skipped++
			continue
		}
		if err != nil && isNoSpace(err) && len(victims) > 0 {
			done = i // drop the victims in hand first: that frees room
			break
		}
		if err != nil {
			// This record's lock cannot be taken (EACCES, a FIFO at its
			// name, no room for a lock file): leave it, go on (R33).
			res.Left++
			addProblem(&res.Problems, lockName(s), err)
			continue
		}
		name := pendingName(s)
		data, err := q.readPending(name)
		if errors.Is(err, fs.ErrNotExist) {
			c.finish() // a consumer delivered it meanwhile
			continue
		}
		appendedAt := ""
		if err == nil {
			env, derr := decodeFile(name, data)
			if derr == nil {
				appendedAt = FormatAppendedAt(env.AppendedAt)
			}
			err = derr
		}
		switch {
		case errors.Is(err, ErrSchemaVersion):
			// A record of a newer format is not ours to judge as
			// corrupt; it can be dropped like any other, with the
			// reference's empty appended_at for an unreadable one.
		case errors.Is(err, ErrCorrupt) || errors.Is(err, ErrUnsafeFile):
			// Bytes a human may need: quarantine, never delete. When the
			// quarantine is broken, the file stays where it is (R33).
			var qerr error
			if st.quarantine.off() {
				qerr = fmt.Errorf("not quarantined: %w", st.quarantine.skipped())
			} else if qerr = q.quarantine(op, name, err.Error()); qerr != nil && !errors.Is(qerr, fs.ErrNotExist) {
				st.quarantine.fail(q, name, qerr)
			}
			if qerr != nil {
				res.Left++
				addProblem(&res.Problems, name, errors.Join(err, qerr))
				if cerr := c.release(false); cerr != nil {
					addProblem(&res.Problems, c.lock, cerr)
				}
				continue
			}
			if cerr := c.finish(); cerr != nil {
				addProblem(&res.Problems, c.lock, cerr)
			}
			res.Quarantined++
			continue
		case err != nil:
			// Unreadable (EACCES, EIO): never dropped unread, left.
			res.Left++
			addProblem(&res.Problems, name, err)
			if cerr := c.release(false); cerr != nil {
				addProblem(&res.Problems, c.lock, cerr)
			}
			continue
		}
		victims = append(victims, victim{c: c, name: name})
		size := count
		entries = append(entries, AuditEntry{
			TS: q.now(), DroppedULID: s, AppendedAt: appendedAt,
			Reason: reason, QueueSizeBeforePrune: &size,
		})
	}
	if len(victims) == 0 {
		return done, nil
	}
	// The unlinks run under the audit log's flock, after the lines are
	// durable; the lines of victims not unlinked are cut off again, so
	// no readable line describes a drop that did not happen (R20).
	dropped := res.Dropped
	for len(victims) > 0 {
		var uerr error
		werr := q.writeAuditThen(op, entries, func() int {
			for i := range victims {
				v := &victims[i]
				if err := q.fs.Remove(v.name); err != nil && !errors.Is(err, fs.ErrNotExist) {
					uerr = opErr(op, stepUnlink, v.name, err)
					return i
				}
				if cerr := v.c.finish(); cerr != nil {
					addProblem(&res.Problems, v.c.lock, cerr)
				}
				v.c = nil
				res.Dropped++
			}
			return len(victims)
		})
		// Only a refusal of this one file (EPERM, EACCES) is passed over;
		// EIO and the like say the disk is failing: stop, as before, and
		// let a later append retry (R18).
		if werr != nil || (uerr != nil && (st.passed >= maxUnlinkPass || !errors.Is(uerr, fs.ErrPermission))) {
			err := errors.Join(uerr, werr)
			if res.Dropped > dropped {
				err = errors.Join(err, q.syncDirs(op, "."))
			}
			return done, err
		}
		if uerr == nil {
			break
		}
		// Victim i could not be unlinked; its line and those after it
		// were cut off. Leave it (its lock released, the record intact)
		// and drop the victims after it, with their lines written again.
		i := 0
		for i < len(victims) && victims[i].c == nil {
			i++
		}
		v := &victims[i]
		res.Left++
		st.passed++
		addProblem(&res.Problems, v.name, uerr)
		if cerr := v.c.release(false); cerr != nil {
			addProblem(&res.Problems, v.c.lock, cerr)
		}
		v.c = nil
		victims, entries = victims[i+1:], entries[i+1:]
	}
	if res.Dropped == dropped {
		return done, nil // nothing unlinked: no directory entry changed
	}
	return done, q.syncDirs(op, ".")
}
