//go:build !wasip1 && !plan9

package fsys

import "syscall"

// ErrWouldBlock is the errno of a non-blocking flock on a lock held
// elsewhere (EWOULDBLOCK, which is EAGAIN on every system with a backend).
const ErrWouldBlock = syscall.EWOULDBLOCK
