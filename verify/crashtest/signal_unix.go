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
