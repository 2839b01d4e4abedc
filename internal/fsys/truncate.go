package fsys

import (
	"os"
)

// Truncater is implemented by Files that can be cut to a length, as
// ftruncate(2). It is optional: the queue compacts a lock file's attempt
// history with it where the File supports it, and otherwise leaves the
// history to grow (its reads stay bounded).
type Truncater interface {
	Truncate(size int64) error
}

// Truncate implements Truncater. Like the file's data, the new length is
// durable only after Sync.
func (f *memFile) Truncate(size int64) error {
	m := f.p.m
	m.mu.Lock()
	defer m.mu.Unlock()
	switch errno := f.check(); {
	case errno != 0:
		return pathErr("truncate", f.name, errno)
	case f.node.isDir() || f.flag&accMode == os.O_RDONLY:
		return pathErr("truncate", f.name, EBADF)
	case size < 0:
		return pathErr("truncate", f.name, EINVAL)
	case int64(int(size)) != size:
		// Beyond what a byte slice can hold on a 32-bit system: the
		// errno a real file system gives past its largest file.
		return pathErr("truncate", f.name, EFBIG)
	}
	n := f.node
	if int(size) <= len(n.data) {
		n.data = n.data[:size]
	} else {
		n.data = append(n.data, make([]byte, int(size)-len(n.data))...)
	}
	n.mtime = m.clock()
	return nil
}
