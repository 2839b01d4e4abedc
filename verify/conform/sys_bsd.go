//go:build unix && !linux

package conform

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// procAttr puts an implementation in its own process group, so that one
// kill reaches everything it started. There is no parent-death signal
// here: if the checker dies abruptly, the group can outlive it.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// syncfs is sync(2) where there is no syncfs: it flushes every file
// system, which only untimed measurement set-up pays for.
func syncfs(string) error {
	unix.Sync()
	return nil
}
