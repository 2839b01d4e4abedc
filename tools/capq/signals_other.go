//go:build !unix

package main

import "os"

// drainSignals: only an interrupt exists here.
var drainSignals = []os.Signal{os.Interrupt}

// killGroup kills the handler itself: there are no process groups here.
func killGroup(p *os.Process) { p.Kill() }

// catchSIGPIPE does nothing: there is no SIGPIPE here.
func catchSIGPIPE() {}

// stopSignals stop `capq append` between batches (spec R52).
var stopSignals = drainSignals
