package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"slices"
	"time"

	"github.com/capq/capq/internal/fsys"
	"github.com/capq/capq/ulid"
)

// deadLetter moves a record whose handler failed MaxAttempts times into
// the dead-letter folder, with its attempt history beside it, and writes an
// audit line (spec R17). On success the claim is marked gone; the caller
// ends it.
func (q *Queue) deadLetter(c *claim, env Envelope, herr error) error {
	const op = "dead-letter"
	if err := q.ensureDir(op, deadLetterDir); err != nil {
		return err
	}
	name := pendingName(c.id)
	dst, hist, err := q.deadLetterSlot(op, c.id)
	if err != nil {
		return err
	}
	// The history is written (and fsynced) before the record moves, so a
	// dead letter is never without it.
	if err := q.writeDurable(op, hist, c.history()); err != nil {
		return err
	}
	if err := q.syncDirs(op, deadLetterDir); err != nil {
		return err
	}
	// The move never replaces an entry that appeared at dst since the
	// slot was chosen (moveNoReplace), and a move that fails takes its
	// audit line back (writeAuditThen).
	var rerr error
	moved := false
	if err := q.writeAuditThen(op, []AuditEntry{{
		TS: q.now(), Reason: ReasonDeadLetter, ULID: c.id,
		AppendedAt: FormatAppendedAt(env.AppendedAt),
		File:       dst, Attempts: c.attempt(),
		Detail: truncate(herr.Error(), 1024),
	}}, func() int {
		if err := q.moveNoReplace(name, dst); err != nil {
			rerr = opErr(op, stepRename, name, err)
			return 0
		}
		moved = true
		return 1
	}); err != nil || rerr != nil {
		if !moved {
			// The record stays pending with its history in its lock
			// file (R22): the history written above is this call's own
			// and would otherwise hold the unnumbered name, so the
			// record's next failure would move it to a numbered pair,
			// which Requeue and DeadLetters do not see (R17, R36). No
			// fsync: a removal a power cut undoes leaves the history a
			// crash would have left, which R36 already allows for.
			rerr = errors.Join(rerr, q.removeErr(op, hist))
		}
		return errors.Join(rerr, err)
	}
	c.gone = true // the caller's claim.end removes the lock
	return q.syncDirs(op, deadLetterDir, ".")
}

// deadLetterSlot returns the names a new dead letter of id takes: its own
// name and history name, or, when an earlier dead letter of the same ULID
// holds that name (a record of that ULID appended again, or restored),
// the first free numbered pair pending-<ULID>.json.N and
// pending-<ULID>.history.N. An earlier dead letter and its history are
// never replaced (spec R36).
func (q *Queue) deadLetterSlot(op, id string) (dst, hist string, err error) {
	base := deadLetterDir + "/" + pendingPrefix + id
	for i := 0; i <= maxQuarantineCopies; i++ {
		suffix := ""
		if i > 0 {
			suffix = "." + itoa(i)
		}
		dst, hist = base+pendingSuffix+suffix, base+historySuffix+suffix
		_, err := q.fs.Lstat(dst)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", "", opErr(op, stepOpen, dst, folderErr(err))
		}
		if err == nil {
			continue
		}
		// The history's name must be free too, or hold capq's own
		// history of a move of this record that failed or that a crash
		// cut short (the history is written before the record moves),
		// which the new one supersedes. Anything else there (a file of
		// someone else's, a symlink, a FIFO) is never replaced (spec
		// R36, R21).
		if _, err := q.fs.Lstat(hist); !errors.Is(err, fs.ErrNotExist) && !q.isHistory(hist) {
			continue
		}
		return dst, hist, nil
	}
	return "", "", opErr(op, stepRename, base+pendingSuffix, fs.ErrExist)
}

// isHistory reports whether name is a regular file (one link) whose first
// line is an attempt history line as capq writes them (spec R36).
func (q *Queue) isHistory(name string) bool {
	f, _, err := q.openRegular("dead-letter", name, os.O_RDONLY)
	if err != nil {
		return false
	}
	defer f.Close()
	buf := make([]byte, 4096)
	n, _ := f.ReadAt(buf, 0)
	line, _, _ := bytes.Cut(buf[:n], []byte("\n"))
	var h historyLine
	if json.Unmarshal(line, &h) != nil {
		return false
	}
	_, ok := parseAttempt(h.Attempt)
	return ok
}

