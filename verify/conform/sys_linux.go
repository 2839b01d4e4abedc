package conform

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// procAttr puts an implementation in its own process group, so that one
// kill reaches everything it started, and SIGKILLs it if the checker
// itself dies.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// syncfs flushes the file system that holds dir.
func syncfs(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Syncfs(fd)
}
