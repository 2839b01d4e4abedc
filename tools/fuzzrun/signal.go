package main

import (
	"os"
	"os/signal"
	"syscall"
)

// signalNotify relays interrupts (Ctrl-C, and CI's SIGTERM) to ch.
func signalNotify(ch chan<- os.Signal) { signal.Notify(ch, os.Interrupt, syscall.SIGTERM) }
