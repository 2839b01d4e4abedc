//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// errOutBusy is returned by lockOut when another campaign holds -out.
var errOutBusy = errors.New("another fuzzrun campaign is using this -out directory")

// lockOut takes an exclusive flock on out/.lock, or fails at once with
// errOutBusy when another campaign holds it. The kernel drops the lock
// when fuzzrun exits, however it exits, so a killed campaign never leaves
// -out locked. unlock releases it.
func lockOut(out string) (unlock func(), err error) {
	p := filepath.Join(out, ".lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (%s is locked): give each campaign its own -out", errOutBusy, p)
		}
		return nil, fmt.Errorf("locking %s: %w", p, err)
	}
	return func() { f.Close() }, nil
}
