//go:build unix

package queue

import "golang.org/x/sys/unix"

// dupCloexec duplicates fd with the close-on-exec flag set atomically, so
// that no handler started meanwhile inherits the copy by accident.
func dupCloexec(fd uintptr) (int, error) {
	return unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
}
