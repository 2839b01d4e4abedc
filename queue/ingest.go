package queue

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/capq/capq/internal/fsys"
	"github.com/capq/capq/ulid"
)

// Delivery is what a Handler receives: the decoded envelope and the
// attempt number.
type Delivery struct {
	Envelope
	// Attempt is 1 for the first delivery of a record and counts up with
	// every delivery after a failed or crashed one. A delivery with
	// Attempt > 1 may repeat an earlier one whose effect happened:
	// handlers deduplicate by ULID (spec R16).
	Attempt int
}

// Handler consumes one record. Returning nil acknowledges it, and the
// record is deleted; returning an error leaves it pending (or, with
// IngestOptions.MaxAttempts, eventually dead-letters it). The Delivery's
// bytes stay valid after the handler returns.
type Handler func(ctx context.Context, d Delivery) error

// IngestResult counts what one Ingest call did.
type IngestResult struct {
	Delivered    int // handler succeeded and the record was deleted
	Skipped      int // locked by another consumer, or gone before it could be read
	Quarantined  int // corrupt or unsafe files moved to the quarantine folder
	DeadLettered int // records moved to the dead-letter folder
	Failed       int // handler failures (each stops the drain unless MaxAttempts is set)
}

// Ingest delivers pending records to h, oldest first, until the queue is
// drained or a bound of opts is reached (spec R11 to R15). For each
// record it takes the record's lock without blocking (a record locked by
// another consumer is skipped), reads and decodes the file, calls h, and on
// success deletes the file and then the lock.
//
// Deletes are made durable by a directory fsync every
// Options.DeleteSyncEvery records and at the end of the call: a power cut
// can re-deliver the records delivered since the last such fsync, never
// lose one (at-least-once).
//
// A corrupt or unsafe file is moved to the quarantine folder with an audit
// line, and the drain goes on. A file with another schema_version stops the
// drain with a *SchemaError and is left in place. A handler error stops the
// drain with a *HandlerError that wraps it, leaving the record and its lock
// file (the reference's crash marker); with opts.MaxAttempts set, a record
// that has failed that many times is dead-lettered instead and the drain
// goes on. Cancelling ctx stops the drain before the next record and
// returns ctx's error.
func (q *Queue) Ingest(ctx context.Context, h Handler, opts IngestOptions) (IngestResult, error) {
	var res IngestResult
	if err := q.enter(); err != nil {
		return res, err
	}
	defer q.leave()
	if opts.MaxRecords < 0 {
		return res, nil
	}
	start := time.Now()
	limit := -1
	if opts.MaxRecords > 0 {
		// Records skipped or quarantined do not count, so look a little
		// further than the bound; a second pass picks up the rest.
		limit = opts.MaxRecords * 2
	}
	unsafe := make(map[ulid.ULID]bool)
	ids, err := q.list("ingest", limit, unsafe)
	if err != nil {
		return res, err
	}
	unsynced := 0 // deletes not yet made durable
	syncDeletes := func() error {
		if unsynced == 0 || q.opts.NoSync || mutantOn(mutSkipDirSync) {
			unsynced = 0
			return nil
		}
		unsynced = 0
		if err := q.fs.SyncDir("."); err != nil {
			return opErr("ingest", stepSyncDir, ".", err)
		}
		return nil
	}
	var id [ulid.EncodedSize]byte
	for _, u := range ids {
		if err := ctx.Err(); err != nil {
			return res, errors.Join(err, syncDeletes())
		}
		if q.closing() {
			return res, errors.Join(ErrClosed, syncDeletes())
		}
		if opts.MaxRecords > 0 && res.Delivered >= opts.MaxRecords {
			break
		}
		// The budget is checked only once a record was taken, so that
		// every pass makes progress and repeated passes converge even
		// when listing alone takes longer than the budget.
		taken := res.Delivered + res.Quarantined + res.DeadLettered + res.Failed
		if opts.Budget > 0 && taken > 0 && time.Since(start) >= opts.Budget {
			break
		}
		u.AppendString(id[:0])
		outcome, err := q.ingestOne(ctx, string(id[:]), unsafe[u], h, opts, &res)
		if outcome == outcomeDeleted {
			unsynced++
			if unsynced >= q.opts.DeleteSyncEvery {
				if err := syncDeletes(); err != nil {
					return res, err
				}
			}
		}
		if err != nil {
			return res, errors.Join(err, syncDeletes())
		}
	}
	return res, syncDeletes()
}

