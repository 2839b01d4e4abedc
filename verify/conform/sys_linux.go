package conform

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// procAttr puts an implementation in its own process group, so that one
// kill reaches everything it started, and SIGKILLs it if the checker
// itself dies.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killEscaped SIGKILLs every process whose environment carries
// CAPQ_CHECK_TOKEN=token (the implementation's descendants, wherever
// they moved: setsid leaves the process group but keeps the environment)
// and are no longer in the process group pgid (already killed), and
// returns their ids. A process that changed its own environment
// escapes this too; nothing short of a cgroup would catch it.
func killEscaped(token string, pgid int) []int {
	if token == "" {
		return nil
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	mark := []byte("CAPQ_CHECK_TOKEN=" + token + "\x00")
	self := os.Getpid()
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil || !bytes.Contains(env, mark) {
			continue
		}
		if g, err := syscall.Getpgid(pid); err != nil || g == pgid {
			continue
		}
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			out = append(out, pid)
		}
	}
	return out
}
