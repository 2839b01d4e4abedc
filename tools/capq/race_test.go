//go:build race

package main

// raceEnabled: the test binary, and so every capq child of the tests, runs
// under the race detector.
const raceEnabled = true
