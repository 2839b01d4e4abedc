//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package queue

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// Spec R45: on a system without a file-system backend, Open fails with an
// error wrapping errors.ErrUnsupported and creates nothing.
func TestOpenUnsupportedSystem(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "q")
	q, err := Open(dir, Options{})
	if err == nil {
		q.Close()
		t.Fatal("Open succeeded on a system without a backend")
	}
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Open error %v does not wrap errors.ErrUnsupported", err)
	}
	if _, serr := os.Stat(dir); !errors.Is(serr, os.ErrNotExist) {
		t.Errorf("Open created %s (stat: %v)", dir, serr)
	}
}
