package queue

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"reflect"
	"strconv"
	"strings"

	"github.com/capq/capq/internal/fsys"
)

// Reason is the "reason" field of an audit line (spec R20): why a record
// left the queue or came back. A log may hold reasons written by other
// implementations, so AuditEntries yields any non-empty string found.
type Reason string

// The reasons capq writes; ReasonOverflow is the reference's only one.
const (
	// ReasonOverflow: the record was dropped by the overflow rule (the
	// reference's only reason, with its exact line format).
	ReasonOverflow Reason = "queue_overflow"
	// ReasonPruned: the record was dropped by an explicit Prune call.
	ReasonPruned Reason = "pruned"
	// ReasonQuarantined: a corrupt or unsafe file was moved to the
	// quarantine folder.
	ReasonQuarantined Reason = "quarantined"
	// ReasonDeadLetter: the record's handler failed MaxAttempts times and
	// it was moved to the dead-letter folder.
	ReasonDeadLetter Reason = "dead_letter"
	// ReasonRequeued: a dead letter was put back into the queue.
	ReasonRequeued Reason = "requeued"
)

const reasonOverflow = ReasonOverflow

// AuditEntry is one line of the audit log. The fields of an overflow line
// are exactly the reference's; capq's other reasons add ULID, File,
// Detail and Attempts. Its fields are the line's text as written, ULIDs
// and times included (not ulid.ULID and time.Time): the log is shared with
// other writers, and a reader must be able to show a line it cannot parse
// further.
type AuditEntry struct {
	TS                   string `json:"ts"`
	DroppedULID          string `json:"dropped_ulid,omitempty"`
	AppendedAt           string `json:"appended_at"`
	Reason               Reason `json:"reason"`
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
	dst = appendJSONString(dst, string(e.Reason))
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

// maxAuditLine bounds one line of the audit log as read: a longer line is
// reported as a *DataError (ErrAuditLine) and skipped, and the lines after it are
// read (capq's own lines are at most a few KiB).
const maxAuditLine = 64 << 10

// auditReserve is how many bytes of blocks a writer keeps reserved past the
// end of the audit log (spec R32): room for a chunk of prune lines.
const auditReserve = 128 << 10

// writeAuditThen appends entries to the audit log as the reference does:
// open with O_APPEND (never following a symlink, never blocking on a FIFO),
// take flock(LOCK_EX) on the log itself so lines of concurrent writers
// never interleave, write, fsync. Holding the lock, it checks that the name
// still refers to the file it locked (a writer that rotated the log may
// have renamed it meanwhile) and opens again if not. After writing, a log
// at or above Options.AuditLogMaxSize is rotated (spec R30); a failed
// rotation is logged, never returned: the lines are durable already.
//
// It is the only writer of the log, so every line is written before the
// action it describes and taken back if that action fails: the actions
// (a drop, a move) are done by then while the log's flock is still held,
// after the lines are durable (then may be nil for lines that describe no
// action, in tests). then returns how many of the entries' actions
// happened (in order; an action that fails stops the rest). The lines of actions that did not happen
// are cut off again (ftruncate to the end of the last line whose action
// happened, fsynced), so once the call returned no readable line
// describes a drop or move that did not happen (spec R20). Likewise a write or
// fsync of the lines that fails is cut back to the log's size before it.
// Only a crash between the write and the actions leaves lines of actions
// not done. Holding the flock, no capq or reference writer appended after
// our lines meanwhile.
func (q *Queue) writeAuditThen(op string, entries []AuditEntry, then func() int) error {
	if len(entries) == 0 {
		return nil
	}
	var buf []byte
	ends := make([]int, len(entries))
	for i, e := range entries {
		buf = appendAuditLine(buf, e)
		ends[i] = len(buf)
	}
	for try := 0; ; try++ {
		again, err := q.writeAuditOnce(op, buf, ends, then, try < 3)
		if !again {
			return err
		}
	}
}

func (q *Queue) writeAuditOnce(op string, buf []byte, ends []int, then func() int, retry bool) (again bool, err error) {
	f, fi, err := q.openRegular(op, auditLogName, os.O_RDWR|os.O_APPEND|os.O_CREATE)
	if err != nil && isNoSpace(err) && retry {
		// No inode for a new log: a spare file becomes the log (R32),
		// so that a prune can still write the lines it needs before it
		// frees space.
		if q.spareTo(auditLogName) {
			return true, nil
		}
	}
	if err != nil {
		return false, err
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = opErr(op, stepClose, auditLogName, cerr)
		}
	}()
	if err := f.Flock(fsys.LockExclusive); err != nil {
		return false, opErr(op, stepLock, auditLogName, err)
	}
	if cur, err := q.fs.Lstat(auditLogName); retry && (err != nil || cur.Ino != fi.Ino) {
		return true, nil // rotated while we waited for the lock
	}
	if fi, err = f.Stat(); err != nil {
		return false, opErr(op, stepOpen, auditLogName, err)
	}
	if fi.Size > 0 {
		// A write cut short (disk full, power cut before its fsync) can
		// leave a torn last line; start on a line of our own, or ours
		// would be glued to the fragment and be unreadable too.
		var last [1]byte
		if _, err := f.ReadAt(last[:], fi.Size-1); err != nil {
			return false, opErr(op, stepRead, auditLogName, err)
		}
		if last[0] != '\n' {
			buf = append([]byte{'\n'}, buf...)
			shifted := make([]int, len(ends))
			for i, e := range ends {
				shifted[i] = e + 1
			}
			ends = shifted
		}
	}
	// cut takes our lines back from the n-th on (R20): what is readable
	// must describe what happened.
	cut := func(n int) error {
		at := fi.Size
		if n > 0 {
			at += int64(ends[n-1])
		}
		t, ok := f.(fsys.Truncater)
		if !ok {
			return opErr(op, stepWrite, auditLogName, errors.ErrUnsupported)
		}
		if err := t.Truncate(at); err != nil {
			return opErr(op, stepWrite, auditLogName, err)
		}
		if q.opts.NoSync {
			return nil
		}
		if err := f.Sync(); err != nil {
			return opErr(op, stepSync, auditLogName, err)
		}
		return nil
	}
	if err := writeFull(f, buf); err != nil {
		return false, errors.Join(opErr(op, stepWrite, auditLogName, err), cut(0))
	}
	if r, ok := f.(fsys.Reserver); ok {
		// Keep blocks reserved past the end (the size does not change, so
		// the reference's appends are unaffected): on a full disk, the
		// lines a prune must write before it deletes (R20) still fit, and
		// the prune can free space (R32). Best effort: a full disk fails
		// it, and the reserve made earlier is still there.
		r.Reserve(fi.Size+int64(len(buf)), auditReserve)
	}
	if !q.opts.NoSync {
		if err := f.Sync(); err != nil {
			return false, errors.Join(opErr(op, stepSync, auditLogName, err), cut(0))
		}
		if fi.Size == 0 {
			// The log may be new: its name must be durable before the
			// move or delete it describes, or a power cut could keep
			// the delete and lose the log.
			if err := q.fs.SyncDir("."); err != nil {
				return false, opErr(op, stepSyncDir, ".", err)
			}
		}
	}
	if then != nil {
		if done := then(); done < len(ends) {
			if err := cut(done); err != nil {
				return false, err
			}
			buf = buf[:0]
			if done > 0 {
				buf = buf[:ends[done-1]]
			}
		}
	}
	if lim := q.opts.AuditLogMaxSize; lim > 0 && fi.Size+int64(len(buf)) >= lim {
		q.rotateAudit(op)
	}
	return false, nil
}

