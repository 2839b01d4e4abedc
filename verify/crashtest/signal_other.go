//go:build !unix

package crashtest

import "os"

// hangupSignal is an interrupt where there is no SIGHUP.
var hangupSignal os.Signal = os.Interrupt

// signalZero cannot probe a process without kill(2): it reports none.
func signalZero(int) bool { return false }

// killedBySIGKILL reports false: without POSIX signals (Windows, Plan 9) a
// kill cannot be told from an exit. No child runs there anyway, as those
// systems have no backend (queue.Open fails).
func killedBySIGKILL(*os.ProcessState) bool { return false }
