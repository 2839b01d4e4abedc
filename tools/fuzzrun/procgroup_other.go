//go:build !unix

package main

import (
	"os"
	"os/exec"
)

// killGroupOnCancel keeps exec's default where there are no process
// groups: cancellation kills go test itself, and its children may linger
// until their -fuzztime ends.
func killGroupOnCancel(*exec.Cmd) {}

// stopSignals stop a campaign (signalNotify): only an interrupt here.
var stopSignals = []os.Signal{os.Interrupt}
