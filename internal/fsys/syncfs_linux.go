package fsys

import (
	"errors"
	"io/fs"
	"sync"

	"golang.org/x/sys/unix"
)

var _ FileSystemSyncer = (*OS)(nil)

// SyncFS implements FileSystemSyncer with syncfs(2) on the root's
// descriptor: one call writes back every dirty inode of the file system
// and issues one cache flush, instead of a flush per file.
//
// syncfs only reports errors from Linux 5.17 on, so on older kernels
// SyncFS returns an error wrapping errors.ErrUnsupported without calling
// it, and callers fsync each file. Linux 5.8 made the super block record
// every writeback error of its files in an error sequence (errseq_t)
// sampled by each open descriptor, which syncfs reports once per
// descriptor (commit 735e4ae5ba28, "vfs: track per-sb writeback errors
// and report them to syncfs"); before 5.17 syncfs still dropped the
// error of the file system's own sync_fs, that is of the cache flush
// itself ("vfs: make sync_filesystem return errors from ->sync_fs").
// Before 5.8 syncfs always returned 0. The portable paths (OpenPortable,
// the capq_portable tag) have no syncfs either, as the BSDs and macOS have
// none.
//
// Because the error sequence belongs to the whole file system, an error
// of another process's file on it is reported here too; and the call
// writes back everything dirty on the file system, which on a busy
// machine is more than the caller's files.
func (o *OS) SyncFS() error {
	if o.portable || !syncfsReportsErrors() {
		return &fs.PathError{Op: "syncfs", Path: ".", Err: errors.ErrUnsupported}
	}
	o.mu.Lock()
	closed := o.subs == nil
	o.mu.Unlock()
	if closed {
		return &fs.PathError{Op: "syncfs", Path: ".", Err: unix.EBADF}
	}
	for {
		err := unix.Syncfs(o.root)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &fs.PathError{Op: "syncfs", Path: ".", Err: err}
		}
		return nil
	}
}

var syncfsReportsErrors = sync.OnceValue(func() bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	return kernelAtLeast(unix.ByteSliceToString(u.Release[:]), 5, 17)
})
