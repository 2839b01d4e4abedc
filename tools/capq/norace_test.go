//go:build !race && (darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package main

const raceEnabled = false
