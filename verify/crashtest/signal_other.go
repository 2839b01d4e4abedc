//go:build !unix

package crashtest

import "os"

// hangupSignal is an interrupt where there is no SIGHUP.
var hangupSignal os.Signal = os.Interrupt

// signalZero cannot probe a process without kill(2): it reports none.
func signalZero(int) bool { return false }
