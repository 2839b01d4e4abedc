//go:build unix

package conform

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// holdLock takes the record's lock file as a foreign consumer would (the
// reference's protocol, R11), until release is called.
func holdLock(dir, id string) (release func(), err error) {
	fd, err := syscall.Open(filepath.Join(dir, "pending-"+id+".lock"), syscall.O_WRONLY|syscall.O_CREAT|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	return func() { syscall.Flock(fd, syscall.LOCK_UN); syscall.Close(fd) }, nil
}

// pipeID names a pipe as strace -y shows it (pipe:[inode]), so that the
// trace can tell the judge's own request and reply pipes from others,
// under whatever fd the implementation uses them.
func pipeID(f *os.File) string {
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	return fmt.Sprintf("pipe:[%d]", st.Ino)
}

// killGroup SIGKILLs the process group pgid.
func killGroup(pgid int) { syscall.Kill(-pgid, syscall.SIGKILL) }
