package queue

import (
	"errors"
	"fmt"

	"github.com/capq/capq/internal/fsys"
	"github.com/capq/capq/ulid"
)

// Errors returned by the queue. Every error the queue returns either is one
// of these sentinels, wraps one (test with errors.Is), or is one of the
// typed errors below (extract with errors.As). Errors that come from the
// file system also wrap the underlying errno (a syscall.Errno on every
// system with a backend), so errors.Is(err, syscall.ENOSPC) works too.
var (
	// ErrClosed is returned by every operation on a closed Queue.
	ErrClosed = errors.New("capq: queue is closed")

	// ErrInvalidRecord is wrapped by the *DataError that refuses a record
	// at Append: not valid UTF-8, not valid JSON, not a JSON object, too large
	// or too deeply nested. Nothing touches the disk before the record is
	// accepted.
	ErrInvalidRecord = errors.New("capq: invalid record")

	// ErrCorrupt is wrapped by the *DataError of a pending file that is
	// not a valid envelope. Ingest moves such files to the quarantine
	// folder and goes on; they are never deleted.
	ErrCorrupt = errors.New("capq: corrupt pending file")

	// ErrSchemaVersion is wrapped by the *DataError of a pending file
	// written for a schema version this code does not understand.
	ErrSchemaVersion = errors.New("capq: unsupported schema_version")

	// ErrSync is wrapped when an fsync of a file or of the directory
	// failed. The operation that needed it failed and was rolled back as
	// far as possible; it is never retried as if the failed fsync could
	// have succeeded (see the spec, R10).
	ErrSync = errors.New("capq: fsync failed")

	// ErrNotFound is returned when a named record does not exist (for
	// example Requeue of a ULID that is not dead-lettered).
	ErrNotFound = errors.New("capq: no such record")

	// ErrClock is returned by Append when the clock reads a time that
	// appended_at cannot represent (outside years 1 to 9999); nothing is
	// written.
	ErrClock = errors.New("capq: clock out of range")

	// ErrInvalidOptions is wrapped by Open and Verify's error for an
	// Options value that has no meaning (a negative MaxRecordSize or
	// MaxDepth, a MaxDepth above 9,999), and by Ingest's for a nil
	// Handler.
	ErrInvalidOptions = errors.New("capq: invalid options")

	// ErrUnsafeFile is wrapped when the queue refuses a file because it is
	// a symlink or not a regular file where a regular file belongs.
	ErrUnsafeFile = errors.New("capq: refusing unsafe file")

	// ErrReadLimit is wrapped when a file is larger than the bound the
	// queue reads it with (spec R29): by Get's *DataError for a record
	// file over Options.MaxRecordSize plus 512 bytes (with ErrCorrupt),
	// and by DeadLetterHistory's error for a history over 256 KiB. The
	// data returned with it is cut at that bound, never silently.
	ErrReadLimit = errors.New("capq: file exceeds the read limit")

	// ErrAuditLine is wrapped by the *DataError of a line of the audit
	// log that AuditEntries skipped.
	ErrAuditLine = errors.New("capq: unreadable audit log line")

	// ErrNotHandlerFault, wrapped by an error a Handler returns, marks a
	// failure that is not the handler's: the handler never ran (a fork or
	// exec failed, a resource limit was hit, the operator interrupted the
	// drain before it started). Ingest then releases the record without
	// using an attempt, counts it in Result.Left, lists the error in
	// Result.Problems, and goes on with the drain (spec R34). A handler
	// returns, for example, fmt.Errorf("%w: %w", queue.ErrNotHandlerFault,
	// err).
	ErrNotHandlerFault = errors.New("capq: the delivery failed before the handler ran")
)

