package floor

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The names of capq's files, as far as the floor needs them: a pending
// record is Prefix + a 26-character ULID + Suffix, its tmp file adds
// TmpSuffix to that, and its lock file is Prefix + ULID + LockSuffix.
const (
	Prefix     = "pending-"
	Suffix     = ".json"
	TmpSuffix  = ".tmp"
	LockSuffix = ".lock"
	IDLen      = 26

	nameLen = len(Prefix) + IDLen + len(Suffix)
)

// ListBufSize is the getdents64 buffer the benchmarks give the floor's
// listings: one system call returns about 20,000 pending names.
const ListBufSize = 1 << 20

// ErrShortBuffer is returned by Consume when the record did not fit in the
// buffer it was given.
var ErrShortBuffer = errors.New("floor: record larger than the read buffer")

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
func (d *Dir) SyncDir() error { return retry(func() error { return unix.Fsync(d.fd) }) }

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
	if err := retry(func() error { return unix.Fsync(fd) }); err != nil {
		unix.Close(fd)
		return fmt.Errorf("floor: fsync %s: %w", tmp, err)
	}
	if err := unix.Close(fd); err != nil {
		return fmt.Errorf("floor: close %s: %w", tmp, err)
	}
	if err := unix.Renameat(d.fd, tmp, d.fd, final); err != nil {
		return fmt.Errorf("floor: rename %s: %w", tmp, err)
	}
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
// reading it with getdents64 into buf on a fresh descriptor. The name is
// only valid during the call; typ is the d_type byte (unix.DT_REG, ...).
func (d *Dir) List(buf []byte, fn func(name []byte, typ uint8)) error {
	fd, err := unix.Openat(d.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("floor: open %s: %w", d.path, err)
	}
	defer unix.Close(fd)
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("floor: getdents64 %s: %w", d.path, err)
		}
		if n <= 0 {
			return nil
		}
		for off := 0; off < n; {
			// struct linux_dirent64 { u64 d_ino; s64 d_off;
			// u16 d_reclen; u8 d_type; char d_name[]; }
			reclen := int(*(*uint16)(unsafe.Pointer(&buf[off+16])))
			if reclen <= 19 || off+reclen > n {
				return fmt.Errorf("floor: getdents64 %s: bad record length %d", d.path, reclen)
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

// IsPending reports whether a directory entry is a pending record as far
// as a listing can tell without a further system call: a regular file (or
// an unknown type) named Prefix + IDLen characters + Suffix. capq also
// checks the ULID's characters; the floor does not.
func IsPending(name []byte, typ uint8) bool {
	return len(name) == nameLen &&
		string(name[:len(Prefix)]) == Prefix &&
		string(name[nameLen-len(Suffix):]) == Suffix &&
		(typ == unix.DT_REG || typ == unix.DT_UNKNOWN)
}

// Count counts the pending records, listing into buf.
func (d *Dir) Count(buf []byte) (int, error) {
	n := 0
	err := d.List(buf, func(name []byte, typ uint8) {
		if IsPending(name, typ) {
			n++
		}
	})
	return n, err
}

// Group shares directory fsyncs between concurrent appenders (group
// commit): a caller waits for an fsync that began after it called Sync,
// starting one itself when none is running, so that N concurrent writers
// pay for about two directory fsyncs, not N.
type Group struct {
	d       *Dir
	mu      sync.Mutex
	cond    *sync.Cond
	running bool
	started uint64
	done    uint64
	failed  uint64
	err     error
}

// NewGroup returns a Group for d.
func NewGroup(d *Dir) *Group {
	g := &Group{d: d}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// Sync returns once a directory fsync that began after the call has
// finished, with its error.
func (g *Group) Sync() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	need := g.started + 1
	for g.done < need {
		if g.running {
			g.cond.Wait()
			continue
		}
		g.running = true
		g.started++
		gen := g.started
		g.mu.Unlock()
		err := g.d.SyncDir()
		g.mu.Lock()
		g.running, g.done = false, gen
		if err != nil {
			g.failed, g.err = gen, err
		}
		g.cond.Broadcast()
	}
	if g.failed >= need {
		return g.err
	}
	return nil
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

// Oldest lists the directory into buf and returns the n smallest pending
// IDs (the oldest records), sorted, reusing ids: a bounded max-heap, so the
// cost is one pass over the names and no sort of all of them.
func (d *Dir) Oldest(buf []byte, n int, ids [][IDLen]byte) ([][IDLen]byte, error) {
	h := ids[:0]
	if n <= 0 {
		return h, nil
	}
	err := d.List(buf, func(name []byte, typ uint8) {
		if !IsPending(name, typ) {
			return
		}
		id := [IDLen]byte(name[len(Prefix) : len(Prefix)+IDLen])
		switch {
		case len(h) < n:
			h = append(h, id)
			for i := len(h) - 1; i > 0; { // sift up
				p := (i - 1) / 2
				if string(h[p][:]) >= string(h[i][:]) {
					break
				}
				h[p], h[i] = h[i], h[p]
				i = p
			}
		case string(id[:]) < string(h[0][:]):
			h[0] = id
			for i := 0; ; { // sift down
				l, r, m := 2*i+1, 2*i+2, i
				if l < len(h) && string(h[l][:]) > string(h[m][:]) {
					m = l
				}
				if r < len(h) && string(h[r][:]) > string(h[m][:]) {
					m = r
				}
				if m == i {
					break
				}
				h[i], h[m] = h[m], h[i]
				i = m
			}
		}
	})
	slices.SortFunc(h, func(a, b [IDLen]byte) int { return strings.Compare(string(a[:]), string(b[:])) })
	return h, err
}

// SyncFS flushes the whole file system holding the directory (syncfs(2)).
// Benchmarks call it, untimed, after filling a directory without fsync, so
// that the next timed fsync does not pay for writing back the fill.
func (d *Dir) SyncFS() error { return retry(func() error { return unix.Syncfs(d.fd) }) }

// Link makes newname a hard link to the existing file oldname (linkat(2)):
// how benchmarks give a deep queue most of its names without allocating an
// inode and a data block for each.
func (d *Dir) Link(oldname, newname string) error {
	if err := unix.Linkat(d.fd, oldname, d.fd, newname, 0); err != nil {
		return fmt.Errorf("floor: link %s: %w", newname, err)
	}
	return nil
}
