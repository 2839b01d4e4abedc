//go:build dragonfly || freebsd || linux || netbsd || openbsd

package fsys

import "golang.org/x/sys/unix"

// fsync makes what was written to fd durable with fsync(2), the strongest
// call these systems have for one file or directory. On Linux (ext4, xfs,
// btrfs) and on ZFS it also flushes the drive's volatile cache; elsewhere
// whether it does depends on the file system and its mount options, which
// capq cannot change (spec/SPEC.md, R46, says what is not promised).
func fsync(fd int) error {
	for {
		err := unix.Fsync(fd)
		if err != unix.EINTR {
			return err
		}
	}
}
