package queue

import (
	"context"
	"errors"
	"io/fs"
	"os"

	"github.com/capq/capq/internal/fsys"
	"github.com/capq/capq/ulid"
)

// Stored is one record's file as Get found it.
type Stored struct {
	// Envelope is Data decoded (embedded, as in Delivery); zero when Get
	// returned an error.
	Envelope
	// Name is the file's name relative to the queue directory:
	// pending-<ULID>.json, or dead-letter/pending-<ULID>.json.
	Name string
	// DeadLetter says the record was found in the dead-letter folder.
	DeadLetter bool
	// Data is the file's bytes exactly as stored (at most
	// Options.MaxRecordSize plus 512 bytes, spec R24).
	Data []byte
}

// Get reads record id: its pending file, or, when it is not pending, its
// dead letter (spec R29). It reads at most Options.MaxRecordSize plus 512
// bytes, never follows a symlink (neither at the file nor at the
// dead-letter folder), and never blocks on a FIFO.
//
// Errors: ErrNotFound when neither file exists; ErrUnsafeFile for a
// symlink or special file; an *OpError for a file that cannot be read; a
// *DataError wrapping ErrCorrupt for a file that is not a valid envelope,
// or ErrSchemaVersion for another schema_version. With every error but
// ErrNotFound, Stored.Name and Stored.DeadLetter say which file it is
// about; with a *DataError, Stored.Data holds the bytes read. A file over
// the limit is corrupt too: its *DataError also wraps ErrReadLimit, and
// Stored.Data holds its first MaxRecordSize plus 512 bytes. Stored's
// Envelope is zero whenever the error is not nil.
func (q *Queue) Get(id ulid.ULID) (Stored, error) {
	if err := q.enter(); err != nil {
		return Stored{}, err
	}
	defer q.leave()
	name := pendingName(id.String())
	st := Stored{Name: name}
	data, err := q.readRecord("get", name)
	if errors.Is(err, fs.ErrNotExist) {
		st = Stored{Name: deadLetterDir + "/" + name, DeadLetter: true}
		data, err = q.readRecord("get", st.Name)
		if errors.Is(err, errNotFolder) {
			// ELOOP can be the dead letter's own name (a symlink there)
			// rather than the folder's: name it then, never "not found"
			// (spec R36).
			if fi, lerr := q.fs.Lstat(st.Name); lerr == nil && !fi.IsRegular() {
				if dfi, derr := q.fs.Lstat(deadLetterDir); derr == nil && dfi.Mode.IsDir() {
					return st, opErr("get", stepOpen, st.Name, ErrUnsafeFile)
				}
			}
			return Stored{}, ErrNotFound
		}
		if errors.Is(err, fs.ErrNotExist) {
			return Stored{}, ErrNotFound
		}
	}
	var de *DataError
	if err != nil && !errors.As(err, &de) {
		return st, err
	}
	st.Data = data
	if err != nil {
		return st, err
	}
	// Decoded under the pending name, which the envelope's ulid must
	// match wherever the file is; the error names the file read.
	st.Envelope, err = decodeFile(name, data)
	if errors.As(err, &de) {
		de.Name = st.Name
		st.Envelope = Envelope{}
	}
	return st, err
}

// errNotFolder marks a folder name of the queue that is not a directory
// (ENOTDIR, or ELOOP for a symlink refused by O_NOFOLLOW|O_DIRECTORY).
var errNotFolder = errors.New("not a folder")

// Stats is a summary of the queue directory, as one listing saw it.
type Stats struct {
	Pending      int       // regular files named pending-<ULID>.json
	PendingBytes int64     // their total size
	Oldest       ulid.ULID // the oldest pending record; zero when none
	Locks        int       // lock files (held, in doubt, or orphaned)
	Tmp          int       // .tmp files and capq's .locktmp files (R45): appends or lock creations in progress, or stray
	Unsafe       int       // symlinks and special files at names capq uses
	Quarantined  int       // entries of the quarantine folder
	DeadLetters  int       // pending-<ULID>.json entries of the dead-letter folder
	AuditBytes   int64     // size of the audit log and its rotated generation (R30)
	// Problems lists what could not be looked at (a folder that is a
	// file or a symlink, an unreadable folder); the counts leave it out.
	Problems []Problem
}

