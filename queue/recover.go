package queue

import (
	"cmp"
	"context"
	"errors"
	"io/fs"
	"slices"
	"strings"

	"github.com/capq/capq/internal/fsys"
	"github.com/capq/capq/ulid"
)

// RecoverResult says what Recover found and did. One rule for its lists:
// files it removed are named (relative to the queue directory), because a
// removed file may not name a record; records it leaves in place are
// ULIDs, as everywhere else in the API (Delivery.ULID, HandlerError.ULID).
type RecoverResult struct {
	// Removed lists the files removed, each name saying what it was:
	// stray temporary files older than Options.TmpGrace (.json.tmp of an
	// append that died before its rename, .locktmp of a lock creation
	// that died, on file systems without O_TMPFILE: an empty one, or the
	// second name of its lock file, never one holding other bytes or
	// linked elsewhere, spec R45); lock files (.lock)
	// whose record no longer exists (a consumer died between deleting the
	// record and its lock, or the reference pruned the record and left
	// the lock); and dead-letter/ names whose file was still pending too
	// (a crash during the move to dead-letter/ left it under both names,
	// possible on file systems without a journal: the record stays
	// pending, with its attempt history).
	Removed []string
	// InDoubt lists records whose lock file exists but is held by nobody:
	// a consumer died, or its handler failed, while delivering them. The
	// handler may or may not have finished its work; the next delivery
	// has Attempt > 1 so that it can deduplicate.
	InDoubt []ulid.ULID
	// Problems lists what recovery went past (at most 64): a dead-letter
	// folder it could not list, a lock file it could not remove or close
	// (spec R33).
	Problems []Problem

	pending int // pending files seen by the listing, for Open's tally
	removed int // how many of Removed are in the queue directory itself
}

// Recover cleans up after crashed appenders and consumers (spec R25):
// it removes stray .tmp files older than Options.TmpGrace and lock files
// whose record is gone, and reports records in doubt. It never removes a
// pending record, and never a lock that anybody holds. Open calls it unless
// Options.SkipRecover is set.
func (q *Queue) Recover(ctx context.Context) (RecoverResult, error) {
	if err := q.enter(); err != nil {
		return RecoverResult{}, err
	}
	defer q.leave()
	return q.recover(ctx)
}

func (q *Queue) recover(ctx context.Context) (RecoverResult, error) {
	const op = "recover"
	var rep RecoverResult
	var tmps, locks []string
	err := q.fs.ReadDir(".", func(name []byte, typ fsys.EntryType) error {
		k, idb := classify(name)
		switch k {
		case kindPending:
			if q.isRegular(name, typ) {
				rep.pending++
			}
		case kindTmp, kindLockTmp:
			if typ == fsys.TypeRegular || typ == fsys.TypeUnknown {
				tmps = append(tmps, string(name))
			}
		case kindLock:
			if typ == fsys.TypeRegular || typ == fsys.TypeUnknown {
				locks = append(locks, string(idb))
			}
		}
		return nil
	})
	if err != nil {
		return rep, opErr(op, stepList, ".", err)
	}
	now := q.opts.clock()
	// Cancelling ctx stops the removals; what was removed is still made
	// durable below before ctx's error is returned.
	var cancelled error
	for _, name := range tmps {
		if cancelled = ctx.Err(); cancelled != nil {
			break
		}
		fi, err := q.fs.Lstat(name)
		if err != nil || !fi.IsRegular() || q.opts.TmpGrace < 0 || now.Sub(fi.ModTime) < q.opts.TmpGrace {
			continue
		}
		if k, id := classify([]byte(name)); k == kindLockTmp {
			// Only what capq left (spec R45): an empty leftover, or the
			// second name of a lock whose name keeps the file. A file
			// with bytes capq never writes there, or linked from
			// elsewhere, stays (R21, R31); Verify reports it.
			if st := q.lockTmpState(name, string(id), fi); st != tmpLeftover && st != tmpSecondLink {
				continue
			}
		}
		if err := q.fs.Remove(name); err == nil {
			rep.Removed = append(rep.Removed, name)
			rep.removed++
		}
	}
	slices.Sort(locks)
	for _, id := range locks {
		if cancelled = cmp.Or(cancelled, ctx.Err()); cancelled != nil {
			break
		}
		if st, err := q.lockState(id); err != nil || st != lockFree {
			continue
		}
		if fi, err := q.fs.Lstat(pendingName(id)); err == nil && fi.IsRegular() {
			rep.InDoubt = append(rep.InDoubt, ulid.MustParse(id))
			continue
		}
		// The record is gone; remove its lock under the lock itself, and
		// only if the record is still gone once we hold it.
		c, err := q.claimRecord(op, id)
		if err != nil {
			continue
		}
		if _, err := q.fs.Lstat(pendingName(id)); errors.Is(err, fs.ErrNotExist) {
			if err := c.finish(); err != nil {
				addProblem(&rep.Problems, lockName(id), err)
			} else {
				rep.Removed = append(rep.Removed, lockName(id))
				rep.removed++
			}
		} else if err := c.release(true); err != nil {
			addProblem(&rep.Problems, lockName(id), err)
		}
	}
	if cancelled == nil {
		if err := q.undoHalfMoves(&rep); err != nil {
			return rep, err
		}
	}
	if rep.removed > 0 {
		if err := q.syncDirs(op, "."); err != nil {
			return rep, err
		}
	}
	if cancelled != nil {
		return rep, cancelled
	}
	if len(rep.InDoubt) > 0 {
		q.opts.Logger.Info("capq: records in doubt (a consumer died or failed mid-delivery)", "dir", q.dir, "count", len(rep.InDoubt))
	}
	return rep, nil
}

// undoHalfMoves removes the dead-letter name of every record whose pending
// name is the same file: without it, a record delivered from its pending
// name could be requeued (and delivered) again from the stale one.
func (q *Queue) undoHalfMoves(rep *RecoverResult) error {
	const op = "recover"
	var names []string
	undone := false
	err := q.fs.ReadDir(deadLetterDir, func(name []byte, typ fsys.EntryType) error {
		if k, _ := classify(name); k == kindPending && (typ == fsys.TypeRegular || typ == fsys.TypeUnknown) {
			names = append(names, string(name))
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fsys.ENOTDIR) || errors.Is(err, fsys.ELOOP) {
		return nil // no folder, or not one capq will use (Verify reports it)
	}
	if err != nil {
		// A side path (R33): a dead-letter folder capq may not read
		// (EACCES, left by a `sudo capq`) or cannot list must not stop
		// Open and every drain behind it. Verify and Stats report it.
		addProblem(&rep.Problems, deadLetterDir, opErr(op, stepList, deadLetterDir, err))
		q.opts.Logger.Warn("capq: recovery skipped the dead-letter folder", "dir", q.dir, "err", err)
		return nil
	}
	for _, name := range names {
		dl := deadLetterDir + "/" + name
		live, err1 := q.fs.Lstat(name)
		dead, err2 := q.fs.Lstat(dl)
		if err1 != nil || err2 != nil || !live.IsRegular() || live.Ino != dead.Ino {
			continue
		}
		if err := q.fs.Remove(dl); err != nil {
			return opErr(op, stepUnlink, dl, err)
		}
		q.fs.Remove(strings.TrimSuffix(dl, pendingSuffix) + historySuffix)
		rep.Removed = append(rep.Removed, dl)
		undone = true
	}
	if undone {
		return q.syncDirs(op, deadLetterDir)
	}
	return nil
}