// DataError reports bytes that are not what they should be, and says where:
// a record Append refused (it wraps ErrInvalidRecord), a pending file that
// is not a valid envelope (ErrCorrupt), one written for another
// schema_version (ErrSchemaVersion), or a line of the audit log that
// AuditEntries skipped (ErrAuditLine). Test which with errors.Is; the
// fields that do not apply are zero.
type DataError struct {
	// Name is the file, relative to the queue directory: the pending
	// file, or the audit log generation. Empty for a record given to
	// Append and for DecodeEnvelope, which judge bytes alone.
	Name string
	// Index is the position of the refused record in an AppendBatch
	// call (0 for Append).
	Index int
	// Line is the 1-based line of the audit log.
	Line int
	// Offset is the byte offset in a refused record where the problem
	// was found.
	Offset int
	// Detail says what is wrong, for people.
	Detail string

	kind error // ErrInvalidRecord, ErrCorrupt, ErrSchemaVersion or ErrAuditLine
	why  error // for a refused record: errRecordTooLarge, errTooDeep or nil
	// inBatch says the refused record was given to AppendBatch, so the
	// message names its index (Append's record has no index to name).
	inBatch bool
}

func (e *DataError) Error() string {
	switch e.kind {
	case ErrInvalidRecord:
		if e.inBatch {
			return fmt.Sprintf("capq: invalid record at index %d of the batch (at byte %d): %s", e.Index, e.Offset, e.Detail)
		}
		return fmt.Sprintf("capq: invalid record (at byte %d): %s", e.Offset, e.Detail)
	case ErrSchemaVersion:
		if e.Name == "" {
			return "capq: unsupported schema_version " + e.Detail
		}
		return fmt.Sprintf("capq: %s: unsupported schema_version %s", e.Name, e.Detail)
	case ErrAuditLine:
		return fmt.Sprintf("capq: audit log %s line %d: %s", e.Name, e.Line, e.Detail)
	}
	if e.Name == "" {
		return "capq: corrupt envelope: " + e.Detail
	}
	return fmt.Sprintf("capq: corrupt pending file %s: %s", e.Name, e.Detail)
}

// Unwrap returns the sentinel that says which kind of data error e is
// (ErrInvalidRecord, ErrCorrupt, ErrSchemaVersion or ErrAuditLine).
func (e *DataError) Unwrap() []error {
	if e.why != nil {
		return []error{e.kind, e.why}
	}
	return []error{e.kind}
}

// Why a record is refused, beyond ErrInvalidRecord; unexported, since the
// Detail says it for people and no caller acts on the difference. The
// queue's tests tell them apart.
var (
	errRecordTooLarge = errors.New("capq: record too large")
	errTooDeep        = errors.New("capq: record nested too deeply")
)

// recordError returns the DataError of a refused record.
func recordError(off int, detail string) *DataError {
	return &DataError{Offset: off, Detail: detail, kind: ErrInvalidRecord}
}

// corruptError returns the DataError of a pending file that is not a valid
// envelope.
func corruptError(name, detail string) *DataError {
	return &DataError{Name: name, Detail: detail, kind: ErrCorrupt}
}

// OpError reports a failed file-system step of a queue operation: which
// operation, which step, which file. It wraps the file system's error (and
// so its errno), and ErrSync when the failed step was an fsync.
type OpError struct {
	Op   string // queue operation: "append", "ingest", "prune", ...
	Step string // "create", "write", "fsync", "close", "rename", "fsync-dir", "unlink", "lock", "read", "list", ...
	Name string // file name relative to the queue directory, if any
	Err  error
}

func (e *OpError) Error() string {
	if e.Name == "" {
		return fmt.Sprintf("capq: %s: %s: %v", e.Op, e.Step, e.Err)
	}
	return fmt.Sprintf("capq: %s: %s %s: %v", e.Op, e.Step, e.Name, e.Err)
}

// Unwrap returns the file system's error, and ErrSync too when the failed
// step was an fsync (so errors.Is(err, ErrSync) says so).
func (e *OpError) Unwrap() []error {
	if e.Step == stepSync || e.Step == stepSyncDir {
		return []error{e.Err, ErrSync}
	}
	return []error{e.Err}
}

