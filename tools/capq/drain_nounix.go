//go:build !unix

package main

import "syscall"

// handlerProcAttr is nil where there are no process groups; capq has no
// queue backend on these systems anyway, so drain fails at Open.
func handlerProcAttr() *syscall.SysProcAttr { return nil }
