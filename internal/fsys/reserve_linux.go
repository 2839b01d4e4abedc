package fsys

import (
	"io/fs"

	"golang.org/x/sys/unix"
)

// Reserve implements Reserver with fallocate(FALLOC_FL_KEEP_SIZE).
func (f *osFile) Reserve(off, n int64) error {
	for {
		err := unix.Fallocate(f.fd, unix.FALLOC_FL_KEEP_SIZE, off, n)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &fs.PathError{Op: "fallocate", Path: f.name, Err: err}
		}
		return nil
	}
}