// HandlerError is returned by Ingest when the handler failed for a record
// and the drain stopped (no MaxAttempts, or attempts left). It wraps the
// handler's error. It is also the Problem.Err of a record left in place
// because its handler returned an error wrapping ErrNotHandlerFault
// (Attempt is then the delivery's, which was not charged), so
// errors.Is(p.Err, ErrNotHandlerFault) holds.
type HandlerError struct {
	ULID    ulid.ULID // the record's ULID
	Attempt int       // the attempt that failed, 1 for the first delivery
	Err     error     // what the handler returned
}

func (e *HandlerError) Error() string {
	return fmt.Sprintf("capq: handler failed for %s (attempt %d): %v", e.ULID, e.Attempt, e.Err)
}

// Unwrap returns the handler's error.
func (e *HandlerError) Unwrap() error { return e.Err }

// Steps named in OpError.
const (
	stepCreate  = "create"
	stepWrite   = "write"
	stepSync    = "fsync"
	stepClose   = "close"
	stepRename  = "rename"
	stepSyncDir = "fsync-dir"
	stepUnlink  = "unlink"
	stepLock    = "lock"
	stepOpen    = "open"
	stepRead    = "read"
	stepList    = "list"
	stepMkdir   = "mkdir"
	stepDup     = "dup"
)

func opErr(op, step, name string, err error) error {
	return &OpError{Op: op, Step: step, Name: name, Err: err}
}

// isBusy reports whether err means a lock is held elsewhere.
func isBusy(err error) bool {
	return errors.Is(err, fsys.ErrWouldBlock) || errors.Is(err, fsys.EAGAIN)
}

// unsafeErr adds ErrUnsafeFile to an error from opening a name that is not
// a regular file: a symlink (ELOOP under O_NOFOLLOW), a socket or a device
// without a driver (ENXIO, ENODEV), or a directory (EISDIR). Every open of
// a queue file reports such names the same way, through this function.
func unsafeErr(err error) error {
	if errors.Is(err, fsys.ELOOP) || errors.Is(err, fsys.ENXIO) ||
		errors.Is(err, fsys.ENODEV) || errors.Is(err, fsys.EISDIR) {
		return errors.Join(err, ErrUnsafeFile)
	}
	return err
}

// isNotFolder reports whether err comes from opening a folder name that is
// not a directory: a file (ENOTDIR) or a symlink, which
// O_NOFOLLOW|O_DIRECTORY refuses with ELOOP (or ENOTDIR).
func isNotFolder(err error) bool {
	return errors.Is(err, fsys.ENOTDIR) || errors.Is(err, fsys.ELOOP)
}

// BatchError is returned by AppendBatch when some of its records could
// not be appended after writing began (spec R51). The records with a nil
// error in Errs are durably pending; those with an error are not, and
// their place in AppendBatch's ULIDs is the zero ULID. Each error is the
// record's own *OpError (wrapping the errno, and ErrSync for a failed
// flush), so errors.Is and errors.As see through a BatchError to them.
type BatchError struct {
	Errs []error // one per record of the batch, nil if it was appended
}

func (e *BatchError) Error() string {
	failed := e.Unwrap()
	var first error
	if len(failed) > 0 {
		first = failed[0]
	}
	return fmt.Sprintf("capq: append: %d of %d records not appended; first: %v", len(failed), len(e.Errs), first)
}

// failed returns the indexes (in the batch) of the records that were not
// appended: those whose Errs entry is not nil.
func (e *BatchError) failed() []int {
	var idx []int
	for i, err := range e.Errs {
		if err != nil {
			idx = append(idx, i)
		}
	}
	return idx
}

// Unwrap returns the errors of the failed records.
func (e *BatchError) Unwrap() []error {
	var errs []error
	for _, i := range e.failed() {
		errs = append(errs, e.Errs[i])
	}
	return errs
}