// rotateAudit renames the audit log to auditLogRotatedName. The caller
// holds the log's flock, so no capq or reference writer is between its
// open and its write on the file being renamed; one that opened it and
// waits for the lock writes its lines into the rotated file, where readers
// find them.
func (q *Queue) rotateAudit(op string) {
	if fi, err := q.fs.Lstat(auditLogRotatedName); err == nil && !fi.IsRegular() {
		// Never replace what capq did not create: a directory, symlink
		// or FIFO there disables rotation until a human removes it.
		q.opts.Logger.Warn("capq: audit log not rotated: "+auditLogRotatedName+" is not a regular file", "dir", q.dir, "op", op)
		return
	}
	if err := q.fs.Rename(auditLogName, auditLogRotatedName); err != nil {
		q.opts.Logger.Warn("capq: audit log rotation failed", "dir", q.dir, "op", op, "err", err)
		return
	}
	if !q.opts.NoSync {
		if err := q.fs.SyncDir("."); err != nil {
			q.opts.Logger.Warn("capq: audit log rotation: directory fsync failed", "dir", q.dir, "op", op, "err", err)
		}
	}
}

func (q *Queue) now() string { return FormatAppendedAt(q.opts.clock()) }

// AuditEntries iterates over the audit log, oldest first: the rotated
// generation (.overflow-audit.log.1), then the current log (spec R29). It
// streams: at most 64 KiB of one line are held at a time,
// whatever the size of the log. A line that cannot be read (too long, not
// JSON, torn by a crash) is yielded as a *DataError (errors.Is
// ErrAuditLine) and iteration goes on with the next line. A generation that
// cannot be opened (a FIFO, a symlink, unreadable) is yielded once as an
// *OpError naming it (wrapping ErrUnsafeFile where that applies), and the
// other generation is still read. Any other error (a read fails, ctx is
// done, the queue is closed) is yielded once, last. So a caller reports
// every error and keeps ranging: the iteration ends by itself. A missing
// log yields nothing.
//
// The two files are opened before either is read, the current one first,
// so that a rotation during the iteration neither hides lines written
// before it started nor yields a line twice.
//
// The queue counts as in use (Close waits) only while the iterator reads,
// not while the caller's loop body runs: Close may be called from the loop
// body, or while an iter.Pull2 of the iterator is neither advanced nor
// stopped, and returns at once. The step after Close yields ErrClosed and
// ends the iteration. Stop a pulled iterator (or finish the loop) to
// release the files it holds open.
func (q *Queue) AuditEntries(ctx context.Context) iter.Seq2[AuditEntry, error] {
	return func(yieldOut func(AuditEntry, error) bool) {
		if err := q.enter(); err != nil {
			yieldOut(AuditEntry{}, err)
			return
		}
		inUse := true
		defer func() {
			if inUse {
				q.leave()
			}
		}()
		// yield hands one step to the caller outside the queue's in-use
		// count, so that a Close in the loop body (or between the steps
		// of a pulled iterator) does not wait for the loop forever; the
		// next read re-enters, or yields ErrClosed once and stops.
		yield := func(e AuditEntry, err error) bool {
			q.leave()
			inUse = false
			if !yieldOut(e, err) {
				return false
			}
			if err := q.enter(); err != nil {
				yieldOut(AuditEntry{}, err)
				return false
			}
			inUse = true
			return true
		}
		// Each generation is read on its own: one that cannot be opened
		// (a FIFO, a directory, unreadable) is reported once, as the
		// *OpError of its open, and the other is still read (spec R29).
		cur, curInfo, cerr := q.openAuditFile(auditLogName)
		if cur != nil {
			defer cur.Close()
		}
		old, oldInfo, oerr := q.openAuditFile(auditLogRotatedName)
		if old != nil {
			defer old.Close()
			if cur != nil && oldInfo.Ino == curInfo.Ino {
				cur = nil // rotated between the two opens: read it once
			}
		}
		if oerr != nil && !yield(AuditEntry{}, oerr) {
			return
		}
		if old != nil && !q.scanAudit(ctx, old, auditLogRotatedName, yield) {
			return
		}
		if cerr != nil && !yield(AuditEntry{}, cerr) {
			return
		}
		if cur != nil {
			q.scanAudit(ctx, cur, auditLogName, yield)
		}
	}
}

