package fsys

import "golang.org/x/sys/unix"

// fsync makes what was written to fd durable: F_FULLFSYNC, which also
// flushes the drive's volatile cache, falling back to fsync(2) only where
// the file system refuses it (fullSync says which errors, and why).
//
// F_BARRIERFSYNC is not used: it orders the writes before it ahead of the
// writes after it but returns before they reach stable storage, while
// File.Sync and SyncDir promise durability when they return (spec R46 says
// where a barrier would be enough and why capq does not use one yet).
func fsync(fd int) error {
	return fullSync(fd, func(fd int) error {
		_, err := unix.FcntlInt(uintptr(fd), unix.F_FULLFSYNC, 0)
		return err
	}, unix.Fsync)
}
