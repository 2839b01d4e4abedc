package floor

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// list reads the directory open as fd with getdents64 into buf and closes
// fd.
func list(fd int, path string, buf []byte, fn func(name []byte, typ uint8)) error {
	defer unix.Close(fd)
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("floor: getdents64 %s: %w", path, err)
		}
		if n <= 0 {
			return nil
		}
		for off := 0; off < n; {
			// struct linux_dirent64 { u64 d_ino; s64 d_off;
			// u16 d_reclen; u8 d_type; char d_name[]; }
			reclen := int(*(*uint16)(unsafe.Pointer(&buf[off+16])))
			if reclen <= 19 || off+reclen > n {
				return fmt.Errorf("floor: getdents64 %s: bad record length %d", path, reclen)
			}
			name := buf[off+19 : off+reclen]
			for i, c := range name {
				if c == 0 {
					name = name[:i]
					break
				}
			}
			typ := buf[off+18]
			off += reclen
			if string(name) == "." || string(name) == ".." {
				continue
			}
			fn(name, typ)
		}
	}
}

// syncFS flushes the file system holding fd with syncfs(2).
func syncFS(fd int) error { return retry(func() error { return unix.Syncfs(fd) }) }