// openAuditFile opens one generation of the audit log for reading; a
// missing file is (nil, nil).
func (q *Queue) openAuditFile(name string) (fsys.File, fsys.FileInfo, error) {
	f, fi, err := q.openRegular("audit", name, os.O_RDONLY)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fi, nil
	}
	return f, fi, err
}

// scanAudit yields the lines of one audit file; it returns false when the
// caller stopped or a fatal error was yielded.
func (q *Queue) scanAudit(ctx context.Context, f fsys.File, name string, yield func(AuditEntry, error) bool) bool {
	var src io.Reader = f
	if ds, ok := f.(fsys.DataSeeker); ok {
		if fi, err := f.Stat(); err == nil {
			src = &holeSkipper{f: f, ds: ds, size: fi.Size}
		}
	}
	r := bufio.NewReaderSize(src, 32<<10)
	var cur []byte // the line being read, up to maxAuditLine plus its newline
	tooLong := false
	line := 0
	for {
		chunk, err := r.ReadSlice('\n')
		if !tooLong {
			if len(cur)+len(chunk) > maxAuditLine+1 {
				tooLong, cur = true, cur[:0] // count it, keep none of it
			} else {
				cur = append(cur, chunk...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue // the same line goes on
		}
		if len(cur) > 0 || tooLong {
			line++
			if ctxErr := ctx.Err(); ctxErr != nil {
				yield(AuditEntry{}, ctxErr)
				return false
			}
			if !yieldAuditLine(cur, name, line, tooLong, yield) {
				return false
			}
		}
		cur, tooLong = cur[:0], false
		if err == io.EOF {
			return true
		}
		if err != nil {
			yield(AuditEntry{}, opErr("audit", stepRead, name, err))
			return false
		}
	}
}

func yieldAuditLine(b []byte, name string, line int, tooLong bool, yield func(AuditEntry, error) bool) bool {
	b = bytes.TrimSuffix(b, []byte("\n"))
	switch {
	case tooLong || len(b) > maxAuditLine:
		return yield(AuditEntry{}, &DataError{Name: name, Line: line, Detail: "line longer than " + itoa(maxAuditLine) + " bytes", kind: ErrAuditLine})
	case isBlank(b):
		return true // a blank line says nothing
	}
	var e AuditEntry
	if err := json.Unmarshal(b, &e); err != nil {
		return yield(AuditEntry{}, &DataError{Name: name, Line: line, Detail: auditDecodeDetail(err), kind: ErrAuditLine})
	}
	if e.Reason == "" {
		return yield(AuditEntry{}, &DataError{Name: name, Line: line, Detail: "no reason", kind: ErrAuditLine})
	}
	return yield(e, nil)
}

// auditDecodeDetail says for people why a line did not decode, in the
// terms of the line's JSON rather than of capq's Go types: a key whose
// value has the wrong JSON type ("reason":5) is named with the type it
// has and the one it needs.
func auditDecodeDetail(err error) string {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) || te.Type == nil {
		return "not a JSON object: " + strings.TrimPrefix(err.Error(), "json: ")
	}
	t := te.Type
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	want := "value of another type"
	article := "a"
	switch t.Kind() {
	case reflect.String:
		want = "string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		want, article = "integer", "an"
	case reflect.Bool:
		want = "boolean"
	case reflect.Struct:
		want, article = "object", "an"
	}
	return fmt.Sprintf("key %q is a JSON %s, want %s %s", te.Field, te.Value, article, want)
}

// holeSkipper reads a file with ReadAt and passes over its holes larger
// than a line may be (spec R29, R44): a hole holds no line break, so the
// line it falls in is too long whatever the hole's size, and reading
// maxAuditLine+1 of its zeros says as much as reading gigabytes of them.
// A sparse log of any size is so read in the time its data takes.
type holeSkipper struct {
	f    fsys.File
	ds   fsys.DataSeeker
	off  int64 // next offset to read
	size int64 // the size at open: a hole reaching it is the file's end
	pad  int   // zeros still to return for a skipped hole
}

func (h *holeSkipper) Read(p []byte) (int, error) {
	if h.pad > 0 {
		n := min(len(p), h.pad)
		clear(p[:n])
		h.pad -= n
		return n, nil
	}
	if h.off < h.size {
		next, err := h.ds.SeekData(h.off)
		if errors.Is(err, fsys.ENXIO) {
			next, err = h.size, nil // a hole to the end
		}
		if err == nil && next-h.off > maxAuditLine+1 {
			h.off, h.pad = next, maxAuditLine+1
			return h.Read(p)
		}
	}
	n, err := h.f.ReadAt(p, h.off)
	h.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}
