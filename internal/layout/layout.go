// Package layout names the entries of a queue directory (spec R1): the one
// place the on-disk names are spelled. Package queue builds every name it
// uses from these constants, and capq's own tools, model and harnesses use
// them to plant, inspect and check files, so a name cannot drift between
// the queue and what checks it. It is internal: an embedder works through
// package queue, whose documentation lists the layout.
package layout

// The reference owns the pending, tmp and lock names and the audit log;
// capq adds the rotated log, the two folders, the attempt history beside a
// dead letter and the spare files, which the reference ignores because they
// are not regular files named pending-*.json.
const (
	// PendingPrefix starts the name of every record file:
	// pending-<ULID>.json, .json.tmp and .lock.
	PendingPrefix = "pending-"
	// PendingSuffix ends a committed record: pending-<ULID>.json.
	PendingSuffix = ".json"
	// TmpSuffix ends an append in progress, renamed over the pending
	// name when complete.
	TmpSuffix = ".json.tmp"
	// LockSuffix ends a record's lock file (flock), which capq keeps after
	// a failed delivery with the attempt history.
	LockSuffix = ".lock"

	// AuditLogName is the audit log: JSON Lines, one line per record
	// dropped on overflow, pruned, quarantined, dead-lettered or requeued.
	AuditLogName = ".overflow-audit.log"
	// AuditLogRotatedName is the audit log's previous generation, renamed
	// from AuditLogName when it reached Options.AuditLogMaxSize (spec R30).
	AuditLogRotatedName = AuditLogName + ".1"

	// QuarantineDir is the folder where corrupt and unsafe files are
	// moved, never deleted.
	QuarantineDir = "quarantine"
	// DeadLetterDir is the folder where records whose handler failed
	// MaxAttempts times are moved, each with its attempt history.
	DeadLetterDir = "dead-letter"
	// HistorySuffix ends the attempt history kept beside a dead letter:
	// dead-letter/pending-<ULID>.history.
	HistorySuffix = ".history"
)

// PendingName is the file name of the committed record id (a ULID string).
func PendingName(id string) string { return PendingPrefix + id + PendingSuffix }

// LockName is the file name of the lock of record id.
func LockName(id string) string { return PendingPrefix + id + LockSuffix }

// TmpName is the file name of record id while it is being appended.
func TmpName(id string) string { return PendingPrefix + id + TmpSuffix }
