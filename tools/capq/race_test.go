//go:build race && (darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package main

// raceEnabled: the test binary, and so every capq child of the tests, runs
// under the race detector.
const raceEnabled = true