type outcome int

const (
	outcomeNone outcome = iota
	outcomeDeleted
)

// ingestOne handles one record under its claim.
func (q *Queue) ingestOne(ctx context.Context, id string, listedUnsafe bool, h Handler, opts IngestOptions, res *IngestResult) (outcome, error) {
	c, err := q.claimRecord("ingest", id)
	if err == errBusy {
		res.Skipped++
		return outcomeNone, nil
	}
	if err != nil {
		if errors.Is(err, ErrUnsafeFile) {
			// A symlink or special file where the lock belongs: move it
			// aside for a human and leave the record for the next pass.
			if qerr := q.quarantine("ingest", lockName(id), "unsafe lock file: "+err.Error()); qerr == nil {
				res.Quarantined++
				res.Skipped++
				return outcomeNone, nil
			}
		}
		return outcomeNone, err
	}
	name := pendingName(id)
	var data []byte
	if listedUnsafe && !q.nowRegular(name) {
		// A symlink, FIFO, socket or device: never opened (opening a
		// device can have effects), only moved aside.
		err = errors.Join(opErr("ingest", stepOpen, name, errors.New("not a regular file")), ErrUnsafeFile)
	} else {
		data, err = q.readPending(name)
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Delivered or dropped by someone else since we listed it.
		c.finish()
		res.Skipped++
		return outcomeNone, nil
	case errors.Is(err, ErrUnsafeFile) || errors.Is(err, ErrCorrupt):
		qerr := q.quarantine("ingest", name, err.Error())
		if qerr != nil {
			c.release(true)
			return outcomeNone, qerr
		}
		c.finish()
		res.Quarantined++
		return outcomeDeleted, nil
	case err != nil:
		c.release(false)
		return outcomeNone, err
	}
	env, err := DecodeEnvelope(name, data)
	if err != nil {
		var se *SchemaError
		if errors.As(err, &se) {
			c.release(false)
			return outcomeNone, err
		}
		if qerr := q.quarantine("ingest", name, err.Error()); qerr != nil {
			c.release(true)
			return outcomeNone, qerr
		}
		c.finish()
		res.Quarantined++
		return outcomeDeleted, nil
	}
	c.recordStart()
	if mutantOn(mutDeleteBeforeHandler) {
		q.fs.Remove(name)
	}
	if mutantOn(mutDropLockEarly) {
		c.f.Flock(fsys.Unlock)
	}
	herr := callHandler(ctx, h, Delivery{Envelope: env, Attempt: c.attempt()}, c)
	if herr != nil {
		res.Failed++
		c.recordFailure(herr)
		if opts.MaxAttempts > 0 && c.attempt() >= opts.MaxAttempts {
			if err := q.deadLetter(c, env, herr); err != nil {
				c.release(true)
				return outcomeNone, err
			}
			res.DeadLettered++
			return outcomeDeleted, nil
		}
		c.release(true)
		if opts.MaxAttempts > 0 {
			return outcomeNone, nil // retried by a later drain
		}
		return outcomeNone, &HandlerError{ULID: env.ULID, Attempt: c.attempt(), Err: herr}
	}
	// Delete the record first, then its lock: a crash in between leaves a
	// lock file without a record, which Recover removes. The other order
	// would leave a record without its crash marker.
	if err := q.fs.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.release(true)
		return outcomeNone, opErr("ingest", stepUnlink, name, err)
	}
	c.finish()
	res.Delivered++
	return outcomeDeleted, nil
}

// callHandler calls h. If h panics, the attempt is recorded as failed and
// the claim released (keeping the lock file as the crash marker) before the
// panic continues to the caller.
func callHandler(ctx context.Context, h Handler, d Delivery, c *claim) error {
	panicking := true
	defer func() {
		if panicking {
			c.recordFailure(errors.New("handler panicked"))
			c.release(true)
		}
	}()
	err := h(ctx, d)
	panicking = false
	return err
}

