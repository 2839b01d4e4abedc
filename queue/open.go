package queue

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"strings"

	"github.com/capq/capq/internal/fsys"
)

// errNotRegularFile is joined with ErrUnsafeFile when an open name turns out
// to be a directory, FIFO, socket or device once opened.
var errNotRegularFile = errors.New("not a regular file")

// errHardLinked is joined with ErrUnsafeFile when an opened regular file
// has more than one hard link.
var errHardLinked = errors.New("a regular file with more than one hard link")

// openRegular is the one way the queue opens a file (spec R31): relative
// to the queue's directory descriptor, never following a symlink
// (fsys.FS.OpenFile), with O_NONBLOCK so that a FIFO or a device planted
// at one of capq's names can never block the open, then fstat on the
// descriptor to require a regular file before any byte is read or written.
// O_NONBLOCK has no effect on the reads and writes of a regular file. The
// error wraps ErrUnsafeFile for anything that is not a regular file, and
// fs.ErrNotExist when the name is missing (and O_CREATE was not given).
func (q *Queue) openRegular(op, name string, flag int) (fsys.File, fsys.FileInfo, error) {
	f, err := q.fs.OpenFile(name, flag|fsys.ONonblock, 0o600)
	if err != nil {
		return nil, fsys.FileInfo{}, opErr(op, stepOpen, name, unsafeErr(err))
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fsys.FileInfo{}, opErr(op, stepOpen, name, err)
	}
	if !fi.IsRegular() {
		f.Close()
		return nil, fsys.FileInfo{}, opErr(op, stepOpen, name, errors.Join(errNotRegularFile, ErrUnsafeFile))
	}
	if fi.Nlink > 1 {
		// Another name shares the file (a hard link planted at one of
		// capq's names): reading it would deliver bytes from outside
		// the queue, writing it would write outside (spec R31).
		f.Close()
		return nil, fsys.FileInfo{}, opErr(op, stepOpen, name, errors.Join(errHardLinked, ErrUnsafeFile))
	}
	return f, fi, nil
}

// writeDurable writes data to name through a temporary name, durably: the
// temporary file is created exclusively, written, fsynced (unless NoSync)
// and closed, then renamed over name. It is the queue's one durable-write
// helper for whole files (Append's tmp files share its steps through
// writeTmp); the caller fsyncs the folder. A failed fsync wraps ErrSync
// (its OpError step is "fsync") and is never retried: after an fsync error
// the kernel may have dropped the dirty pages. On any error the temporary
// file is removed and name is untouched.
//
// The temporary name is name + "." + 16 random hex digits + ".tmp"
// (durableTmpName), new for every call, and it is created with O_EXCL
// (never following a symlink): an entry already at a name drawn is
// somebody else's, never removed or reused (spec R21), and another name is
// drawn. So the only file this call ever removes is the one it created.
func (q *Queue) writeDurable(op, name string, data []byte) error {
	var (
		f   fsys.File
		tmp string
		err error
	)
	for try := 0; try < durableTmpTries; try++ {
		if tmp, err = durableTmpName(name); err != nil {
			return opErr(op, stepCreate, name, err)
		}
		f, _, err = q.openRegular(op, tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return err
	}
	fail := func(step string, err error) error {
		f.Close()
		return errors.Join(opErr(op, step, tmp, err), q.removeErr(op, tmp))
	}
	if err := writeFull(f, data); err != nil {
		return fail(stepWrite, err)
	}
	if !q.opts.NoSync {
		// The bytes must be on disk before the rename publishes them, or a
		// power cut could leave an empty file under the final name.
		if err := f.Sync(); err != nil {
			return fail(stepSync, err)
		}
	}
	if err := f.Close(); err != nil {
		return errors.Join(opErr(op, stepClose, tmp, err), q.removeErr(op, tmp))
	}
	if err := q.fs.Rename(tmp, name); err != nil {
		return errors.Join(opErr(op, stepRename, name, err), q.removeErr(op, tmp))
	}
	return nil
}

// removeErr removes name and reports a failure as an error of step
// "unlink" (a missing name is not one): clean-up errors are returned to
// the caller, never dropped.
func (q *Queue) removeErr(op, name string) error {
	if err := q.fs.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return opErr(op, stepUnlink, name, err)
	}
	return nil
}

// durableTmpTries bounds how many temporary names writeDurable draws when
// each is taken: with 64 random bits a second collision means the names
// are being planted faster than they can be guessed, not bad luck.
const durableTmpTries = 4

// durableTmpRand fills the random part of a temporary name; tests replace
// it to draw a name they planted a file at.
var durableTmpRand = rand.Read

// durableTmpSuffix ends every temporary name writeDurable creates.
const durableTmpSuffix = ".tmp"

// durableTmpName returns a fresh temporary name for a durable write of
// name: name + "." + 16 random lower-case hex digits + ".tmp" (spec R21).
// isDurableTmpOf recognises exactly these names.
func durableTmpName(name string) (string, error) {
	var rnd [8]byte
	if _, err := durableTmpRand(rnd[:]); err != nil {
		return "", err
	}
	return name + "." + hex.EncodeToString(rnd[:]) + durableTmpSuffix, nil
}

// durableTmpBase returns the name a temporary name of writeDurable stands
// for, and whether tmp is exactly such a name (name + "." + 16 lower-case
// hex digits + ".tmp"). Anything else ending in .tmp is not capq's.
func durableTmpBase(tmp string) (string, bool) {
	rest, ok := strings.CutSuffix(tmp, durableTmpSuffix)
	if !ok || len(rest) < 17 || rest[len(rest)-17] != '.' {
		return "", false
	}
	for _, c := range rest[len(rest)-16:] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", false
		}
	}
	return rest[:len(rest)-17], true
}
