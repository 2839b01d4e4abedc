package fsys

import (
	"io/fs"
	"time"
)

// FS is the set of file-system operations the queue uses, relative to one
// directory. Implementations are safe for concurrent use.
type FS interface {
	// OpenFile opens name with the given os.O_* flags and permission bits
	// (used when creating). The final component is never followed if it is
	// a symlink: opening a symlink fails with an error wrapping ELOOP.
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)

	// CreateLocked creates name as a new regular file that is already
	// locked exclusively (flock) by the returned File when the name
	// appears: no other opener can ever see it unlocked. It fails with an
	// error wrapping EEXIST if any entry of that name exists. The queue
	// creates lock files this way, so that a lock file found unlocked
	// always means an earlier holder that is gone.
	CreateLocked(name string, perm fs.FileMode) (File, error)

	// Rename atomically renames oldname to newname, replacing newname if it
	// exists. Neither name is followed if it is a symlink (rename never
	// follows the final component).
	Rename(oldname, newname string) error

	// Remove unlinks the non-directory entry name.
	Remove(name string) error

	// Mkdir creates the directory name. It fails with an error wrapping
	// EEXIST if any entry of that name exists.
	Mkdir(name string, perm fs.FileMode) error

	// Lstat describes name without following a symlink. The name "." is the
	// root directory itself.
	Lstat(name string) (FileInfo, error)

	// ReadDir calls fn for every entry of the directory dir ("." for the
	// root), in no particular order, excluding "." and "..". The name slice
	// is only valid during the call: fn must copy it to keep it. This lets a
	// count run without an allocation per name. If fn returns an error,
	// ReadDir stops and returns that error.
	ReadDir(dir string, fn func(name []byte, typ EntryType) error) error

	// SyncDir fsyncs the directory dir ("." for the root), making the
	// creations, renames and unlinks of its entries durable.
	SyncDir(dir string) error

	// Close releases the file system's resources (the held directory
	// descriptors). Files opened from it stay usable until closed.
	Close() error
}

// File is an open file of an FS.
type File interface {
	// Read reads from the current offset, as io.Reader.
	Read(p []byte) (int, error)
	// ReadAt reads at offset off without moving the current offset, as
	// io.ReaderAt.
	ReadAt(p []byte, off int64) (int, error)
	// Write writes at the current offset (or at the end, for O_APPEND),
	// as io.Writer: a short write returns a non-nil error.
	Write(p []byte) (int, error)
	// Sync makes the file's data durable (fsync).
	Sync() error
	// Stat describes the open file.
	Stat() (FileInfo, error)
	// Flock applies or removes an advisory lock on the open file
	// description, as flock(2): how is LockExclusive, LockShared or Unlock,
	// optionally or'ed with LockNonBlocking. A lock held elsewhere makes a
	// non-blocking attempt fail with an error wrapping EWOULDBLOCK.
	Flock(how LockHow) error
	// Close closes the file, releasing any lock it holds.
	Close() error
}

// LockHow selects a flock(2) operation.
type LockHow int

// The flock operations, with the values of LOCK_SH, LOCK_EX, LOCK_NB and
// LOCK_UN on Linux.
const (
	LockShared      LockHow = 1
	LockExclusive   LockHow = 2
	LockNonBlocking LockHow = 4
	Unlock          LockHow = 8
)

// EntryType is the type of a directory entry as ReadDir reports it.
type EntryType uint8

// The entry types. TypeUnknown means the file system did not say (d_type is
// DT_UNKNOWN on some file systems); the caller must Lstat to find out.
const (
	TypeUnknown EntryType = iota
	TypeRegular
	TypeDir
	TypeSymlink
	TypeOther
)

// FileInfo is what Lstat and File.Stat report.
type FileInfo struct {
	Name    string      // base name ("." for the root)
	Size    int64       // length in bytes, for regular files
	Mode    fs.FileMode // type bits and permission bits, as os.FileMode
	ModTime time.Time   // last modification
	Ino     uint64      // inode number (identity of the file)
	// Nlink is the number of hard links, 0 when the file system does not
	// say (the in-memory one). A queue file with more than one link is
	// shared with a name outside capq's control (spec R31).
	Nlink uint64
}

// IsRegular reports whether the entry is a regular file.
func (fi FileInfo) IsRegular() bool { return fi.Mode.IsRegular() }
