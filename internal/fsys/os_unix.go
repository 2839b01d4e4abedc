//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package fsys

import (
	"io/fs"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const hasOS = true

// OS is the real file system, rooted at one directory whose descriptor it
// holds. Every call is relative to that descriptor (openat, renameat,
// unlinkat, fstatat), and no call follows a symlink: the final component is
// opened with O_NOFOLLOW, and a subdirectory component is opened with
// O_NOFOLLOW|O_DIRECTORY. Once OpenOS has resolved the root, renaming or
// replacing the path it was given cannot redirect the queue.
type OS struct {
	root int // directory fd of the root

	// portable selects the portable code paths (os_portable.go) even
	// where the system has faster ones (os_linux.go), so that the code
	// macOS and the BSDs run is tested on Linux too.
	portable bool

	mu    sync.Mutex
	subs  map[string]int // subdirectory name -> directory fd, opened on first use
	stale []int          // subdirectory fds found moved or replaced; closed by Close
}

// OpenOS opens the directory dir (which must exist; a symlink to a directory
// is resolved here, once) and returns an FS rooted at it. It uses the
// system's fast paths where it has them (Linux), unless the program was
// built with the capq_portable tag.
func OpenOS(dir string) (*OS, error) {
	return openOS(dir, forcePortable)
}

// OpenPortable is OpenOS with the portable code paths forced, whatever the
// system: the backend macOS and the BSDs run. It exists so that tests prove
// that backend on Linux; programs should call OpenOS.
func OpenPortable(dir string) (*OS, error) {
	return openOS(dir, true)
}

func openOS(dir string, portable bool) (*OS, error) {
	var fd int
	var err error
	for {
		fd, err = unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	return &OS{root: fd, portable: portable, subs: make(map[string]int)}, nil
}

// Portable reports whether o uses the portable code paths.
func (o *OS) Portable() bool { return o.portable }

// split resolves name to a directory fd and a base name. Names have at most
// one directory component, which is opened without following symlinks.
func (o *OS) split(op, name string) (int, string, error) {
	if name == "" || strings.HasPrefix(name, "/") {
		return -1, "", &fs.PathError{Op: op, Path: name, Err: syscall.EINVAL}
	}
	dir, base, ok := strings.Cut(name, "/")
	if !ok {
		o.mu.Lock()
		closed := o.subs == nil
		o.mu.Unlock()
		if closed {
			return -1, "", &fs.PathError{Op: op, Path: name, Err: syscall.EBADF}
		}
		return o.root, name, nil
	}
	if dir == "." || dir == ".." || base == "" || base == "." || base == ".." || strings.Contains(base, "/") {
		return -1, "", &fs.PathError{Op: op, Path: name, Err: syscall.EINVAL}
	}
	dfd, err := o.subdir(dir)
	if err != nil {
		return -1, "", &fs.PathError{Op: op, Path: name, Err: err}
	}
	return dfd, base, nil
}

// subdir returns the cached descriptor of the subdirectory dir, opening it
// with O_NOFOLLOW so a symlink planted in its place is refused (ELOOP or
// ENOTDIR), never followed.
func (o *OS) subdir(dir string) (int, error) {
	if strings.Contains(dir, "/") || dir == ".." || dir == "" {
		return -1, syscall.EINVAL
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.subs == nil {
		return -1, syscall.EBADF // closed: the root fd number may be reused
	}
	if dir == "." {
		return o.root, nil
	}
	if fd, ok := o.subs[dir]; ok {
		if stillAt(o.root, dir, fd) {
			return fd, nil
		}
		// Moved away (perhaps out of the queue) or replaced: never use
		// it again, open the name afresh. Another call may still be using
		// the old descriptor, so it is closed only by Close.
		o.stale = append(o.stale, fd)
		delete(o.subs, dir)
	}
	fd, err := openat(o.root, dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	o.subs[dir] = fd
	return fd, nil
}

// forget drops a cached subdirectory descriptor (after the directory was
// removed or replaced), so the next use opens it afresh.
func (o *OS) forget(dir string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if fd, ok := o.subs[dir]; ok {
		unix.Close(fd)
		delete(o.subs, dir)
	}
}

// openat retries on EINTR, which a signal can cause on slow file systems.
func openat(dirfd int, name string, flag int, perm uint32) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, flag, perm)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// OpenFile implements FS.
func (o *OS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	dfd, base, err := o.split("open", name)
	if err != nil {
		return nil, err
	}
	fd, err := openat(dfd, base, flag|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm.Perm()))
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return &osFile{f: os.NewFile(uintptr(fd), name), fd: fd, name: name}, nil
}

// CreateLocked implements FS. The file is locked before it gets its name:
// on Linux an unnamed O_TMPFILE file is locked and then linked into place
// (createLockedFast, os_linux.go); elsewhere, and where that is refused, a
// uniquely named temporary file is created, locked, and hard-linked to the
// name (createLockedNamed, os_portable.go). Both link with linkat, which
// fails with EEXIST instead of replacing an existing entry.
func (o *OS) CreateLocked(name string, perm fs.FileMode) (File, error) {
	dfd, base, err := o.split("create", name)
	if err != nil {
		return nil, err
	}
	if !o.portable {
		if f, done, err := createLockedFast(dfd, base, name, perm); done {
			return f, err
		}
	}
	return createLockedNamed(dfd, base, name, perm)
}

// lockWindowHook, when not nil, is called between the creation of a lock
// file and its flock. Tests set it to widen that window, so that a lock
// creation that let the file be seen before it is locked would be caught
// every time (os_lockrace_test.go). It is nil in production.
var lockWindowHook func()

// lockAndLink takes an exclusive flock on fd and then gives the file its
// name; on any error it closes fd.
func lockAndLink(fd int, name string, link func() error) (File, error) {
	if h := lockWindowHook; h != nil {
		h() // tests widen the window between creating and locking
	}
	for {
		err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if err != unix.EINTR {
			unix.Close(fd)
			return nil, &fs.PathError{Op: "flock", Path: name, Err: err}
		}
	}
	if err := link(); err != nil {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "create", Path: name, Err: err}
	}
	return &osFile{f: os.NewFile(uintptr(fd), name), fd: fd, name: name}, nil
}

// Rename implements FS.
func (o *OS) Rename(oldname, newname string) error {
	return o.renameWith(oldname, newname, unix.Renameat)
}

// renameWith renames oldname to newname by call, relative to the held
// directory descriptors of both names: the one place that resolves a
// rename's two names, for Rename and RenameNoReplace (noreplace_*.go).
func (o *OS) renameWith(oldname, newname string, call func(odfd int, obase string, ndfd int, nbase string) error) error {
	odfd, obase, err := o.split("rename", oldname)
	if err != nil {
		return err
	}
	ndfd, nbase, err := o.split("rename", newname)
	if err != nil {
		return err
	}
	if err := call(odfd, obase, ndfd, nbase); err != nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
	}
	return nil
}

