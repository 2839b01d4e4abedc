package queue

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/capq/capq/internal/fsys"
)

// LockFile returns a new descriptor (a dup, close-on-exec) of the open file
// that holds the record's lock during the handler call. A handler that runs
// the record's work in a child process passes it to the child
// (exec.Cmd.ExtraFiles): flock(2) locks belong to the open file
// description, so the record stays locked for as long as any process holds
// a copy, even if this one dies (spec R39). The caller closes the returned
// file once the child has exited; it must not read, write or unlock it.
// Each call returns a new descriptor. It fails with an error wrapping
// errors.ErrUnsupported when the queue's file system is not the operating
// system's; with an *OpError (Op "ingest", Step "dup", the lock's name)
// wrapping fs.ErrClosed (os.ErrClosed) when called after the handler
// returned, since the claim's descriptor is closed then (a handler that
// needs the lock later must take its copy during the call); and with an
// *OpError wrapping the dup's error (EMFILE) when the process is out of
// descriptors.
func (d Delivery) LockFile() (*os.File, error) {
	f, ok := fsys.OSFile(d.lock)
	if !ok {
		return nil, errNoLockFile
	}
	name := lockName(d.ULID.String())
	sc, err := f.SyscallConn()
	if err != nil {
		return nil, opErr("ingest", stepDup, name, err)
	}
	nfd := -1
	var derr error
	if err := sc.Control(func(fd uintptr) {
		nfd, derr = dupCloexec(fd)
	}); err != nil {
		// Control fails only when the file is closed: the claim ended
		// with the handler's call. Its error is the runtime's untyped
		// "use of closed file", so say what it means.
		return nil, opErr("ingest", stepDup, name, fmt.Errorf("the record's claim ended with the handler's call (%v): %w", err, fs.ErrClosed))
	}
	if derr != nil {
		return nil, opErr("ingest", stepDup, name, derr)
	}
	return os.NewFile(uintptr(nfd), f.Name()), nil
}

// errNoLockFile is LockFile's error when the queue's file system is not the
// operating system's (the in-memory and fault-injecting ones of the tests):
// there is no descriptor to hand over.
var errNoLockFile = fmt.Errorf("capq: the record's lock has no descriptor: %w", errors.ErrUnsupported)
