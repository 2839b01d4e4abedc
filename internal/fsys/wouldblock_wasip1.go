package fsys

import "syscall"

// ErrWouldBlock is EAGAIN on wasip1, which has no separate EWOULDBLOCK
// (it is the same number as EAGAIN on every system with a backend).
const ErrWouldBlock = syscall.EAGAIN
