package queue

import (
	"github.com/capq/capq/internal/fsys"
	"github.com/capq/capq/internal/layout"
	"github.com/capq/capq/ulid"
)

// File names in the queue directory (spec R1), spelled once in
// internal/layout.
const (
	pendingPrefix = layout.PendingPrefix
	pendingSuffix = layout.PendingSuffix
	tmpSuffix     = layout.TmpSuffix
	lockSuffix    = layout.LockSuffix

	auditLogName        = layout.AuditLogName
	auditLogRotatedName = layout.AuditLogRotatedName
	quarantineDir       = layout.QuarantineDir
	deadLetterDir       = layout.DeadLetterDir

	// lockTmpSuffix ends the temporary names that fsys.OS.CreateLocked
	// uses where O_TMPFILE is not supported; a crash can leave one behind.
	// fsys.LockTmpBase is the exact rule for those names.
	lockTmpSuffix = fsys.LockTmpSuffix

	historySuffix = layout.HistorySuffix

	pendingNameLen = len(pendingPrefix) + ulid.EncodedSize + len(pendingSuffix)
)

func pendingName(id string) string { return layout.PendingName(id) }
func tmpName(id string) string     { return layout.TmpName(id) }
func lockName(id string) string    { return layout.LockName(id) }

// nameKind classifies a directory entry name.
type nameKind uint8

const (
	kindForeign   nameKind = iota // not a name capq uses
	kindPending                   // pending-<ULID>.json
	kindTmp                       // pending-<ULID>.json.tmp
	kindLock                      // pending-<ULID>.lock
	kindAudit                     // .overflow-audit.log
	kindLookalike                 // starts with pending- but is none of the above, or resembles a kindLockTmp name
	kindQuarantine
	kindDeadLetter
	kindLockTmp // .pending-<ULID>.lock.<16 hex>.locktmp: fsys.OS.CreateLocked's fallback (R45)
	kindSpare   // .capq-spare-<n>: a spare file for lock creation on a full disk (R32)
)

// classify sorts a directory entry name into its kind and returns the ULID
// part for the kinds that have one. It does not allocate (the ULID check
// works on a stack copy of at most 32 bytes), except for names that start
// with ".pending-" and end with ".locktmp".
//
// A lock-creation temporary name (kindLockTmp) is exactly what
// fsys.LockTmpName makes for a lock name: "." + pending-<ULID>.lock + "." +
// 16 lower-case hex digits + ".locktmp", the ULID canonical. Every other
// ".pending-*.locktmp" name is a look-alike (spec R23, R45): Recover and
// the claim's repair leave it, Verify reports it.
func classify(name []byte) (nameKind, []byte) {
	n := len(name)
	switch {
	case n == pendingNameLen && hasPrefix(name, pendingPrefix) && hasSuffix(name, pendingSuffix):
		id := name[len(pendingPrefix) : n-len(pendingSuffix)]
		if ulid.Valid(string(id)) {
			return kindPending, id
		}
	case n == pendingNameLen+len(".tmp") && hasPrefix(name, pendingPrefix) && hasSuffix(name, tmpSuffix):
		id := name[len(pendingPrefix) : n-len(tmpSuffix)]
		if ulid.Valid(string(id)) {
			return kindTmp, id
		}
	case n == len(pendingPrefix)+ulid.EncodedSize+len(lockSuffix) && hasPrefix(name, pendingPrefix) && hasSuffix(name, lockSuffix):
		id := name[len(pendingPrefix) : n-len(lockSuffix)]
		if ulid.Valid(string(id)) {
			return kindLock, id
		}
	case string(name) == auditLogName || string(name) == auditLogRotatedName:
		return kindAudit, nil
	case string(name) == quarantineDir:
		return kindQuarantine, nil
	case string(name) == deadLetterDir:
		return kindDeadLetter, nil
	}
	if hasPrefix(name, spareNamePrefix) {
		return kindSpare, nil
	}
	if hasPrefix(name, "."+pendingPrefix) && hasSuffix(name, lockTmpSuffix) {
		if base, ok := fsys.LockTmpBase(string(name)); ok {
			if k, id := classify([]byte(base)); k == kindLock {
				return kindLockTmp, id
			}
		}
		return kindLookalike, nil
	}
	if hasPrefix(name, pendingPrefix) {
		return kindLookalike, nil
	}
	return kindForeign, nil
}

func hasPrefix(b []byte, p string) bool { return len(b) >= len(p) && string(b[:len(p)]) == p }
func hasSuffix(b []byte, s string) bool { return len(b) >= len(s) && string(b[len(b)-len(s):]) == s }

// ulidFromPendingName returns the ULID string of a pending file name.
func ulidFromPendingName(name string) (string, bool) {
	k, id := classify([]byte(name))
	if k != kindPending {
		return "", false
	}
	return string(id), true
}

// spareNamePrefix starts the names of the spare files kept for creating
// lock files when the disk or the inode table is full (spec R32).
const spareNamePrefix = ".capq-spare-"
