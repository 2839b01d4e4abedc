//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package fsys

import "io/fs"

const hasOS = false

// OS is the real file system where there is a backend. Here there is none:
// OpenOS always fails, and the methods exist only so that every package
// that names OS builds.
type OS struct{}

// OpenOS fails with an error wrapping ErrNoBackend (and so
// errors.ErrUnsupported): this system has no backend.
func OpenOS(dir string) (*OS, error) {
	return nil, &fs.PathError{Op: "open", Path: dir, Err: ErrNoBackend}
}

// OpenPortable fails as OpenOS does.
func OpenPortable(dir string) (*OS, error) { return OpenOS(dir) }

// Portable reports false: there is no backend at all.
func (o *OS) Portable() bool { return false }

func unsupported(op, name string) error {
	return &fs.PathError{Op: op, Path: name, Err: ErrNoBackend}
}

// OpenFile implements FS by failing with ErrNoBackend.
func (o *OS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	return nil, unsupported("open", name)
}

// CreateLocked implements FS by failing with ErrNoBackend.
func (o *OS) CreateLocked(name string, perm fs.FileMode) (File, error) {
	return nil, unsupported("create", name)
}

// Rename implements FS by failing with ErrNoBackend.
func (o *OS) Rename(oldname, newname string) error { return unsupported("rename", oldname) }

// Remove implements FS by failing with ErrNoBackend.
func (o *OS) Remove(name string) error { return unsupported("remove", name) }

// Mkdir implements FS by failing with ErrNoBackend.
func (o *OS) Mkdir(name string, perm fs.FileMode) error { return unsupported("mkdir", name) }

// Lstat implements FS by failing with ErrNoBackend.
func (o *OS) Lstat(name string) (FileInfo, error) { return FileInfo{}, unsupported("lstat", name) }

// ReadDir implements FS by failing with ErrNoBackend.
func (o *OS) ReadDir(dir string, fn func(name []byte, typ EntryType) error) error {
	return unsupported("readdir", dir)
}

// SyncDir implements FS by failing with ErrNoBackend.
func (o *OS) SyncDir(dir string) error { return unsupported("fsync", dir) }

// Close implements FS by failing with ErrNoBackend.
func (o *OS) Close() error { return unsupported("close", ".") }
