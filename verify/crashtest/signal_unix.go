//go:build unix

package crashtest

import (
	"os"
	"syscall"
)

// hangupSignal is what a closed terminal sends (spec R39).
var hangupSignal os.Signal = syscall.SIGHUP

// signalZero reports whether pid exists, with kill(pid, 0).
func signalZero(pid int) bool { return syscall.Kill(pid, 0) == nil }

// killedBySIGKILL reports whether the process ended by SIGKILL, the
// driver's kill (any other end is a failed operation of the child).
func killedBySIGKILL(ps *os.ProcessState) bool {
	ws, ok := ps.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}
