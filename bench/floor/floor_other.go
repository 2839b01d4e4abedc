//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package floor

import (
	"errors"
	"fmt"
	"runtime"
)

// errNoFloor is the error of every operation where the floor has no
// system calls to measure (the systems capq's own backend does not
// support either). It wraps errors.ErrUnsupported.
var errNoFloor = fmt.Errorf("floor: not available on %s: %w", runtime.GOOS, errors.ErrUnsupported)

// Dir is a directory held open by its descriptor; here it cannot be opened.
type Dir struct{ path string }

// Open fails with an error wrapping errors.ErrUnsupported.
func Open(path string) (*Dir, error) { return nil, errNoFloor }

// Path returns the path given to Open.
func (d *Dir) Path() string { return d.path }

// Close fails with an error wrapping errors.ErrUnsupported.
func (d *Dir) Close() error { return errNoFloor }

// SyncDir fails with an error wrapping errors.ErrUnsupported.
func (d *Dir) SyncDir() error { return errNoFloor }

// Append fails with an error wrapping errors.ErrUnsupported.
func (d *Dir) Append(tmp, final string, data []byte, syncDir func() error) error { return errNoFloor }

// WriteFile fails with an error wrapping errors.ErrUnsupported.
func (d *Dir) WriteFile(name string, data []byte) error { return errNoFloor }

// Remove fails with an error wrapping errors.ErrUnsupported.
func (d *Dir) Remove(name string) error { return errNoFloor }

// Consume fails with an error wrapping errors.ErrUnsupported.
func (d *Dir) Consume(record, lock string, buf []byte) ([]byte, error) { return nil, errNoFloor }

// List fails with an error wrapping errors.ErrUnsupported.
func (d *Dir) List(buf []byte, fn func(name []byte, typ uint8)) error { return errNoFloor }

// SyncFS fails with an error wrapping errors.ErrUnsupported.
func (d *Dir) SyncFS() error { return errNoFloor }

// Link fails with an error wrapping errors.ErrUnsupported.
func (d *Dir) Link(oldname, newname string) error { return errNoFloor }

// AppendBatch fails with an error wrapping errors.ErrUnsupported.
func (d *Dir) AppendBatch(tmps, finals []string, data [][]byte, mode BatchMode, syncDir func() error) error {
	return errNoFloor
}

// AppendBatchSpare fails with an error wrapping errors.ErrUnsupported.
func (d *Dir) AppendBatchSpare(spares, tmps, finals []string, data [][]byte, syncDir func() error) error {
	return errNoFloor
}
