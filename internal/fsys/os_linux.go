package fsys

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// OS is the real file system, rooted at one directory whose descriptor it
// holds. Every call is relative to that descriptor (openat, renameat,
// unlinkat, fstatat), and no call follows a symlink: the final component is
// opened with O_NOFOLLOW, and a subdirectory component is opened with
// O_NOFOLLOW|O_DIRECTORY. Once OpenOS has resolved the root, renaming or
// replacing the path it was given cannot redirect the queue.
type OS struct {
	root int // directory fd of the root

	mu   sync.Mutex
	subs map[string]int // subdirectory name -> directory fd, opened on first use
}

// direntBufSize is the getdents64 buffer: large enough to list tens of
// thousands of names per system call.
const direntBufSize = 1 << 18

var direntBufs = sync.Pool{New: func() any { b := make([]byte, direntBufSize); return &b }}

// OpenOS opens the directory dir (which must exist; a symlink to a directory
// is resolved here, once) and returns an FS rooted at it.
func OpenOS(dir string) (*OS, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	return &OS{root: fd, subs: make(map[string]int)}, nil
}

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
		return fd, nil
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

// CreateLocked implements FS. It creates an unnamed file in the directory
// with O_TMPFILE, locks it, and only then gives it its name with linkat,
// which fails with EEXIST instead of replacing an existing entry. On file
// systems without O_TMPFILE it does the same with a uniquely named
// temporary file, link and unlink.
func (o *OS) CreateLocked(name string, perm fs.FileMode) (File, error) {
	dfd, base, err := o.split("create", name)
	if err != nil {
		return nil, err
	}
	fd, err := openat(dfd, ".", unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, uint32(perm.Perm()))
	if err == nil {
		f, err := lockAndLink(fd, name, func() error {
			// linkat with AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; the
			// /proc/self/fd path with AT_SYMLINK_FOLLOW does not.
			return unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), dfd, base, unix.AT_SYMLINK_FOLLOW)
		})
		if err == nil || !errors.Is(err, unix.ENOENT) {
			return f, err
		}
		// No /proc: fall through to the named temporary file.
	} else if err != unix.EOPNOTSUPP && err != unix.EISDIR && err != unix.EINVAL {
		return nil, &fs.PathError{Op: "create", Path: name, Err: err}
	}
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, &fs.PathError{Op: "create", Path: name, Err: err}
	}
	tmp := "." + base + "." + hex.EncodeToString(rnd[:]) + ".locktmp"
	fd, err = openat(dfd, tmp, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm.Perm()))
	if err != nil {
		return nil, &fs.PathError{Op: "create", Path: name, Err: err}
	}
	defer unix.Unlinkat(dfd, tmp, 0)
	return lockAndLink(fd, name, func() error { return unix.Linkat(dfd, tmp, dfd, base, 0) })
}

// lockAndLink takes an exclusive flock on fd and then gives the file its
// name; on any error it closes fd.
func lockAndLink(fd int, name string, link func() error) (File, error) {
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
	odfd, obase, err := o.split("rename", oldname)
	if err != nil {
		return err
	}
	ndfd, nbase, err := o.split("rename", newname)
	if err != nil {
		return err
	}
	if err := unix.Renameat(odfd, obase, ndfd, nbase); err != nil {
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

// ReadDir implements FS. It reads the directory with getdents64 into a large
// pooled buffer and hands fn the names in place: listing a million names
// costs a few hundred system calls and no allocation per name.
func (o *OS) ReadDir(dir string, fn func(name []byte, typ EntryType) error) error {
	dfd, err := o.subdir(dir)
	if err != nil {
		return &fs.PathError{Op: "readdir", Path: dir, Err: err}
	}
	// A fresh descriptor for the listing: getdents64 advances the
	// descriptor's offset, and the held root descriptor is shared.
	fd, err := openat(dfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "readdir", Path: dir, Err: err}
	}
	defer unix.Close(fd)
	bp := direntBufs.Get().(*[]byte)
	defer direntBufs.Put(bp)
	buf := *bp
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &fs.PathError{Op: "readdir", Path: dir, Err: err}
		}
		if n <= 0 {
			return nil
		}
		for off := 0; off < n; {
			// struct linux_dirent64 { u64 d_ino; s64 d_off; u16 d_reclen;
			// u8 d_type; char d_name[]; }
			reclen := int(*(*uint16)(unsafe.Pointer(&buf[off+16])))
			if reclen <= 19 || off+reclen > n {
				return &fs.PathError{Op: "readdir", Path: dir, Err: syscall.EIO}
			}
			typ := buf[off+18]
			nameb := buf[off+19 : off+reclen]
			for i, c := range nameb {
				if c == 0 {
					nameb = nameb[:i]
					break
				}
			}
			off += reclen
			if len(nameb) == 1 && nameb[0] == '.' || len(nameb) == 2 && nameb[0] == '.' && nameb[1] == '.' {
				continue
			}
			if err := fn(nameb, direntType(typ)); err != nil {
				return err
			}
		}
	}
}

func direntType(t uint8) EntryType {
	switch t {
	case unix.DT_REG:
		return TypeRegular
	case unix.DT_DIR:
		return TypeDir
	case unix.DT_LNK:
		return TypeSymlink
	case unix.DT_UNKNOWN:
		return TypeUnknown
	default:
		return TypeOther
	}
}

// SyncDir implements FS.
func (o *OS) SyncDir(dir string) error {
	dfd, err := o.subdir(dir)
	if err != nil {
		return &fs.PathError{Op: "fsync", Path: dir, Err: err}
	}
	if err := fsync(dfd); err != nil {
		return &fs.PathError{Op: "fsync", Path: dir, Err: err}
	}
	return nil
}

func fsync(fd int) error {
	for {
		err := unix.Fsync(fd)
		if err != unix.EINTR {
			return err
		}
	}
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
	o.subs = nil
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
	for {
		err := unix.Flock(f.fd, int(how))
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
	}
}
