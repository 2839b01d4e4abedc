//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package fsys

import (
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// The portable paths of OS: only calls that macOS, FreeBSD, NetBSD,
// OpenBSD, DragonFly and Linux all have. They are what those systems run,
// and Linux runs them under OpenPortable or the capq_portable build tag,
// which is how they are tested.

// readDirBatch is how many entries one step of the portable listing reads:
// it bounds the listing's memory whatever the directory's size.
const readDirBatch = 512

// createLockedNamed creates a uniquely named temporary file with O_EXCL,
// takes its exclusive flock, and only then hard-links it to base with
// linkat, which fails with EEXIST rather than replace an entry. So the name
// base never refers to an unlocked file: a consumer that opens it and
// tries the lock finds it held until the creator releases it. The
// temporary name is then unlinked. Hard links are required: on a file
// system without them (FAT, exFAT, some network shares) lock creation
// fails, and the queue with it, rather than open a race.
func createLockedNamed(dfd int, base, name string, perm fs.FileMode) (File, error) {
	var rnd [lockTmpRandSize]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, &fs.PathError{Op: "create", Path: name, Err: err}
	}
	tmp := LockTmpName(base, rnd)
	fd, err := openat(dfd, tmp, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm.Perm()))
	if err != nil {
		return nil, &fs.PathError{Op: "create", Path: name, Err: err}
	}
	// The temporary name goes whatever happens: after a successful link
	// the file lives on under base, and after a failure nobody wants it.
	// (Not durably: a crash can leave it, for Recover to remove.)
	defer unix.Unlinkat(dfd, tmp, 0)
	return lockAndLink(fd, name, func() error {
		for {
			err := unix.Linkat(dfd, tmp, dfd, base, 0)
			if err != unix.EINTR {
				return err
			}
		}
	})
}

// readDirPortable lists the directory open as fd with the standard
// library's ReadDir, readDirBatch entries at a time, so that memory stays
// bounded however many names the directory holds. It closes fd. Entry types
// come from d_type where the system reports it and from fstatat relative to
// the directory descriptor where it does not; an entry that vanishes in
// between is skipped, as if the listing had come a moment later.
func readDirPortable(fd int, dir string, fn func(name []byte, typ EntryType) error) error {
	f := os.NewFile(uintptr(fd), dir)
	defer f.Close()
	var nameb []byte
	for {
		ents, err := f.ReadDir(readDirBatch)
		for _, e := range ents {
			nameb = append(nameb[:0], e.Name()...)
			if err := fn(nameb, modeType(e.Type())); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return &fs.PathError{Op: "readdir", Path: dir, Err: underlying(err)}
		}
		if len(ents) == 0 {
			return nil
		}
	}
}

// underlying unwraps the *os.PathError or *os.SyscallError that the
// standard library wraps around an errno, so that the seam's callers see
// the same error shape from every backend.
func underlying(err error) error {
	var errno unix.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}

func modeType(m fs.FileMode) EntryType {
	switch {
	case m.IsRegular():
		return TypeRegular
	case m&fs.ModeDir != 0:
		return TypeDir
	case m&fs.ModeSymlink != 0:
		return TypeSymlink
	default:
		return TypeOther
	}
}
