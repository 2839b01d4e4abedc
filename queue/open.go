package queue

import (
	"errors"
	"io/fs"
	"os"

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
func (q *Queue) writeDurable(op, name string, data []byte) error {
	tmp := name + ".tmp"
	f, _, err := q.openRegular(op, tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if errors.Is(err, fs.ErrExist) {
		// A regular file here is the tmp file of a writer that died: only
		// capq uses this name, and it holds nothing anybody needs. Anything
		// else (a symlink, a FIFO) is left alone and refused.
		if fi, lerr := q.fs.Lstat(tmp); lerr == nil && fi.IsRegular() && q.fs.Remove(tmp) == nil {
			f, _, err = q.openRegular(op, tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
		} else {
			err = errors.Join(err, ErrUnsafeFile)
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
