//go:build !linux && (darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package queue

import (
	"errors"
	"testing"
)

// mountTmpfs fails off Linux: the tests that need a small file system
// skip there.
func mountTmpfs(testing.TB, string, string) error {
	return errors.New("tmpfs mounts are a Linux test fixture")
}
