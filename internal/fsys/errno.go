//go:build !plan9

package fsys

import "syscall"

// Errno is the error number the file systems of this package wrap: the
// system's own syscall.Errno wherever there is one, so that an error of
// Mem or Fault is the same value as the real disk's and
// errors.Is(err, syscall.ELOOP) holds for both. Plan 9 has no errno
// (errno_plan9.go).
//
// The rule for callers (the queue, the model, capq): test a meaning the
// standard library names through it (fs.ErrNotExist for ENOENT,
// fs.ErrExist for EEXIST, fs.ErrPermission for EACCES and EPERM,
// errors.ErrUnsupported for ENOSYS and ENOTSUP); test any other errno
// through the constants below, never through package syscall, so that
// every package builds on every system.
type Errno = syscall.Errno

// The errnos capq produces (Mem, Fault) or tests for, with the system's
// values.
const (
	EAGAIN    = syscall.EAGAIN
	EBADF     = syscall.EBADF
	EBUSY     = syscall.EBUSY
	EDQUOT    = syscall.EDQUOT
	EEXIST    = syscall.EEXIST
	EFBIG     = syscall.EFBIG
	EINTR     = syscall.EINTR
	EINVAL    = syscall.EINVAL
	EIO       = syscall.EIO
	EISDIR    = syscall.EISDIR
	ELOOP     = syscall.ELOOP
	EMFILE    = syscall.EMFILE
	EMLINK    = syscall.EMLINK
	ENODEV    = syscall.ENODEV
	ENOENT    = syscall.ENOENT
	ENOLCK    = syscall.ENOLCK
	ENOSPC    = syscall.ENOSPC
	ENOSYS    = syscall.ENOSYS
	ENOTDIR   = syscall.ENOTDIR
	ENOTEMPTY = syscall.ENOTEMPTY
	ENOTSUP   = syscall.ENOTSUP
	ENOTTY    = syscall.ENOTTY
	ENXIO     = syscall.ENXIO
	EPERM     = syscall.EPERM
	EACCES    = syscall.EACCES
)
