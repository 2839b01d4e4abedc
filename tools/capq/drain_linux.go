package main

import "syscall"

// handlerProcAttr puts the handler in its own process group (so a
// terminal's Ctrl-C reaches only capq, which then lets the record in hand
// finish) and has the kernel SIGKILL it when capq dies (spec R39). Go's
// fork code checks, after setting the death signal, that capq is still its
// parent, so a capq that dies during the fork cannot leave it running.
func handlerProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
