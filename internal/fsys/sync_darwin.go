package fsys

import "golang.org/x/sys/unix"

// fsync makes what was written to fd durable. On macOS fsync(2) only hands
// the data to the drive, which may keep it in its volatile cache and
// reorder it: F_FULLFSYNC also asks the drive to flush that cache, which is
// what a power cut needs. Some file systems refuse F_FULLFSYNC (SMB and
// other network mounts: ENOTSUP; some FUSE or old file systems: EINVAL or
// ENOTTY); there fsync(2) is the most the system offers, so we fall back to
// it rather than fail every append.
//
// F_BARRIERFSYNC is not used: it orders the writes before it ahead of the
// writes after it but returns before they reach stable storage, and
// File.Sync and SyncDir promise durability when they return (see
// spec/SPEC.md, R46).
func fsync(fd int) error {
	for {
		_, err := unix.FcntlInt(uintptr(fd), unix.F_FULLFSYNC, 0)
		switch err {
		case nil:
			return nil
		case unix.EINTR:
			continue
		case unix.ENOTSUP, unix.EINVAL, unix.ENOTTY:
			return plainFsync(fd)
		default:
			return err
		}
	}
}

func plainFsync(fd int) error {
	for {
		err := unix.Fsync(fd)
		if err != unix.EINTR {
			return err
		}
	}
}
