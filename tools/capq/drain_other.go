//go:build unix && !linux

package main

import "syscall"

// handlerProcAttr puts the handler in its own process group. Without a
// parent-death signal on this system, a handler outlives a capq that was
// killed; the record stays locked all the same, because the handler holds
// a descriptor of the lock (spec R39), so no second handler gets it before
// this one ends.
func handlerProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