// Remove implements FS.
func (o *OS) Remove(name string) error {
	dfd, base, err := o.split("remove", name)
	if err != nil {
		return err
	}
	if err := unix.Unlinkat(dfd, base, 0); err != nil {
		return &fs.PathError{Op: "remove", Path: name, Err: err}
	}
	return nil
}

// Mkdir implements FS.
func (o *OS) Mkdir(name string, perm fs.FileMode) error {
	dfd, base, err := o.split("mkdir", name)
	if err != nil {
		return err
	}
	if err := unix.Mkdirat(dfd, base, uint32(perm.Perm())); err != nil {
		return &fs.PathError{Op: "mkdir", Path: name, Err: err}
	}
	if dfd == o.root {
		o.forget(base)
	}
	return nil
}

// Lstat implements FS.
func (o *OS) Lstat(name string) (FileInfo, error) {
	var st unix.Stat_t
	if name == "." {
		if _, err := o.subdir("."); err != nil {
			return FileInfo{}, &fs.PathError{Op: "lstat", Path: name, Err: err}
		}
		if err := unix.Fstat(o.root, &st); err != nil {
			return FileInfo{}, &fs.PathError{Op: "lstat", Path: name, Err: err}
		}
		return fileInfo(".", &st), nil
	}
	dfd, base, err := o.split("lstat", name)
	if err != nil {
		return FileInfo{}, err
	}
	if err := unix.Fstatat(dfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return FileInfo{}, &fs.PathError{Op: "lstat", Path: name, Err: err}
	}
	return fileInfo(base, &st), nil
}

