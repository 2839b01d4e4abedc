package floor

import "golang.org/x/sys/unix"

// fsync is what capq's own backend does on macOS (internal/fsys,
// sync_darwin.go): F_FULLFSYNC, which flushes the drive's cache, falling
// back to fsync(2) where the file system refuses it. The floor must pay
// the same price, or the queue's ratio to it would be meaningless.
func fsync(fd int) error {
	for {
		_, err := unix.FcntlInt(uintptr(fd), unix.F_FULLFSYNC, 0)
		switch err {
		case nil:
			return nil
		case unix.EINTR:
			continue
		case unix.ENOTSUP, unix.EINVAL, unix.ENOTTY:
			return retry(func() error { return unix.Fsync(fd) })
		default:
			return err
		}
	}
}
