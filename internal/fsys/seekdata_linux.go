package fsys

import (
	"io/fs"

	"golang.org/x/sys/unix"
)

// SeekData implements DataSeeker with lseek(SEEK_DATA). It moves the
// descriptor's offset, which capq's readers of the audit log do not use
// (they read with ReadAt).
func (f *osFile) SeekData(off int64) (int64, error) {
	n, err := unix.Seek(f.fd, off, unix.SEEK_DATA)
	if err != nil {
		return 0, &fs.PathError{Op: "lseek", Path: f.name, Err: err}
	}
	return n, nil
}