// ReadDir implements FS. The listing reads a fresh descriptor of the
// directory, because reading a directory advances its descriptor's offset
// and the held descriptors are shared by every call.
func (o *OS) ReadDir(dir string, fn func(name []byte, typ EntryType) error) error {
	dfd, err := o.subdir(dir)
	if err != nil {
		return &fs.PathError{Op: "readdir", Path: dir, Err: err}
	}
	fd, err := openat(dfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "readdir", Path: dir, Err: err}
	}
	if !o.portable {
		if done, err := readDirFast(fd, dir, fn); done {
			unix.Close(fd)
			return err
		}
	}
	return readDirPortable(fd, dir, fn) // closes fd
}

// SyncDir implements FS.
func (o *OS) SyncDir(dir string) error {
	dfd, err := o.subdir(dir)
	if err != nil {
		return &fs.PathError{Op: "fsync", Path: dir, Err: err}
	}
	// On macOS this is F_FULLFSYNC (sync_darwin.go): a plain fsync there
	// leaves the new entries in the drive's volatile cache.
	if err := fsync(dfd); err != nil {
		return &fs.PathError{Op: "fsync", Path: dir, Err: err}
	}
	return nil
}

// Close implements FS.
func (o *OS) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.subs == nil {
		return &fs.PathError{Op: "close", Path: ".", Err: syscall.EBADF}
	}
	for _, fd := range o.subs {
		unix.Close(fd)
	}
	for _, fd := range o.stale {
		unix.Close(fd)
	}
	o.subs, o.stale = nil, nil
	return unix.Close(o.root)
}

// osFile is a File on the real disk. It keeps the *os.File for Read and
// Write (which handle EINTR and short writes the way Go programs expect) and
// the raw descriptor for fsync and flock.
type osFile struct {
	f    *os.File
	fd   int
	name string
}

func (f *osFile) Read(p []byte) (int, error) { return f.f.Read(p) }
func (f *osFile) ReadAt(p []byte, off int64) (int, error) {
	return f.f.ReadAt(p, off)
}
func (f *osFile) Write(p []byte) (int, error) { return f.f.Write(p) }
func (f *osFile) Close() error                { return f.f.Close() }

func (f *osFile) Sync() error {
	if err := fsync(f.fd); err != nil {
		return &fs.PathError{Op: "fsync", Path: f.name, Err: err}
	}
	return nil
}

func (f *osFile) Stat() (FileInfo, error) {
	var st unix.Stat_t
	if err := unix.Fstat(f.fd, &st); err != nil {
		return FileInfo{}, &fs.PathError{Op: "fstat", Path: f.name, Err: err}
	}
	return fileInfo(f.name, &st), nil
}

func (f *osFile) Flock(how LockHow) error {
	var op int
	switch how &^ LockNonBlocking {
	case LockShared:
		op = unix.LOCK_SH
	case LockExclusive:
		op = unix.LOCK_EX
	case Unlock:
		op = unix.LOCK_UN
	default:
		return &fs.PathError{Op: "flock", Path: f.name, Err: syscall.EINVAL}
	}
	if how&LockNonBlocking != 0 {
		op |= unix.LOCK_NB
	}
	for {
		err := unix.Flock(f.fd, op)
		if err == nil {
			return nil
		}
		if err != unix.EINTR {
			return &fs.PathError{Op: "flock", Path: f.name, Err: err}
		}
	}
}

func fileInfo(name string, st *unix.Stat_t) FileInfo {
	mode := fs.FileMode(st.Mode & 0o777)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		mode |= fs.ModeDir
	case unix.S_IFLNK:
		mode |= fs.ModeSymlink
	case unix.S_IFIFO:
		mode |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		mode |= fs.ModeSocket
	case unix.S_IFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		mode |= fs.ModeDevice
	}
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	return FileInfo{
		Name:    name,
		Size:    st.Size,
		Mode:    mode,
		ModTime: time.Unix(st.Mtim.Unix()),
		Ino:     st.Ino,
		Nlink:   uint64(st.Nlink),
	}
}
