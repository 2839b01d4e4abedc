//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package main

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// minFreeFDs is how many file descriptors capq wants free at start: the
// queue directory and its folders, a lock, a record, the audit log, an
// inotify descriptor (a kqueue and a directory on macOS and the BSDs), the runtime's poller (epoll and its wake-up
// descriptor) and the pipes and inherited lock of a handler process, with
// some to spare.
const minFreeFDs = 16

// checkDescriptors makes sure capq starts with enough free file
// descriptors, and starts the runtime's network poller while it can
// (spec R43). The Go runtime creates its epoll descriptor on first use, in
// the middle of whatever open needed it; if the process is out of
// descriptors at that moment the runtime aborts with a stack trace and exit
// status 2, which capq documents as a usage error. Checked here instead, a
// tiny RLIMIT_NOFILE is a clear message and exit status 1, and a
// descriptor shortage later is an ordinary error of the operation that
// met it.
func checkDescriptors() error {
	if err := checkProcesses(); err != nil {
		return err
	}
	if err := probeDescriptors(minFreeFDs); err != nil {
		return err
	}
	// Now that descriptors are known to be free (the probe closed its
	// own), have the runtime create its poller: a pipe is pollable, so its
	// first use starts it. That takes four descriptors at most.
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("start the runtime poller: %v", err)
	}
	r.Close()
	w.Close()
	return nil
}

// minProcesses is the lowest RLIMIT_NPROC capq starts under: the Go
// runtime's threads (a handful, more under load) and a handler process
// with the shell's children all count against it.
const minProcesses = 32

// checkProcesses refuses a soft RLIMIT_NPROC below minProcesses (spec
// R43): the Go runtime aborts with exit status 2 when it cannot create an
// OS thread, at whatever moment it first needs one, which would read as a
// usage error. The limit counts all the user's processes, so passing this
// check is no guarantee (R28), and a limit low enough to stop the
// runtime before main runs cannot be caught at all. Root is not bound by
// the limit (CAP_SYS_RESOURCE).
func checkProcesses() error {
	if os.Geteuid() == 0 {
		return nil
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NPROC, &lim); err != nil || lim.Cur == unix.RLIM_INFINITY {
		return nil
	}
	if lim.Cur < minProcesses {
		return fmt.Errorf("too few processes allowed: RLIMIT_NPROC %d (soft) / %d (hard); capq needs at least %d (its runtime's threads and a handler's processes)", lim.Cur, lim.Max, minProcesses)
	}
	return nil
}

// probeDescriptors checks that n descriptors can be opened, and closes
// them again.
func probeDescriptors(n int) error {
	var held []int
	defer func() {
		for _, fd := range held {
			unix.Close(fd)
		}
	}()
	for len(held) < n {
		fd, err := unix.FcntlInt(2, unix.F_DUPFD_CLOEXEC, 0)
		if err == unix.EBADF {
			// No stderr to copy: open /dev/null instead.
			fd, err = unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		}
		if err != nil {
			var lim unix.Rlimit
			unix.Getrlimit(unix.RLIMIT_NOFILE, &lim)
			return fmt.Errorf("too few file descriptors: %d free under RLIMIT_NOFILE %d (soft) / %d (hard); capq needs at least %d: %v",
				len(held), lim.Cur, lim.Max, n, err)
		}
		held = append(held, fd)
	}
	return nil
}