// DeadLetters returns the ULIDs of the dead-lettered records, oldest first.
func (q *Queue) DeadLetters() ([]ulid.ULID, error) {
	if err := q.enter(); err != nil {
		return nil, err
	}
	defer q.leave()
	return q.deadLetters(false)
}

// deadLetters lists the ULIDs of the entries at dead letters' names;
// symlinks only when withUnsafe (RequeueAll names them as errors rather
// than pass over them in silence, spec R36).
func (q *Queue) deadLetters(withUnsafe bool) ([]ulid.ULID, error) {
	var ids []ulid.ULID
	err := q.fs.ReadDir(deadLetterDir, func(name []byte, typ fsys.EntryType) error {
		if k, idb := classify(name); k == kindPending && (withUnsafe || typ != fsys.TypeSymlink) {
			var id ulid.ULID
			if id.UnmarshalText(idb) == nil {
				ids = append(ids, id)
			}
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, opErr("dead-letters", stepList, deadLetterDir, folderErr(err))
	}
	slices.SortFunc(ids, ulid.ULID.Compare)
	return ids, nil
}

// DeadLetterHistory returns the attempt history of a dead letter: JSON
// Lines, one per recorded attempt start or failure. It reads at most 256
// KiB: a longer history (not one capq wrote: capq compacts histories, R35)
// returns its first 256 KiB with an error wrapping ErrReadLimit. Other
// errors: ErrNotFound if id has no history in the dead-letter folder, an
// *OpError wrapping ErrUnsafeFile for a symlink or special file there, an
// *OpError for a read that failed.
func (q *Queue) DeadLetterHistory(id ulid.ULID) ([]byte, error) {
	if err := q.enter(); err != nil {
		return nil, err
	}
	defer q.leave()
	name := deadLetterDir + "/" + pendingPrefix + id.String() + historySuffix
	f, _, err := q.openRegular("dead-letters", name, os.O_RDONLY)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fsys.ENOTDIR) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxHistory+1))
	if err != nil {
		return data, opErr("dead-letters", stepRead, name, err)
	}
	if len(data) > maxHistory {
		// Never cut short silently (R29): the caller gets the first
		// 256 KiB and an error saying there is more.
		return data[:maxHistory], opErr("dead-letters", stepRead, name, ErrReadLimit)
	}
	return data, nil
}

// Requeue puts a dead-lettered record back into the queue under its own
// ULID (so it keeps its place in the order), with a fresh attempt count,
// and writes an audit line. The history file is removed.
//
// Errors: ErrNotFound if id is not dead-lettered; an *OpError naming the
// file otherwise, and then the dead letter is where it was and no audit
// line says it moved: wrapping ErrUnsafeFile for a symlink or special file
// at the dead letter's name, fs.ErrExist for another file at the record's
// pending name (both are kept for a human), syscall.EWOULDBLOCK when a
// consumer holds the record's lock, or the file system's error. Once the
// record is back, a failed clean-up (the history's removal, a directory
// fsync) is still returned, as an *OpError whose Op is "requeue".
func (q *Queue) Requeue(id ulid.ULID) error {
	if err := q.enter(); err != nil {
		return err
	}
	defer q.leave()
	return q.requeue(id)
}

