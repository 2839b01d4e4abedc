package fsys

// fullSync is the macOS flush (sync_darwin.go), written over two calls so
// that its error handling is tested on every system: full is
// fcntl(F_FULLFSYNC), plain is fsync(2).
//
// F_FULLFSYNC asks the drive to write its volatile cache to stable storage;
// fsync(2) on macOS only hands the data to the drive. Some file systems
// refuse F_FULLFSYNC (SMB and other network mounts: ENOTSUP; some FUSE and
// old file systems: EINVAL or ENOTTY): there fsync(2) is the most the
// system offers, and failing every append instead would make the queue
// unusable on them, so those errors alone fall back. Any other error (EIO
// above all) is returned as is: a plain fsync that succeeded after a
// failed full one would hide the failure, and the data may be gone
// (spec R10: a failed flush fails the append). EINTR retries.
func fullSync(fd int, full, plain func(fd int) error) error {
	for {
		err := full(fd)
		switch err {
		case nil:
			return nil
		case EINTR:
			continue
		case ENOTSUP, EINVAL, ENOTTY:
			for {
				if err := plain(fd); err != EINTR {
					return err
				}
			}
		default:
			return err
		}
	}
}
