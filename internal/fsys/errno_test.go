package fsys

import (
	"errors"
	"io/fs"
	"testing"
)

// TestErrnoRule checks the rule of errno.go on this system: the errnos
// whose meaning the standard library names match its sentinels, whatever
// the type behind Errno (syscall.Errno, or capq's own on Plan 9), and the
// others match none of them, so a caller testing fs.ErrNotExist never
// catches ELOOP (spec R45).
func TestErrnoRule(t *testing.T) {
	t.Parallel()
	sentinels := []error{fs.ErrNotExist, fs.ErrExist, fs.ErrPermission, errors.ErrUnsupported}
	for _, tc := range []struct {
		errno Errno
		want  error // nil: none of the sentinels
	}{
		{ENOENT, fs.ErrNotExist},
		{EEXIST, fs.ErrExist},
		{ENOTEMPTY, fs.ErrExist},
		{EACCES, fs.ErrPermission},
		{EPERM, fs.ErrPermission},
		{ENOSYS, errors.ErrUnsupported},
		{ENOTSUP, errors.ErrUnsupported},
		{ELOOP, nil}, {ENOTDIR, nil}, {EIO, nil}, {ENOSPC, nil}, {EDQUOT, nil},
		{ENXIO, nil}, {EINVAL, nil}, {EAGAIN, nil}, {EMLINK, nil},
	} {
		err := &fs.PathError{Op: "open", Path: "x", Err: tc.errno}
		if !errors.Is(err, tc.errno) {
			t.Errorf("%v does not match itself through a PathError", tc.errno)
		}
		for _, s := range sentinels {
			if got := errors.Is(err, s); got != (s == tc.want) {
				t.Errorf("errors.Is(%v, %v) = %v", tc.errno, s, got)
			}
		}
	}
	if ErrWouldBlock != EAGAIN {
		t.Errorf("ErrWouldBlock %v is not EAGAIN %v", ErrWouldBlock, EAGAIN)
	}
}
