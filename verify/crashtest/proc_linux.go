package crashtest

import "syscall"

// childProcAttr makes the kernel kill a child when the driver dies, so that
// children never outlive a driver that crashed or was killed.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
