package queue

import (
	"io"

	"github.com/capq/capq/internal/fsys"
)

// writeFull writes all of b to f, the one place the queue checks a write's
// length. The seam's Write, like io.Writer, returns an error with a short
// count; writeFull also turns a short count without one into
// io.ErrShortWrite, so that a truncated file (a file-size limit, a full
// disk) can never pass for a complete one: the reference published such
// files (spec/REFERENCE.md, W6).
func writeFull(f fsys.File, b []byte) error {
	n, err := f.Write(b)
	if err == nil && n != len(b) {
		err = io.ErrShortWrite
	}
	return err
}
