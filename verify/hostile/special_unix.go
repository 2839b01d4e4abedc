//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package hostile

import (
	"net"
	"syscall"
)

func mkfifo(path string) error { return syscall.Mkfifo(path, 0o600) }

// mksocket binds a unix socket at path and closes it, keeping the file.
func mksocket(path string) error {
	if len(path) >= 108 { // longer than sun_path on Linux
		return ErrSkip
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return err
	}
	// Closing a listener removes its socket file; keep the file.
	l.SetUnlinkOnClose(false)
	return l.Close()
}
