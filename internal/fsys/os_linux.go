package fsys

import (
	"errors"
	"io/fs"
	"strconv"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The Linux fast paths of OS. The portable paths (os_portable.go) do the
// same with calls every supported system has; these are used unless the
// OS was opened with OpenPortable or the program built with capq_portable.

// direntBufSize is the getdents64 buffer: large enough to list tens of
// thousands of names per system call.
const direntBufSize = 1 << 18

var direntBufs = sync.Pool{New: func() any { b := make([]byte, direntBufSize); return &b }}

// createLockedFast creates an unnamed file in the directory with O_TMPFILE,
// locks it, and only then gives it its name with linkat, so the name never
// refers to an unlocked file and no temporary name is ever visible. done is
// false when the file system or the system refuses O_TMPFILE or the
// /proc link, and the caller must use the portable path.
func createLockedFast(dfd int, base, name string, perm fs.FileMode) (f File, done bool, err error) {
	fd, err := openat(dfd, ".", unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, uint32(perm.Perm()))
	if err != nil {
		if err == unix.EOPNOTSUPP || err == unix.EISDIR || err == unix.EINVAL {
			return nil, false, nil // no O_TMPFILE here
		}
		return nil, true, &fs.PathError{Op: "create", Path: name, Err: err}
	}
	f, err = lockAndLink(fd, name, func() error {
		// linkat with AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; the
		// /proc/self/fd path with AT_SYMLINK_FOLLOW does not.
		return unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), dfd, base, unix.AT_SYMLINK_FOLLOW)
	})
	if err != nil && errors.Is(err, unix.ENOENT) {
		return nil, false, nil // no /proc
	}
	return f, true, err
}

// readDirFast lists the directory open as fd with getdents64 into a large
// pooled buffer and hands fn the names in place: listing a million names
// costs a few hundred system calls and no allocation per name. It does not
// close fd. done is always true: getdents64 exists on every Linux.
func readDirFast(fd int, dir string, fn func(name []byte, typ EntryType) error) (done bool, err error) {
	bp := direntBufs.Get().(*[]byte)
	defer direntBufs.Put(bp)
	buf := *bp
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return true, &fs.PathError{Op: "readdir", Path: dir, Err: err}
		}
		if n <= 0 {
			return true, nil
		}
		for off := 0; off < n; {
			// struct linux_dirent64 { u64 d_ino; s64 d_off; u16 d_reclen;
			// u8 d_type; char d_name[]; }
			reclen := int(*(*uint16)(unsafe.Pointer(&buf[off+16])))
			if reclen <= 19 || off+reclen > n {
				return true, &fs.PathError{Op: "readdir", Path: dir, Err: syscall.EIO}
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
				return true, err
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
