package fsys

import (
	"errors"
	"io/fs"
	"strconv"
)

// Errno stands in for syscall.Errno on Plan 9, whose system calls fail
// with error strings and whose syscall package has no errno type (nor
// ELOOP, ENOSPC, EWOULDBLOCK and most of the others). There is no
// real-disk backend on Plan 9 (OpenOS fails with ErrNoBackend); these
// values exist so that Mem, Fault and the queue build and behave there as
// elsewhere. Like syscall.Errno, an Errno matches fs.ErrNotExist,
// fs.ErrExist, fs.ErrPermission and errors.ErrUnsupported (errno.go has
// the rule for callers).
type Errno uintptr

// The errnos capq produces (Mem, Fault) or tests for, numbered as on
// Linux for readability; only their identity matters.
const (
	EPERM     Errno = 1
	ENOENT    Errno = 2
	ENOLCK    Errno = 37
	EINTR     Errno = 4
	EIO       Errno = 5
	ENXIO     Errno = 6
	EBADF     Errno = 9
	EAGAIN    Errno = 11
	EACCES    Errno = 13
	EBUSY     Errno = 16
	EEXIST    Errno = 17
	ENODEV    Errno = 19
	ENOTDIR   Errno = 20
	EISDIR    Errno = 21
	EINVAL    Errno = 22
	ENOTTY    Errno = 25
	EFBIG     Errno = 27
	ENOSPC    Errno = 28
	EMFILE    Errno = 24
	EMLINK    Errno = 31
	ENOSYS    Errno = 38
	ENOTEMPTY Errno = 39
	ELOOP     Errno = 40
	ENOTSUP   Errno = 95
	EDQUOT    Errno = 122
)

var errnoText = map[Errno]string{
	EPERM: "operation not permitted", ENOENT: "no such file or directory",
	EINTR: "interrupted system call", EIO: "input/output error",
	ENXIO: "no such device or address", EBADF: "bad file descriptor",
	EAGAIN: "resource temporarily unavailable", EACCES: "permission denied",
	EBUSY: "device or resource busy", EEXIST: "file exists",
	ENODEV: "no such device", ENOTDIR: "not a directory",
	EISDIR: "is a directory", EINVAL: "invalid argument",
	ENOTTY: "inappropriate ioctl for device", EFBIG: "file too large",
	ENOSPC: "no space left on device", EMLINK: "too many links", EMFILE: "too many open files",
	ENOSYS: "function not implemented", ENOLCK: "no locks available", ENOTEMPTY: "directory not empty",
	ELOOP: "too many levels of symbolic links", ENOTSUP: "operation not supported",
	EDQUOT: "disk quota exceeded",
}

func (e Errno) Error() string {
	if s, ok := errnoText[e]; ok {
		return s
	}
	return "errno " + strconv.FormatUint(uint64(e), 10)
}

// Is maps an Errno to the standard library's sentinels as syscall.Errno
// does on unix.
func (e Errno) Is(target error) bool {
	switch target {
	case fs.ErrPermission:
		return e == EACCES || e == EPERM
	case fs.ErrExist:
		return e == EEXIST || e == ENOTEMPTY
	case fs.ErrNotExist:
		return e == ENOENT
	case errors.ErrUnsupported:
		return e == ENOSYS || e == ENOTSUP
	}
	return false
}
