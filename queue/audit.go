package queue

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"strconv"

	"github.com/capq/capq/internal/fsys"
)

// Reasons written in the audit log's "reason" field (spec R20).
const (
	// ReasonOverflow: the record was dropped by the overflow rule (the
	// reference's only reason, with its exact line format).
	ReasonOverflow = "queue_overflow"
	// ReasonPruned: the record was dropped by an explicit Prune call.
	ReasonPruned = "pruned"
	// ReasonQuarantined: a corrupt or unsafe file was moved to the
	// quarantine folder.
	ReasonQuarantined = "quarantined"
	// ReasonDeadLetter: the record's handler failed MaxAttempts times and
	// it was moved to the dead-letter folder.
	ReasonDeadLetter = "dead_letter"
	// ReasonRequeued: a dead letter was put back into the queue.
	ReasonRequeued = "requeued"
)

const reasonOverflow = ReasonOverflow

// AuditEntry is one line of the audit log. The fields of an overflow line
// are exactly the reference's; capq's other reasons add ULID, File,
// Detail and Attempts.
type AuditEntry struct {
	TS                   string `json:"ts"`
	DroppedULID          string `json:"dropped_ulid,omitempty"`
	AppendedAt           string `json:"appended_at"`
	Reason               string `json:"reason"`
	QueueSizeBeforePrune *int   `json:"queue_size_before_prune,omitempty"`
	ULID                 string `json:"ulid,omitempty"`
	File                 string `json:"file,omitempty"`
	Detail               string `json:"detail,omitempty"`
	Attempts             int    `json:"attempts,omitempty"`
}

// appendAuditLine appends e as one JSON line, in the reference's key order
// for the fields it has, without HTML escaping.
func appendAuditLine(dst []byte, e AuditEntry) []byte {
	dst = append(dst, `{"ts":`...)
	dst = strconv.AppendQuote(dst, e.TS)
	if e.DroppedULID != "" {
		dst = append(dst, `,"dropped_ulid":`...)
		dst = appendJSONString(dst, e.DroppedULID)
	}
	dst = append(dst, `,"appended_at":`...)
	dst = appendJSONString(dst, e.AppendedAt)
	dst = append(dst, `,"reason":`...)
	dst = appendJSONString(dst, e.Reason)
	if e.QueueSizeBeforePrune != nil {
		dst = append(dst, `,"queue_size_before_prune":`...)
		dst = strconv.AppendInt(dst, int64(*e.QueueSizeBeforePrune), 10)
	}
	if e.ULID != "" {
		dst = append(dst, `,"ulid":`...)
		dst = appendJSONString(dst, e.ULID)
	}
	if e.File != "" {
		dst = append(dst, `,"file":`...)
		dst = appendJSONString(dst, e.File)
	}
	if e.Detail != "" {
		dst = append(dst, `,"detail":`...)
		dst = appendJSONString(dst, e.Detail)
	}
	if e.Attempts != 0 {
		dst = append(dst, `,"attempts":`...)
		dst = strconv.AppendInt(dst, int64(e.Attempts), 10)
	}
	return append(dst, "}\n"...)
}

// appendJSONString appends s as a JSON string without HTML escaping.
func appendJSONString(dst []byte, s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // a string always encodes
	return append(dst, bytes.TrimSuffix(b.Bytes(), []byte("\n"))...)
}

// writeAudit appends entries to the audit log as the reference does: open
// with O_APPEND (never following a symlink), take flock(LOCK_EX) on the log
// itself so lines of concurrent writers never interleave, write, fsync.
func (q *Queue) writeAudit(op string, entries []AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	var buf []byte
	for _, e := range entries {
		buf = appendAuditLine(buf, e)
	}
	f, err := q.fs.OpenFile(AuditLogName, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return opErr(op, stepOpen, AuditLogName, unsafeErr(err))
	}
	defer f.Close()
	if err := f.Flock(fsys.LockExclusive); err != nil {
		return opErr(op, stepLock, AuditLogName, err)
	}
	fi, err := f.Stat()
	if err != nil || !fi.IsRegular() {
		return opErr(op, stepOpen, AuditLogName, ErrUnsafeFile)
	}
	if fi.Size > 0 {
		// A write cut short (disk full, power cut before its fsync) can
		// leave a torn last line; start on a line of our own, or ours
		// would be glued to the fragment and be unreadable too.
		var last [1]byte
		if _, err := f.ReadAt(last[:], fi.Size-1); err != nil {
			return opErr(op, stepRead, AuditLogName, err)
		}
		if last[0] != '\n' {
			buf = append([]byte{'\n'}, buf...)
		}
	}
	n, err := f.Write(buf)
	if err == nil && n != len(buf) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return opErr(op, stepWrite, AuditLogName, err)
	}
	if !q.opts.NoSync {
		if err := f.Sync(); err != nil {
			return opErr(op, stepSync, AuditLogName, err)
		}
		if fi.Size == 0 {
			// The log may be new: its name must be durable before the
			// move or delete it describes, or a power cut could keep
			// the delete and lose the log.
			if err := q.fs.SyncDir("."); err != nil {
				return opErr(op, stepSyncDir, ".", err)
			}
		}
	}
	return nil
}

func (q *Queue) now() string { return FormatAppendedAt(q.opts.Clock()) }

// Audit returns the entries of the audit log, oldest first. Lines that do
// not parse (a torn last line after a crash, or foreign content) are
// skipped.
func (q *Queue) Audit() ([]AuditEntry, error) {
	if err := q.enter(); err != nil {
		return nil, err
	}
	defer q.leave()
	f, err := q.fs.OpenFile(AuditLogName, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, opErr("audit", stepOpen, AuditLogName, unsafeErr(err))
	}
	defer f.Close()
	var out []AuditEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var e AuditEntry
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Reason != "" {
			out = append(out, e)
		}
	}
	if err := sc.Err(); err != nil {
		return out, opErr("audit", stepRead, AuditLogName, err)
	}
	return out, nil
}
