//go:build dragonfly || freebsd || linux || netbsd || openbsd

package floor

import "golang.org/x/sys/unix"

// fsync is fsync(2), as capq's own backend uses on these systems.
func fsync(fd int) error { return retry(func() error { return unix.Fsync(fd) }) }
