package ptytest

import (
	"errors"
	"io"
	"testing"

	"github.com/capq/capq/tools/internal/report"
)

// The terminal end of the pseudo-terminal is a terminal to
// report.IsTerminal, and what is written to it can be read back.
func TestOpen(t *testing.T) {
	c, term, err := Open()
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !report.IsTerminal(term) {
		t.Error("the pseudo-terminal is not a terminal to report.IsTerminal")
	}
	if _, err := io.WriteString(term, "hello"); err != nil {
		t.Fatal(err)
	}
	term.Close()
	buf := make([]byte, 16)
	n, _ := c.Read(buf)
	if string(buf[:n]) != "hello" {
		t.Errorf("read %q from the controller, want hello", buf[:n])
	}
}
