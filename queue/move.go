package queue

import (
	"errors"
	"io/fs"
	"os"

	"github.com/capq/capq/internal/fsys"
)

// moveNoReplace renames name to dst and never replaces an entry at dst: the
// one rule of the moves that must not overwrite (dead letters, quarantine,
// requeue; spec R17, R21, R36, R45). An entry at dst fails it with an
// error wrapping EEXIST (so fs.ErrExist), and name stays where it is.
//
// Where the file system can rename without replacing (renameat2 with
// RENAME_NOREPLACE on Linux, renameatx_np with RENAME_EXCL on macOS) that
// one call decides. Where it cannot (FreeBSD, NetBSD, OpenBSD and
// DragonFly have no such call; the portable paths refuse it on purpose;
// some file systems refuse the flag: ENOTSUP, ENOSYS or EINVAL), dst is
// checked free and then renamed. Spec R45 argues why no party of the
// protocol can create dst between the two: every such dst is named after
// a record whose lock the mover holds, or after a lock name, which only
// capq quarantines.
func (q *Queue) moveNoReplace(name, dst string) error {
	if rn, ok := q.fs.(fsys.NoReplaceRenamer); ok {
		err := rn.RenameNoReplace(name, dst)
		if !errors.Is(err, errors.ErrUnsupported) && !errors.Is(err, fsys.EINVAL) {
			return err // nil, EEXIST, or the rename's own failure
		}
	}
	switch _, err := q.fs.Lstat(dst); {
	case err == nil:
		return &os.LinkError{Op: "rename", Old: name, New: dst, Err: fsys.EEXIST}
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	return q.fs.Rename(name, dst)
}
