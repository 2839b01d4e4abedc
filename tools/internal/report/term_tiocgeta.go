//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package report

import "golang.org/x/sys/unix"

// ioctlReadTermios reads a terminal's attributes on this system: it fails
// with ENOTTY on anything that is not a terminal.
const ioctlReadTermios = unix.TIOCGETA