// readPending reads a pending file for Ingest, Prune or Verify.
func (q *Queue) readPending(name string) ([]byte, error) { return q.readRecord("ingest", name) }

// readRecord reads a record's file through openRegular (no symlink
// followed, no blocking on a FIFO, a regular file required), at most the
// size limit plus one byte: a larger file is corrupt (spec R24). A name
// in a folder that is not a directory reports errNotFolder.
func (q *Queue) readRecord(op, name string) ([]byte, error) {
	f, fi, err := q.openRegular(op, name, os.O_RDONLY)
	if err != nil {
		if strings.Contains(name, "/") && isNotFolder(err) {
			return nil, errors.Join(err, errNotFolder)
		}
		return nil, err
	}
	defer f.Close()
	limit := int64(q.opts.maxFileSize())
	if fi.Size > limit {
		return nil, &CorruptError{Name: name, Reason: "file of " + strconv.FormatInt(fi.Size, 10) + " bytes exceeds the size limit"}
	}
	buf := make([]byte, 0, fi.Size+1)
	data, err := readAllLimit(f, buf, limit+1)
	if err != nil {
		return nil, opErr(op, stepRead, name, err)
	}
	if int64(len(data)) > limit {
		return nil, &CorruptError{Name: name, Reason: "file exceeds the size limit"}
	}
	return data, nil
}

// nowRegular reports whether name is a regular file now (it was not when
// listed, but may have been replaced since).
func (q *Queue) nowRegular(name string) bool {
	fi, err := q.fs.Lstat(name)
	return err == nil && fi.IsRegular()
}

// readAllLimit reads r to EOF into buf, up to limit bytes.
func readAllLimit(r io.Reader, buf []byte, limit int64) ([]byte, error) {
	lr := io.LimitReader(r, limit)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// maxQuarantineCopies bounds the files of one name kept in quarantine.
const maxQuarantineCopies = 1000

// quarantine moves name (a pending or lock file, or anything else in the
// root) into the quarantine folder, fsyncs both directories, and writes an
// audit line. The bytes are never deleted (spec R21).
func (q *Queue) quarantine(op, name, why string) error {
	if err := q.ensureDir(op, QuarantineDir); err != nil {
		return err
	}
	// Never replace an earlier quarantined file of the same name: find a
	// free name, name.1, name.2, ...
	dst := QuarantineDir + "/" + name
	for i := 1; ; i++ {
		_, err := q.fs.Lstat(dst)
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			return opErr(op, stepOpen, dst, err)
		}
		if i > maxQuarantineCopies {
			return opErr(op, stepRename, dst, fs.ErrExist)
		}
		dst = QuarantineDir + "/" + name + "." + itoa(i)
	}
	// The audit line goes first: after a crash it may name a file that was
	// not moved yet (and will be moved again), but a file never moves
	// without a line saying why.
	k, idb := classify([]byte(name))
	e := AuditEntry{TS: q.now(), Reason: ReasonQuarantined, File: dst, Detail: truncate(why, 1024)}
	if k == kindPending || k == kindLock {
		e.ULID = string(idb)
	}
	if err := q.writeAudit(op, []AuditEntry{e}); err != nil {
		return err
	}
	if err := q.fs.Rename(name, dst); err != nil {
		return opErr(op, stepRename, name, err)
	}
	return q.syncDirs(op, QuarantineDir, ".")
}

// ensureDir creates a folder of the queue (mode 0700) if it is missing,
// and refuses one that is a symlink or not a directory.
func (q *Queue) ensureDir(op, dir string) error {
	fi, err := q.fs.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := q.fs.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return opErr(op, stepMkdir, dir, err)
		}
		return q.syncDirs(op, ".")
	}
	if err != nil {
		return opErr(op, stepOpen, dir, err)
	}
	if !fi.Mode.IsDir() {
		return opErr(op, stepOpen, dir, ErrUnsafeFile)
	}
	return nil
}

// syncDirs fsyncs the named folders (unless NoSync).
func (q *Queue) syncDirs(op string, dirs ...string) error {
	if q.opts.NoSync {
		return nil
	}
	for _, d := range dirs {
		if err := q.fs.SyncDir(d); err != nil {
			return opErr(op, stepSyncDir, d, err)
		}
	}
	return nil
}
