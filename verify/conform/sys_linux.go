package conform

import "syscall"

// procAttr puts an implementation in its own process group, so that one
// kill reaches everything it started, and SIGKILLs it if the checker
// itself dies.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
