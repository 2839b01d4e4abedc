package queue

import (
	"errors"
	"io/fs"
	"os"

	"github.com/capq/capq/internal/fsys"
)

// defaultSpareLocks is how many spare files Ingest and Prune keep for
// claiming records when no file can be created (spec R32).
const defaultSpareLocks = 4

func spareName(i int) string { return spareNamePrefix + itoa(i) }

// isNoSpace reports whether err means no inode or block could be had.
func isNoSpace(err error) bool {
	return errors.Is(err, fsys.ENOSPC) || errors.Is(err, fsys.EDQUOT)
}

// ensureSpares creates the missing spare files, best effort (spec R32).
// They are empty regular files, created while there is room, so that a
// claim can turn one into a lock file when creating a file fails for want
// of inodes or blocks: a rename needs no new inode. They are not fsynced: a
// spare lost in a power cut only makes the reserve smaller until the next
// call recreates it. The reference ignores them (they are not named
// pending-*).
func (q *Queue) ensureSpares() {
	if q.opts.spareLocks <= 0 {
		return
	}
	if _, ok := q.fs.(fsys.NoReplaceRenamer); !ok {
		return
	}
	for i := range q.opts.spareLocks {
		name := spareName(i)
		if _, err := q.fs.Lstat(name); !errors.Is(err, fs.ErrNotExist) {
			continue // present (or odd: Verify reports it; never replaced)
		}
		f, err := q.fs.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|fsys.ONonblock, 0o600)
		if err != nil {
			return // no room now: the next call tries again
		}
		if r, ok := f.(fsys.Reserver); ok && i == 0 {
			// Spare 0 also holds the audit log's reserve of blocks
			// (size stays 0): a queue never pruned has no log yet,
			// and the first prune on a full disk renames this spare
			// to the log so that its lines fit (ensureAuditLog).
			r.Reserve(0, auditReserve)
		}
		f.Close()
	}
}

// lockFromSpare gives a spare file the lock name, already locked, when
// CreateLocked failed with ENOSPC or EDQUOT. It opens a spare (through
// openRegular: no symlink, no FIFO), takes its flock without blocking (a
// spare another consumer is using is passed over), checks that the spare's
// name still refers to the locked file, and renames it to the lock name
// without replacing (RENAME_NOREPLACE: it fails if any entry of that name
// exists, so a lock created meanwhile is never replaced). As with
// CreateLocked, the lock file appears already locked, so no
// consumer, capq's or the reference's, can lock it while this claim holds
// it. It returns the open, locked file, or the original error when no spare
// could be used.
func (q *Queue) lockFromSpare(lock string, cause error) (fsys.File, error) {
	rn, ok := q.fs.(fsys.NoReplaceRenamer)
	if !ok || q.opts.spareLocks <= 0 {
		return nil, cause
	}
	for i := range q.opts.spareLocks {
		name := spareName(i)
		f, fi, err := q.openRegular("claim", name, os.O_RDWR|os.O_APPEND)
		if err != nil {
			continue
		}
		if f.Flock(fsys.LockExclusive|fsys.LockNonBlocking) != nil {
			f.Close()
			continue
		}
		if cur, err := q.fs.Lstat(name); err != nil || cur.Ino != fi.Ino || fi.Size != 0 {
			f.Close() // taken and renamed meanwhile, or not empty: not a spare
			continue
		}
		if err := rn.RenameNoReplace(name, lock); err != nil {
			f.Close()
			if errors.Is(err, fs.ErrExist) {
				return nil, err // somebody created the lock: busy or retry
			}
			continue
		}
		return f, nil
	}
	return nil, cause
}

// spareTo renames an unused spare file to name without replacing anything,
// for a file that must be created when there is no inode left (the audit
// log, R32). It reports whether name now exists as that spare.
func (q *Queue) spareTo(name string) bool {
	f, err := q.lockFromSpare(name, nil)
	if f == nil || err != nil {
		return false
	}
	f.Close()
	return true
}

// ensureAuditLog creates the audit log, empty, if it is missing, before a
// prune claims its victims: out of inodes, the claims may take every spare
// file, and the prune could then not write the lines it must write before
// it deletes anything (R20, R32). Best effort: writeAudit reports failures.
func (q *Queue) ensureAuditLog() {
	if _, err := q.fs.Lstat(auditLogName); !errors.Is(err, fs.ErrNotExist) {
		return
	}
	// A spare first: spare 0 carries blocks reserved for the log (R32),
	// which a newly created file would not have on a full disk.
	if q.spareTo(auditLogName) {
		return
	}
	f, _, err := q.openRegular("prune", auditLogName, os.O_RDWR|os.O_APPEND|os.O_CREATE)
	if err == nil {
		f.Close()
		return
	}
	if isNoSpace(err) {
		q.spareTo(auditLogName)
	}
}

// ensureAuditReserve, run once per Open, keeps auditReserve bytes of blocks
// reserved past the end of an existing audit log (spec R32), best effort:
// a log the reference wrote, or one written before a crash, then has room
// for a prune's lines on a full disk. The size does not change (fallocate
// KEEP_SIZE), so the reference's appends and every reader see the same
// log; blocks already allocated cost nothing to reserve again. A missing
// log is not created here (Open leaves no file a producer does not need);
// spare 0 carries the same reserve and becomes the log when a prune needs
// one (ensureAuditLog).
func (q *Queue) ensureAuditReserve() {
	if fi, err := q.fs.Lstat(auditLogName); err != nil || !fi.IsRegular() {
		return
	}
	f, fi, err := q.openRegular("open", auditLogName, os.O_RDWR|os.O_APPEND)
	if err != nil {
		return
	}
	defer f.Close()
	if r, ok := f.(fsys.Reserver); ok {
		r.Reserve(fi.Size, auditReserve)
	}
}
