// Package ptytest opens pseudo-terminals for the tools' tests, so that a
// test can run a command whose output is a terminal and read what it drew
// (the live progress line of tools/internal/report). It uses only
// golang.org/x/sys/unix, already a dependency of the module, and works on
// Linux; elsewhere Open reports ErrUnsupported and the tests skip.
package ptytest
