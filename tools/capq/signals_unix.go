//go:build unix

package main

import (
	"os"
	"os/signal"
	"syscall"
)

// drainSignals are the signals that stop a drain: the first lets the
// record in hand finish, the second kills its handler. SIGHUP is among
// them because a closed terminal sends it, and a capq that died of it
// would leave its handler running (spec R39).
var drainSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP}

// killGroup SIGKILLs the handler's process group: the handler and
// everything it started (handlerProcAttr made it a group leader).
func killGroup(p *os.Process) { syscall.Kill(-p.Pid, syscall.SIGKILL) }

// catchSIGPIPE makes a write to a closed pipe fail with EPIPE instead of
// killing capq (Go's default for stdout).
func catchSIGPIPE() { signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE) }

// stopSignals stop `capq append` between batches (spec R52): the same
// signals as a drain's, for the same reasons.
var stopSignals = drainSignals
