package main

import (
	"os"
	"os/signal"
)

// signalNotify relays interrupts (Ctrl-C, CI's SIGTERM, and the SIGHUP of
// a closed terminal) to ch: each stops the campaign with its reports
// written, rather than killing fuzzrun with go test's workers left behind.
func signalNotify(ch chan<- os.Signal) {
	signal.Notify(ch, stopSignals...)
}
