package queue

import (
	"errors"
	"io/fs"
	"os"
	"time"

	"github.com/capq/capq/internal/fsys"
)

// The portable CreateLocked (spec R45) creates a lock file as
// ".<lock>.<16 hex>.locktmp", locks it, links it to the lock name and
// unlinks the temporary name. While it runs, and after a process killed
// between the link and the unlink, the lock file has two links: its name
// and the temporary one. That state is normal, not a hard link from
// outside (R31). The rules below say what such names and such a lock are,
// once, for the claim, Recover, Verify and Stats (and through Verify for
// `capq ls` and `capq stats`), so that none of them tells it differently.

// lockTmpLinks returns the lock-creation temporary names of lock (exact
// names only, classify's kindLockTmp for the same ULID) that are regular
// files with inode ino: the second names a portable lock creation gives
// lock's file between its link and its unlink. A listing of the lock's
// directory is the price, paid only when a lock has more than one link.
func (q *Queue) lockTmpLinks(lock string, ino uint64) []string {
	k, id := classify([]byte(lock))
	if k != kindLock {
		return nil
	}
	want := string(id)
	var names []string
	q.fs.ReadDir(".", func(name []byte, typ fsys.EntryType) error {
		if k, tid := classify(name); k == kindLockTmp && string(tid) == want &&
			(typ == fsys.TypeRegular || typ == fsys.TypeUnknown) {
			names = append(names, string(name))
		}
		return nil
	})
	var same []string
	for _, name := range names {
		if fi, err := q.fs.Lstat(name); err == nil && fi.IsRegular() && fi.Ino == ino {
			same = append(same, name)
		}
	}
	return same
}

// lockLinksOurs reports whether every link of lock's file (inode ino) is
// capq's own: the lock name and the temporary names of its creation
// (spec R45). A lock with one link is; one with more is only when the
// temporary names account for all the others. The temporary names are
// counted before the lock's links are, and a creation only ever removes
// its temporary name: so a creation finishing meanwhile cannot make a
// lock look hard-linked, and is retried once in the rare case the counts
// crossed.
func (q *Queue) lockLinksOurs(lock string, ino uint64) bool {
	for try := 0; try < 2; try++ {
		tmps := q.lockTmpLinks(lock, ino)
		fi, err := q.fs.Lstat(lock)
		if err != nil || fi.Ino != ino {
			return false // the name moved on: judged afresh by the caller's next look
		}
		if fi.Nlink <= 1 || fi.Nlink == uint64(1+len(tmps)) {
			return true
		}
	}
	return false
}

// dropLockTmpLinks removes the temporary names that are hard links to the
// lock file lock (inode ino), and reports whether it removed any. The
// caller holds the lock's flock, so the creator has returned or died: a
// name is a leftover, not a creation in progress. Only exact temporary
// names of this lock with the same inode are removed (lockTmpLinks):
// whatever their content, since the lock name keeps the file, nothing is
// lost. Any other second name is left, and the caller refuses the lock as
// hard-linked (spec R31).
func (q *Queue) dropLockTmpLinks(lock string, ino uint64) bool {
	removed := false
	for _, name := range q.lockTmpLinks(lock, ino) {
		if q.fs.Remove(name) == nil {
			removed = true
		}
	}
	return removed
}

// lockStatus is what a record's lock file says about the record.
type lockStatus uint8

const (
	lockAbsent lockStatus = iota // no lock file
	lockIsHeld                   // a consumer holds it (delivering, or creating the lock)
	lockFree                     // held by nobody: in doubt beside its record, an orphan without
)

// lockState classifies the lock file of record id by trying a shared lock
// on it without blocking (and without creating it): the one rule Recover
// (in doubt, orphan), Verify (in_doubt, orphan_lock, hard_link) and through
// Verify `capq ls` and `capq stats` use (spec R25, R26, R45). A lock file
// with two links, its name and its creation's temporary name, is judged
// like any lock file (held while its creator runs, free after a crash); a
// lock file with a link from anywhere else is refused with errHardLinked
// and ErrUnsafeFile (R31), as the claim refuses it; a lock file that is
// not regular with ErrUnsafeFile.
func (q *Queue) lockState(id string) (lockStatus, error) {
	for try := 0; ; try++ {
		st, moved, err := q.lockStateOnce(id)
		if !moved || try == 2 {
			return st, err
		}
	}
}

