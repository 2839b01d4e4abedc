//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package fsys

import "golang.org/x/sys/unix"

// stillAt reports whether the directory descriptor fd, opened as name in
// the directory root, is still the directory that name refers to (same
// device and inode, name not a symlink). A folder of the queue that was
// renamed away, perhaps out of the queue, and replaced by another must not
// be written through its old descriptor (spec R31).
func stillAt(root int, name string, fd int) bool {
	var cur, held unix.Stat_t
	if unix.Fstatat(root, name, &cur, unix.AT_SYMLINK_NOFOLLOW) != nil || unix.Fstat(fd, &held) != nil {
		return false
	}
	return cur.Mode&unix.S_IFMT == unix.S_IFDIR && cur.Dev == held.Dev && cur.Ino == held.Ino
}
