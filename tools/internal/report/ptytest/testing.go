package ptytest

import (
	"errors"
	"os"
	"testing"
)

// OpenT is Open for a test: it skips the test where pseudo-terminals are
// not supported, fails it on any other error, and closes the controller
// when the test ends. The test closes the terminal end itself, once the
// command writing to it is done.
func OpenT(t testing.TB) (controller, terminal *os.File) {
	t.Helper()
	c, term, err := Open()
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, term
}