// Problem is something an operation could not handle and went past: one
// record or side path it reported and left alone.
type Problem struct {
	Name string // relative to the queue directory
	// Err is typed: errors.As finds an *OpError (wrapping the errno), a
	// *DataError, or, for a record whose handler returned an error
	// wrapping ErrNotHandlerFault, a *HandlerError.
	Err error
}

// String returns the name and the error's text; a Problem with a nil Err
// (the zero Problem, or one a caller built) says "<nil>" instead of
// panicking.
func (p Problem) String() string {
	if p.Err == nil {
		return p.Name + ": <nil>"
	}
	return p.Name + ": " + p.Err.Error()
}

// maxProblems bounds the problems one call reports; ProblemsDropped-style
// counts are not kept: one entry per kind of trouble is enough to act on.
const maxProblems = 64

func addProblem(ps *[]Problem, name string, err error) {
	if len(*ps) < maxProblems {
		*ps = append(*ps, Problem{Name: name, Err: err})
	}
}

// Stats counts the queue's files with one listing of the directory and of
// each folder, without reading any record or loading the audit log (spec
// R29). Cancelling ctx stops it with ctx's error.
func (q *Queue) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	if err := q.enter(); err != nil {
		return st, err
	}
	defer q.leave()
	n := 0
	var lockTmps []string // judged after the listing: judging may list again
	err := q.fs.ReadDir(".", func(name []byte, typ fsys.EntryType) error {
		if n++; n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		k, idb := classify(name)
		switch k {
		case kindForeign, kindLookalike, kindQuarantine, kindDeadLetter:
			return nil
		}
		if typ == fsys.TypeUnknown {
			if fi, err := q.fs.Lstat(string(name)); err == nil {
				typ = typeOf(fi.Mode)
			}
		}
		if typ != fsys.TypeRegular {
			if k != kindPending || typ != fsys.TypeDir { // a directory there is a look-alike (R23)
				st.Unsafe++
			}
			return nil
		}
		switch k {
		case kindPending:
			st.Pending++
			var id ulid.ULID
			if id.UnmarshalText(idb) == nil && (st.Oldest.IsZero() || id.Compare(st.Oldest) < 0) {
				st.Oldest = id
			}
			if fi, err := q.fs.Lstat(string(name)); err == nil {
				st.PendingBytes += fi.Size
			}
		case kindLock:
			st.Locks++
		case kindSpare:
			// Not counted: the queue's own reserve for claims on a full
			// disk (R32), of no use to a reader of Stats.
		case kindTmp:
			st.Tmp++
		case kindLockTmp:
			lockTmps = append(lockTmps, string(name))
		case kindAudit:
			if fi, err := q.fs.Lstat(string(name)); err == nil {
				st.AuditBytes += fi.Size
			}
		}
		return nil
	})
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return st, ctxErr
		}
		return st, opErr("stats", stepList, ".", err)
	}
	for _, name := range lockTmps {
		// Counted as Verify reports it (spec R45): a temporary name
		// holding bytes capq never writes there, or linked elsewhere, is
		// not capq's.
		_, idb := classify([]byte(name))
		if fi, err := q.fs.Lstat(name); err == nil && fi.IsRegular() {
			if s := q.lockTmpState(name, string(idb), fi); s == tmpLeftover || s == tmpSecondLink {
				st.Tmp++
			}
		}
	}
	for _, dir := range []string{quarantineDir, deadLetterDir} {
		err := q.fs.ReadDir(dir, func(name []byte, typ fsys.EntryType) error {
			if dir == quarantineDir {
				st.Quarantined++
			} else if k, _ := classify(name); k == kindPending {
				st.DeadLetters++
			}
			return nil
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			addProblem(&st.Problems, dir, opErr("stats", stepList, dir, folderErr(err)))
		}
	}
	return st, ctx.Err()
}

// folderErr adds ErrUnsafeFile (and errNotFolder) to an error from opening
// one of the queue's folders that is not a directory: a file (ENOTDIR) or
// a symlink (ELOOP), which O_NOFOLLOW|O_DIRECTORY refuses.
func folderErr(err error) error {
	if errors.Is(err, errNotFolder) {
		return err
	}
	if errors.Is(err, os.ErrNotExist) {
		return err
	}
	if isNotFolder(err) {
		return errors.Join(err, errNotFolder, ErrUnsafeFile)
	}
	return err
}
