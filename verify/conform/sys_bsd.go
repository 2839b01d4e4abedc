//go:build unix && !linux

package conform

import "syscall"

// procAttr puts an implementation in its own process group, so that one
// kill reaches everything it started. There is no parent-death signal
// here: if the checker dies abruptly, the group can outlive it.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