// lockStateOnce is one look of lockState. moved says that the lock name
// no longer referred to the file it locked: a consumer finished and
// removed it (then it is absent) or a new lock took the name meanwhile,
// which is looked at again, as the claim does. Without that check a
// delivery ending during the look would leave a lock on a dead inode
// that reads as free: an orphan or in doubt that never was.
func (q *Queue) lockStateOnce(id string) (st lockStatus, moved bool, err error) {
	lock := lockName(id)
	f, err := q.fs.OpenFile(lock, os.O_RDONLY|fsys.ONonblock, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return lockAbsent, false, nil
	}
	if err != nil {
		return lockAbsent, false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return lockAbsent, false, err
	}
	if !fi.IsRegular() {
		return lockAbsent, false, ErrUnsafeFile
	}
	if fi.Nlink > 1 && !q.lockLinksOurs(lock, fi.Ino) {
		if cur, err := q.fs.Lstat(lock); err != nil || cur.Ino != fi.Ino {
			return lockAbsent, true, nil
		}
		return lockAbsent, false, errors.Join(errHardLinked, ErrUnsafeFile)
	}
	if err := f.Flock(fsys.LockShared | fsys.LockNonBlocking); err != nil {
		if isBusy(err) {
			return lockIsHeld, false, nil
		}
		return lockAbsent, false, err
	}
	if cur, err := q.fs.Lstat(lock); errors.Is(err, fs.ErrNotExist) {
		return lockAbsent, false, nil
	} else if err == nil && cur.Ino != fi.Ino {
		return lockAbsent, true, nil
	}
	return lockFree, false, nil
}

// lockTmpStatus is what a lock-creation temporary name (kindLockTmp) holds.
type lockTmpStatus uint8

const (
	// tmpLeftover: one link, empty. A creation that died before its
	// link, or whose lock name has gone since. Recover removes it after
	// Options.TmpGrace.
	tmpLeftover lockTmpStatus = iota
	// tmpSecondLink: the second name of its lock file, all of whose links
	// are capq's (lockLinksOurs). A creation in progress, or one killed
	// between its link and its unlink; the next claim removes it, and so
	// does Recover after Options.TmpGrace (the lock name keeps the file).
	tmpSecondLink
	// tmpForeign: one link and not empty. capq creates the file empty
	// and never writes through it: the history is written through the
	// lock name, only by a claim that has removed the temporary name
	// first (dropLockTmpLinks). So the bytes are not capq's, and the file
	// is left alone (spec R21) and reported as a look-alike.
	tmpForeign
	// tmpHardLinked: it shares its file with a name other than its lock
	// (spec R31): left alone, reported as a hard link.
	tmpHardLinked
	// tmpGone: the name went away while it was judged (a creation
	// finished): there is nothing to report.
	tmpGone
)

// lockTmpState classifies the lock-creation temporary name name of record
// id (spec R45): the one rule Recover, Verify and Stats use. fi is the
// entry's Lstat, which must be of a regular file. A creation running
// meanwhile only removes links, so a second link that no longer checks
// out is looked at again before it is called a hard link.
//
// One state needs more patience: two links while the lock name is absent.
// linkat raises the file's link count before the new name can be looked
// up (ext4 counts the link, then adds the directory entry, and a lookup
// that meets a cached negative entry does not wait for it), so a creation
// between its link and its unlink can look like exactly that for as long
// as the creator is held up inside linkat. Such a name is looked at a few
// more times, over some 30 ms, before it is called a hard link: a link
// made from outside stays; a creation's name goes, or its lock appears.
// (TestVerifyDuringPortableClaims saw this about once in 20,000 Verify
// runs beside a busy consumer before.)
func (q *Queue) lockTmpState(name, id string, fi fsys.FileInfo) lockTmpStatus {
	lock := lockName(id)
	for try := 0; ; try++ {
		switch {
		case fi.Nlink <= 1 && fi.Size == 0:
			return tmpLeftover
		case fi.Nlink <= 1:
			return tmpForeign
		}
		lfi, lerr := q.fs.Lstat(lock)
		if lerr == nil && lfi.IsRegular() && lfi.Ino == fi.Ino && q.lockLinksOurs(lock, fi.Ino) {
			return tmpSecondLink
		}
		switch linking := errors.Is(lerr, fs.ErrNotExist); {
		case try > 0 && !linking, try >= 5:
			return tmpHardLinked
		case linking && try > 0:
			time.Sleep(time.Duration(1<<try) * time.Millisecond)
		}
		var err error
		if fi, err = q.fs.Lstat(name); err != nil || !fi.IsRegular() {
			return tmpGone
		}
	}
}
