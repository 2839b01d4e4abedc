//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package floor

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// list reads the directory open as fd with the standard library's ReadDir,
// 1024 entries at a time (buf is not used), and closes fd: the same listing
// capq's portable backend does on these systems.
func list(fd int, path string, _ []byte, fn func(name []byte, typ uint8)) error {
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	var name []byte
	for {
		ents, err := f.ReadDir(1024)
		for _, e := range ents {
			name = append(name[:0], e.Name()...)
			fn(name, dtype(e.Type()))
		}
		if errors.Is(err, io.EOF) || err == nil && len(ents) == 0 {
			return nil
		}
		if err != nil {
			return fmt.Errorf("floor: readdir %s: %w", path, err)
		}
	}
}

func dtype(m fs.FileMode) uint8 {
	switch {
	case m.IsRegular():
		return DTReg
	case m&fs.ModeDir != 0:
		return unix.DT_DIR
	case m&fs.ModeSymlink != 0:
		return unix.DT_LNK
	default:
		return DTUnknown
	}
}

// syncFS is sync(2): these systems have no syncfs. It flushes every file
// system, which only untimed benchmark set-up pays for.
func syncFS(int) error {
	unix.Sync()
	return nil
}
