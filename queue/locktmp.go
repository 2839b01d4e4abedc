package queue

import (
	"bytes"
	"strings"

	"github.com/capq/capq/internal/fsys"
)

// dropLockTmpLinks removes the temporary names that are hard links to the
// lock file lock (inode ino), and reports whether it removed any. The
// portable CreateLocked (spec R45) creates ".<lock>.<hex>.locktmp", locks
// it, links it to the lock name and unlinks it; a process killed between
// the link and the unlink leaves the lock with two links. The caller holds
// the lock's flock, so the creator has returned or died: the name is a
// leftover, not a creation in progress, and the lock is not hard-linked
// from outside the queue. Only regular files of our temporary pattern with
// the same inode are removed, in the lock's own directory; a listing is
// the price, paid only when a lock has more than one link.
func (q *Queue) dropLockTmpLinks(lock string, ino uint64) bool {
	dir, base := ".", lock
	if i := strings.LastIndexByte(lock, '/'); i >= 0 {
		dir, base = lock[:i], lock[i+1:]
	}
	prefix := []byte("." + base + ".")
	var names []string
	q.fs.ReadDir(dir, func(name []byte, typ fsys.EntryType) error {
		if bytes.HasPrefix(name, prefix) && bytes.HasSuffix(name, []byte(lockTmpSuffix)) &&
			(typ == fsys.TypeRegular || typ == fsys.TypeUnknown) {
			names = append(names, string(name))
		}
		return nil
	})
	removed := false
	for _, name := range names {
		if dir != "." {
			name = dir + "/" + name
		}
		fi, err := q.fs.Lstat(name)
		if err != nil || !fi.IsRegular() || fi.Ino != ino {
			continue
		}
		if q.fs.Remove(name) == nil {
			removed = true
		}
	}
	return removed
}