func (q *Queue) requeue(id ulid.ULID) error {
	const op = "requeue"
	s := id.String()
	name := pendingName(s)
	src := deadLetterDir + "/" + name
	fi, err := q.fs.Lstat(src)
	if errors.Is(err, fs.ErrNotExist) {
		return ErrNotFound
	}
	if err != nil {
		return opErr(op, stepOpen, src, err)
	}
	if !fi.IsRegular() {
		return opErr(op, stepOpen, src, ErrUnsafeFile)
	}
	// Hold the record's lock while it reappears, so no consumer can
	// deliver it before the move is complete; finishing the claim removes
	// any stale lock file, which would carry the old attempt count.
	c, err := q.claimRecord(op, s)
	for wait := time.Millisecond; err == errBusy; wait *= 2 {
		// Held: most likely by another requeuer moving this very dead
		// letter, which takes one audit line, a rename and a few fsyncs.
		// Once its dead-letter name is gone it is not ours (not found);
		// a lock still held after about half a second is a consumer's, and
		// reported (spec R36, R42).
		if _, lerr := q.fs.Lstat(src); errors.Is(lerr, fs.ErrNotExist) {
			return ErrNotFound
		}
		if wait > requeueBusyWait {
			return opErr(op, stepLock, lockName(s), fsys.ErrWouldBlock)
		}
		time.Sleep(wait)
		c, err = q.claimRecord(op, s)
	}
	if err != nil {
		return err
	}
	// Look again under the lock: every move of a dead letter holds it, so
	// what is seen now stays. Another requeuer may have moved this one
	// while we waited (two RequeueAll at once): then it is not found, not
	// an error of ours, and nothing is written (spec R42).
	switch fi, err = q.fs.Lstat(src); {
	case errors.Is(err, fs.ErrNotExist):
		return errors.Join(ErrNotFound, c.release(false))
	case err != nil:
		c.release(false)
		return opErr(op, stepOpen, src, err)
	case !fi.IsRegular():
		c.release(false)
		return opErr(op, stepOpen, src, ErrUnsafeFile)
	}
	// The move runs under the audit log's flock, after its line is
	// durable; a move that fails takes the line back (writeAuditThen), so
	// no readable line says a record was requeued that was not (R20).
	var rerr error
	moved := false
	err = q.writeAuditThen(op, []AuditEntry{{TS: q.now(), Reason: ReasonRequeued, ULID: s, File: name}}, func() int {
		switch cur, err := q.fs.Lstat(name); {
		case err == nil && cur.Ino == fi.Ino:
			// A crash during the move to dead-letter/ left the record
			// under both names (possible without a journal). Renaming
			// one link of a file onto another does nothing, so drop
			// the dead-letter name.
			if err := q.fs.Remove(src); err != nil {
				rerr = opErr(op, stepUnlink, src, err)
				return 0
			}
		case err == nil:
			// A different file under the record's name: keep both for
			// a human rather than overwrite either.
			rerr = opErr(op, stepRename, name, fs.ErrExist)
			return 0
		case !errors.Is(err, fs.ErrNotExist):
			rerr = opErr(op, stepOpen, name, err)
			return 0
		default:
			// An entry that appeared at this name since the check
			// above is kept, never replaced (moveNoReplace).
			if err := q.moveNoReplace(src, name); err != nil {
				rerr = opErr(op, stepRename, src, err)
				return 0
			}
		}
		moved = true
		return 1
	})
	if !moved {
		return errors.Join(rerr, err, c.release(false))
	}
	// The record is back: what follows is clean-up, whose errors are
	// returned (the requeue itself happened).
	return errors.Join(err, c.finish(),
		q.removeErr(op, deadLetterDir+"/"+pendingPrefix+s+historySuffix),
		q.syncDirs(op, ".", deadLetterDir))
}

// requeueBusyWait is about how long a requeue waits for a record's lock
// held by someone else (the waits double from 1 ms up to it, about twice
// it in all) before it reports the lock as held.
const requeueBusyWait = 256 * time.Millisecond

// RequeueAll requeues every dead letter and returns how many it moved. A
// dead letter it cannot requeue (a symlink or directory at its name, a
// pending file of the same name, a lock held by a consumer) is left where
// it is and the others are still requeued (spec R36): the error joins one
// error per dead letter left (at most 64, then a count). A dead letter
// that vanished since the listing (another RequeueAll or Requeue moved it)
// is skipped, neither counted nor reported (spec R42). Cancelling ctx
// stops it before the next dead letter, with ctx's error joined to the
// others and the count so far.
func (q *Queue) RequeueAll(ctx context.Context) (int, error) {
	if err := q.enter(); err != nil {
		return 0, err
	}
	defer q.leave()
	// Every entry at a dead letter's name, symlinks too: requeue refuses
	// those (ErrUnsafeFile), and the refusal is returned, not skipped.
	ids, err := q.deadLetters(true)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		if err := q.requeue(id); err != nil {
			if errors.Is(err, ErrNotFound) {
				// Gone since the listing: another requeuer took it
				// (spec R42). Not ours to count or report.
				continue
			}
			if len(errs) < maxProblems {
				errs = append(errs, err)
			} else if len(errs) == maxProblems {
				errs = append(errs, errors.New("capq: requeue: more dead letters left"))
			}
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}
