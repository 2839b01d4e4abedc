//go:build !linux

package crashtest

import "syscall"

// childProcAttr is nil where there is no parent-death signal: a driver
// that dies abruptly can leave children running until their round ends.
func childProcAttr() *syscall.SysProcAttr { return nil }
