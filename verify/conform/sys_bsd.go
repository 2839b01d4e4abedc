//go:build unix && !linux

package conform

import "syscall"

// procAttr puts an implementation in its own process group, so that one
// kill reaches everything it started. There is no parent-death signal
// here: if the checker dies abruptly, the group can outlive it.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// killEscaped finds nothing here: no portable way to read another
// process's environment. Processes that left the group are not reached.
func killEscaped(token string, pgid int) []int { return nil }
