//go:build !linux

package ptytest

import (
	"errors"
	"os"
)

// Open reports errors.ErrUnsupported: only the Linux way of opening a
// pseudo-terminal is written here.
func Open() (controller, terminal *os.File, err error) {
	return nil, nil, errors.ErrUnsupported
}
