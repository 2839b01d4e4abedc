//go:build wasip1 || plan9

package fsys

// ErrWouldBlock is EAGAIN on wasip1, which has no separate EWOULDBLOCK,
// and on Plan 9, which has neither (errno_plan9.go); it is the same
// number as EAGAIN on every system with a backend.
const ErrWouldBlock = EAGAIN
