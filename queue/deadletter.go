package queue

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"slices"
	"syscall"

	"github.com/capq/capq/internal/fsys"
	"github.com/capq/capq/ulid"
)

// deadLetter moves a record whose handler failed MaxAttempts times into
// the dead-letter folder, with its attempt history beside it, and writes an
// audit line (spec R17). The claim is finished on success.
func (q *Queue) deadLetter(c *claim, env Envelope, herr error) error {
	const op = "dead-letter"
	if err := q.ensureDir(op, DeadLetterDir); err != nil {
		return err
	}
	name := pendingName(c.id)
	hist := DeadLetterDir + "/" + pendingPrefix + c.id + historySuffix
	// The history is written (and fsynced) before the record moves, so a
	// dead letter is never without it.
	if err := q.writeDurable(op, hist, c.history()); err != nil {
		return err
	}
	if err := q.syncDirs(op, DeadLetterDir); err != nil {
		return err
	}
	if err := q.writeAudit(op, []AuditEntry{{
		TS: q.now(), Reason: ReasonDeadLetter, ULID: c.id,
		AppendedAt: FormatAppendedAt(env.AppendedAt),
		File:       DeadLetterDir + "/" + name, Attempts: c.attempt(),
		Detail: truncate(herr.Error(), 1024),
	}}); err != nil {
		return err
	}
	if err := q.fs.Rename(name, DeadLetterDir+"/"+name); err != nil {
		return opErr(op, stepRename, name, err)
	}
	c.finish()
	return q.syncDirs(op, DeadLetterDir, ".")
}

// DeadLetters returns the ULIDs of the dead-lettered records, oldest first.
func (q *Queue) DeadLetters() ([]ulid.ULID, error) {
	if err := q.enter(); err != nil {
		return nil, err
	}
	defer q.leave()
	return q.deadLetters()
}

func (q *Queue) deadLetters() ([]ulid.ULID, error) {
	var ids []ulid.ULID
	err := q.fs.ReadDir(DeadLetterDir, func(name []byte, typ fsys.EntryType) error {
		if k, idb := classify(name); k == kindPending && typ != fsys.TypeSymlink {
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
		return nil, opErr("dead-letters", stepList, DeadLetterDir, err)
	}
	slices.SortFunc(ids, ulid.ULID.Compare)
	return ids, nil
}

// DeadLetterHistory returns the attempt history of a dead letter: JSON
// Lines, one per recorded attempt start or failure.
func (q *Queue) DeadLetterHistory(id ulid.ULID) ([]byte, error) {
	if err := q.enter(); err != nil {
		return nil, err
	}
	defer q.leave()
	name := DeadLetterDir + "/" + pendingPrefix + id.String() + historySuffix
	f, _, err := q.openRegular("dead-letters", name, os.O_RDONLY)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxHistory))
	if err != nil {
		return data, opErr("dead-letters", stepRead, name, err)
	}
	return data, nil
}

// Requeue puts a dead-lettered record back into the queue under its own
// ULID (so it keeps its place in the order), with a fresh attempt count,
// and writes an audit line. The history file is removed. It returns
// ErrNotFound if id is not dead-lettered.
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
	src := DeadLetterDir + "/" + name
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
	if err == errBusy {
		return opErr(op, stepLock, lockName(s), syscall.EWOULDBLOCK)
	}
	if err != nil {
		return err
	}
	if err := q.writeAudit(op, []AuditEntry{{TS: q.now(), Reason: ReasonRequeued, ULID: s, File: name}}); err != nil {
		c.release(false)
		return err
	}
	switch cur, err := q.fs.Lstat(name); {
	case err == nil && cur.Ino == fi.Ino:
		// A crash during the move to dead-letter/ left the record under
		// both names (possible without a journal). Renaming one link of
		// a file onto another does nothing, so drop the dead-letter name.
		if err := q.fs.Remove(src); err != nil {
			c.release(false)
			return opErr(op, stepUnlink, src, err)
		}
	case err == nil:
		// A different file under the record's name: keep both for a
		// human rather than overwrite either.
		c.release(false)
		return opErr(op, stepRename, name, fs.ErrExist)
	case !errors.Is(err, fs.ErrNotExist):
		c.release(false)
		return opErr(op, stepOpen, name, err)
	default:
		if err := q.fs.Rename(src, name); err != nil {
			c.release(false)
			return opErr(op, stepRename, src, err)
		}
	}
	c.finish()
	q.fs.Remove(DeadLetterDir + "/" + pendingPrefix + s + historySuffix)
	return q.syncDirs(op, ".", DeadLetterDir)
}

// RequeueAll requeues every dead letter and returns how many it moved.
func (q *Queue) RequeueAll() (int, error) {
	if err := q.enter(); err != nil {
		return 0, err
	}
	defer q.leave()
	ids, err := q.deadLetters()
	if err != nil {
		return 0, err
	}
	for i, id := range ids {
		if err := q.requeue(id); err != nil {
			return i, err
		}
	}
	return len(ids), nil
}
