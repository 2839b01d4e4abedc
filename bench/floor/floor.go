//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package floor

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Dir is a directory held open by its descriptor. Its methods are safe for
// concurrent use as far as the underlying system calls are.
type Dir struct {
	fd   int
	path string
}

// Open opens the existing directory path.
func Open(path string) (*Dir, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("floor: open %s: %w", path, err)
	}
	return &Dir{fd: fd, path: path}, nil
}

// Path returns the path given to Open.
func (d *Dir) Path() string { return d.path }

// Close closes the directory descriptor.
func (d *Dir) Close() error { return unix.Close(d.fd) }

// SyncDir fsyncs the directory: every create, rename and unlink in it
// before the call becomes durable.
func (d *Dir) SyncDir() error { return fsync(d.fd) }

// Append is the durable append protocol: create tmp with O_EXCL (mode
// 0600), write data, fsync, close, rename tmp to final, then syncDir,
// which is d.SyncDir for a lone writer or a Group's Sync for writers that
// share directory fsyncs. A nil syncDir skips the directory fsync.
func (d *Dir) Append(tmp, final string, data []byte, syncDir func() error) error {
	fd, err := d.create(tmp)
	if err != nil {
		return err
	}
	if err := writeAll(fd, data); err != nil {
		unix.Close(fd)
		return fmt.Errorf("floor: write %s: %w", tmp, err)
	}
	if err := fsync(fd); err != nil {
		unix.Close(fd)
		return fmt.Errorf("floor: fsync %s: %w", tmp, err)
	}
	if err := unix.Close(fd); err != nil {
		return fmt.Errorf("floor: close %s: %w", tmp, err)
	}
	if err := unix.Renameat(d.fd, tmp, d.fd, final); err != nil {
		return fmt.Errorf("floor: rename %s: %w", tmp, err)
	}
	return syncAfterRename(syncDir)
}

// syncAfterRename ends Append and AppendBatch: it runs syncDir, if any,
// which makes their renames durable.
func syncAfterRename(syncDir func() error) error {
	if syncDir == nil {
		return nil
	}
	if err := syncDir(); err != nil {
		return fmt.Errorf("floor: fsync directory: %w", err)
	}
	return nil
}

// WriteFile creates name with O_EXCL and writes data, without any fsync:
// how benchmarks fill a directory quickly with files that need to exist,
// not to survive a power cut.
func (d *Dir) WriteFile(name string, data []byte) error {
	fd, err := d.create(name)
	if err != nil {
		return err
	}
	err = writeAll(fd, data)
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("floor: write %s: %w", name, err)
	}
	return nil
}

// Remove unlinks name.
func (d *Dir) Remove(name string) error {
	if err := unix.Unlinkat(d.fd, name, 0); err != nil {
		return fmt.Errorf("floor: unlink %s: %w", name, err)
	}
	return nil
}

func (d *Dir) create(name string) (int, error) {
	for {
		fd, err := unix.Openat(d.fd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, fmt.Errorf("floor: create %s: %w", name, err)
		}
		return fd, nil
	}
}

// Consume is the claim-and-delete protocol for one record, without the
// directory fsync (the caller makes one per batch): create the lock file
// with O_EXCL and take flock(LOCK_EX|LOCK_NB) on it, read the record into
// buf with one read, unlink the record, unlink the lock, close the lock. It
// returns the record's bytes (a prefix of buf).
func (d *Dir) Consume(record, lock string, buf []byte) ([]byte, error) {
	lfd, err := unix.Openat(d.fd, lock, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("floor: create lock %s: %w", lock, err)
	}
	defer unix.Close(lfd)
	if err := retry(func() error { return unix.Flock(lfd, unix.LOCK_EX|unix.LOCK_NB) }); err != nil {
		return nil, fmt.Errorf("floor: flock %s: %w", lock, err)
	}
	rfd, err := unix.Openat(d.fd, record, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("floor: open %s: %w", record, err)
	}
	n, err := unix.Read(rfd, buf)
	unix.Close(rfd)
	switch {
	case err != nil:
		return nil, fmt.Errorf("floor: read %s: %w", record, err)
	case n == len(buf):
		return nil, fmt.Errorf("floor: read %s: %w", record, ErrShortBuffer)
	}
	if err := unix.Unlinkat(d.fd, record, 0); err != nil {
		return nil, fmt.Errorf("floor: unlink %s: %w", record, err)
	}
	if err := unix.Unlinkat(d.fd, lock, 0); err != nil {
		return nil, fmt.Errorf("floor: unlink %s: %w", lock, err)
	}
	return buf[:n], nil
}

// List calls fn for every entry of the directory (without "." and ".."),
// reading it on a fresh descriptor: on Linux with getdents64 into buf
// (list_linux.go), elsewhere with the standard library's ReadDir in batches
// (list_portable.go, which does not use buf). The name is only valid during
// the call; typ is the d_type byte (DTReg, DTUnknown, ...).
func (d *Dir) List(buf []byte, fn func(name []byte, typ uint8)) error {
	fd, err := unix.Openat(d.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("floor: open %s: %w", d.path, err)
	}
	return list(fd, d.path, buf, fn) // closes fd
}

func writeAll(fd int, p []byte) error {
	for len(p) > 0 {
		n, err := unix.Write(fd, p)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

func retry(f func() error) error {
	for {
		if err := f(); err != unix.EINTR {
			return err
		}
	}
}

// SyncFS flushes the whole file system holding the directory (syncfs(2)).
// Benchmarks call it, untimed, after filling a directory without fsync, so
// that the next timed fsync does not pay for writing back the fill.
// Where there is no syncfs (everywhere but Linux) it is sync(2), which
// flushes every file system: slower, but only for untimed set-up.
func (d *Dir) SyncFS() error { return syncFS(d.fd) }

// Link makes newname a hard link to the existing file oldname (linkat(2)):
// how benchmarks give a deep queue most of its names without allocating an
// inode and a data block for each.
func (d *Dir) Link(oldname, newname string) error {
	if err := unix.Linkat(d.fd, oldname, d.fd, newname, 0); err != nil {
		return fmt.Errorf("floor: link %s: %w", newname, err)
	}
	return nil
}
