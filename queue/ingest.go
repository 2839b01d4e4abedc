package queue

import (
	"context"
	"errors"
	"fmt"
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

	// lock is the claim's lock file, for LockFile.
	lock fsys.File
}

// Handler consumes one record. Returning nil acknowledges it, and the
// record is deleted; returning an error leaves it pending (or, with
// IngestOptions.MaxAttempts, eventually dead-letters it); returning an
// error wrapping ErrNotHandlerFault releases it without using an attempt
// (spec R34). The Delivery's bytes stay valid after the handler returns.
//
// A handler may call the queue (Append, Count, Stats, ...), but not Close:
// Close waits for the Ingest that runs the handler (spec R37).
//
// A handler that panics uses the attempt, like one that returns an error:
// the failure is written to the record's lock file, which stays as the
// crash marker, the record stays pending (its next delivery's Attempt is
// one more), the claim is released and Ingest ends, and the panic goes on
// to Ingest's caller. The queue stays usable; Close works (spec R12).
// With IngestOptions.MaxAttempts, a record is dead-lettered only after a
// returned failure, so one whose last attempt ended in a panic is
// delivered once more rather than lost.
type Handler func(ctx context.Context, d Delivery) error

// Result counts what one Ingest or Prune call did to the records it went
// through, oldest first. Both skip records locked by a consumer, quarantine
// corrupt and unsafe files, and leave in place a record they cannot handle;
// Ingest delivers, fails and dead-letters, Prune drops. The counters of what
// a call does not do stay zero.
type Result struct {
	Delivered    int // Ingest: the handler succeeded and the record was deleted
	Dropped      int // Prune: records deleted, each with an audit line
	Skipped      int // locked by another consumer, or gone before it could be read
	Quarantined  int // corrupt or unsafe files moved to the quarantine folder, never deleted
	DeadLettered int // Ingest: records moved to the dead-letter folder
	Failed       int // Ingest: handler failures (each stops the drain unless MaxAttempts is set)
	// Left counts records left in place because of a problem with that
	// record (unreadable, its lock file unusable), with the side path it
	// needed (quarantine or dead letters off), or because its handler
	// returned an error wrapping ErrNotHandlerFault (released without using
	// an attempt, spec R34): each is listed in Problems, and the call
	// went on (spec R33).
	Left int
	// Problems lists what the call went past (at most 64): records left,
	// side paths switched off, clean-up steps that failed.
	Problems []Problem
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
// line, and the drain goes on. A record that cannot be read or locked, or
// whose side path (quarantine, dead letters) is broken, is left in place,
// counted in Result.Left and listed in Result.Problems, and the
// drain goes on; a broken side path is off for the rest of the call (spec
// R33). A file with another schema_version stops the
// drain with a *DataError wrapping ErrSchemaVersion and is left in place. A handler error stops the
// drain with a *HandlerError that wraps it, leaving the record and its lock
// file (the reference's crash marker); with opts.MaxAttempts set, a record
// that has failed that many times is dead-lettered instead and the drain
// goes on. Cancelling ctx stops the drain before the next record and
// returns ctx's error. A panic of h propagates (see Handler).
//
// A nil h is refused with an error wrapping ErrInvalidOptions before
// anything is listed or claimed (on a closed queue, ErrClosed comes first).
func (q *Queue) Ingest(ctx context.Context, h Handler, opts IngestOptions) (Result, error) {
	var res Result
	// Closed first: every method of a closed, zero or nil Queue returns
	// ErrClosed, whatever its arguments.
	if err := q.enter(); err != nil {
		return res, err
	}
	defer q.leave()
	if h == nil {
		// Refused up front: calling it would panic after the claim, and
		// each such call would use one of the record's attempts.
		return res, fmt.Errorf("%w: Ingest with a nil Handler", ErrInvalidOptions)
	}
	start := time.Now()
	limit := -1
	if opts.MaxRecords > 0 {
		// Records skipped or quarantined do not count, so look a little
		// further than the bound; a second pass picks up the rest.
		limit = opts.MaxRecords * 2
	}
	q.ensureSpares()
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
	d := &drain{res: &res, opts: opts,
		quarantine:  sidePath{what: "quarantine", stays: staysCorrupt, call: "drain"},
		deadLetters: sidePath{what: "dead-letter folder", stays: "failed records stay pending", call: "drain"},
	}
	var id [ulid.EncodedSize]byte
	for _, u := range ids {
		if err := ctx.Err(); err != nil {
			return res, errors.Join(err, syncDeletes())
		}
		if q.closing() {
			return res, errors.Join(ErrClosed, syncDeletes())
		}
		// MaxRecords bounds the handler's work: every call counts,
		// whether it succeeded, failed or returned ErrNotHandlerFault
		// (spec R13). Counting only successes let failing handlers run
		// twice the bound (the listing window).
		if opts.MaxRecords > 0 && d.calls >= opts.MaxRecords {
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
		outcome, err := q.ingestOne(ctx, string(id[:]), unsafe[u], h, d)
		if outcome == outcomeDeleted {
			unsynced++
			if every := q.opts.DeleteSyncEvery; every > 0 && unsynced >= every {
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

// drain is the state of one Ingest call that outlives a record: the result
// and the side paths (quarantine, dead letters) found broken, which stay
// off for the rest of the call (spec R33).
type drain struct {
	res         *Result
	opts        IngestOptions
	quarantine  sidePath // the quarantine folder, off after its first failure
	deadLetters sidePath // the dead-letter folder, likewise
	calls       int      // handler calls so far, which MaxRecords bounds
}

// staysCorrupt is what a switched-off quarantine leaves in place.
const staysCorrupt = "corrupt or unsafe files stay in place"

// sidePath is a side folder (the quarantine, the dead letters) that one
// call stops using after its first failure (spec R33): one warning to the
// logger, and every file met afterwards is left with an error that names
// the file whose failure switched it off, rather than repeating that
// failure as if it were its own. Ingest and Prune share this rule.
type sidePath struct {
	what, stays string // "quarantine" and what stays where it is, for the warning
	call        string // "drain" or "prune"
	err         error  // why the side path is off, or nil
	name        string // the file it failed on
}

// off reports whether the side path was switched off.
func (p *sidePath) off() bool { return p.err != nil }

// fail switches the side path off for the rest of the call: err happened
// on name.
func (p *sidePath) fail(q *Queue, name string, err error) {
	p.err, p.name = err, name
	q.opts.Logger.Warn("capq: "+p.what+" disabled for this "+p.call+"; "+p.stays, "dir", q.dir, "err", err)
}

// skipped is the error of a file not moved because the side path is off.
func (p *sidePath) skipped() error {
	return fmt.Errorf("skipped, the %s was switched off by the failure on %s earlier in this %s: %w", p.what, p.name, p.call, p.err)
}

// leave reports a record left in place because of err, and goes on.
func (d *drain) leave(name string, err error) {
	d.res.Left++
	addProblem(&d.res.Problems, name, err)
}

// ingestOne handles one record under its claim. Every way out ends the
// claim in one deferred step (claim.end): the lock file goes when the
// record is gone, stays when an attempt was made, and otherwise goes if
// this claim created it. Errors of that clean-up are reported as
// problems, never dropped.
func (q *Queue) ingestOne(ctx context.Context, id string, listedUnsafe bool, h Handler, d *drain) (out outcome, err error) {
	res := d.res
	c, err := q.claimRecord("ingest", id)
	if err == errBusy {
		res.Skipped++
		return outcomeNone, nil
	}
	if err != nil {
		return outcomeNone, q.claimFailed(d, id, err)
	}
	defer func() {
		if cerr := c.end(); cerr != nil {
			addProblem(&res.Problems, c.lock, cerr)
		}
	}()
	name := pendingName(id)
	var data []byte
	if listedUnsafe && !q.nowRegular(name) {
		// A symlink, FIFO, socket or device: never opened (opening a
		// device can have effects), only moved aside.
		err = errors.Join(opErr("ingest", stepOpen, name, errNotRegularFile), ErrUnsafeFile)
	} else {
		data, err = q.readPending(name)
	}
	var env Envelope
	if err == nil {
		env, err = decodeFile(name, data)
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Delivered or dropped by someone else since we listed it.
		c.gone = true
		res.Skipped++
		return outcomeNone, nil
	case errors.Is(err, ErrSchemaVersion):
		return outcomeNone, err // R14: stop, leave it for a newer consumer
	case errors.Is(err, ErrUnsafeFile) || errors.Is(err, ErrCorrupt):
		if q.setAside(d, name, err) {
			c.gone = true
			res.Quarantined++
			return outcomeDeleted, nil
		}
		return outcomeNone, nil
	case err != nil:
		// Unreadable (EACCES, EPERM, EIO): this record's problem, not the
		// drain's. It stays where it is and the drain goes on.
		d.leave(name, err)
		return outcomeNone, nil
	}
	c.recordStart()
	if mutantOn(mutDeleteBeforeHandler) {
		q.fs.Remove(name)
	}
	if mutantOn(mutDropLockEarly) {
		c.f.Flock(fsys.Unlock)
	}
	c.keep = true // from here on an attempt is made: the lock file records it
	attempt := c.attempt()
	d.calls++
	herr := callHandler(ctx, h, Delivery{Envelope: env, Attempt: attempt, lock: c.f}, c)
	if herr != nil {
		if errors.Is(herr, ErrNotHandlerFault) {
			// Not the handler's fault (it never ran): no attempt is
			// charged, and the drain goes on (spec R34).
			c.unrecordStart()
			res.Left++
			// Typed like every Problem.Err, naming the record and the
			// delivery; it unwraps to the handler's error.
			addProblem(&res.Problems, name, &HandlerError{ULID: env.ULID, Attempt: attempt, Err: herr})
			return outcomeNone, nil
		}
		res.Failed++
		c.recordFailure(herr)
		// Attempts saturate at maxAttempt (spec R35), so a larger limit is
		// reached there: otherwise a 64-bit build would retry forever where
		// a 32-bit one, whose int cannot hold more, dead-letters (R48).
		if d.opts.MaxAttempts > 0 && c.attempt() >= min(d.opts.MaxAttempts, maxAttempt) {
			if q.deadLetterOrLeave(d, c, env, herr) {
				res.DeadLettered++
				return outcomeDeleted, nil
			}
			return outcomeNone, nil
		}
		if d.opts.MaxAttempts > 0 {
			return outcomeNone, nil // retried by a later drain
		}
		return outcomeNone, &HandlerError{ULID: env.ULID, Attempt: c.attempt(), Err: herr}
	}
	// Delete the record first, then its lock: a crash in between leaves a
	// lock file without a record, which Recover removes. The other order
	// would leave a record without its crash marker.
	if err := q.fs.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return outcomeNone, opErr("ingest", stepUnlink, name, err)
	}
	c.gone = true
	res.Delivered++
	return outcomeDeleted, nil
}

// claimFailed handles a claim that failed for another reason than a busy
// lock: a symlink or special file at the lock's name is quarantined (the
// record stays for the next pass); anything else (EACCES, an unreadable
// history, no space for a lock file) leaves the record where it is with a
// problem, and the drain goes on (spec R33).
func (q *Queue) claimFailed(d *drain, id string, err error) error {
	lock := lockName(id)
	if errors.Is(err, ErrUnsafeFile) && q.setAside(d, lock, err) {
		d.res.Quarantined++
		d.res.Skipped++
		return nil
	}
	if !errors.Is(err, ErrUnsafeFile) {
		d.leave(lock, err)
	}
	return nil
}

// setAside quarantines name for the drain d, unless the quarantine side
// path is off. When the move fails, the side path is switched off for the
// rest of the drain with one warning, and the file stays where it is,
// reported as a problem: nothing is deleted (spec R33).
func (q *Queue) setAside(d *drain, name string, why error) bool {
	if d.quarantine.off() {
		d.leave(name, errors.Join(why, fmt.Errorf("not quarantined: %w", d.quarantine.skipped())))
		return false
	}
	err := q.quarantine("ingest", name, why.Error())
	if err == nil {
		return true
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false // the file went away meanwhile
	}
	d.quarantine.fail(q, name, err)
	d.leave(name, errors.Join(why, fmt.Errorf("not quarantined: %w", err)))
	return false
}

// deadLetterOrLeave moves a record whose attempts are used up to the
// dead-letter folder, unless that side path is off. When the move fails,
// the side path is switched off for the rest of the drain with one
// warning; the record stays pending with its lock file and history, is
// reported as a problem, and is moved by a later drain after its next
// failure (spec R33).
func (q *Queue) deadLetterOrLeave(d *drain, c *claim, env Envelope, herr error) bool {
	if d.deadLetters.off() {
		d.leave(pendingName(c.id), fmt.Errorf("attempts used up, not dead-lettered: %w", d.deadLetters.skipped()))
		return false
	}
	err := q.deadLetter(c, env, herr)
	if err == nil {
		return true
	}
	if c.gone {
		// Moved; only a later step (a folder fsync) failed.
		addProblem(&d.res.Problems, deadLetterDir+"/"+pendingName(c.id), err)
		return true
	}
	d.deadLetters.fail(q, pendingName(c.id), err)
	d.leave(pendingName(c.id), fmt.Errorf("attempts used up, not dead-lettered: %w", err))
	return false
}

// callHandler calls h. If h panics, the attempt is recorded as failed
// before the panic continues to the caller (whose deferred claim.end
// releases the claim, keeping the lock file as the crash marker).
func callHandler(ctx context.Context, h Handler, d Delivery, c *claim) error {
	panicking := true
	defer func() {
		if panicking {
			c.recordFailure(errors.New("handler panicked"))
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
// size limit plus one byte: a larger file is corrupt (spec R24), and its
// error, a *DataError wrapping ErrCorrupt and ErrReadLimit, comes with the
// file's first limit bytes (R29: cut at the bound, never silently). A
// name in a folder that is not a directory reports errNotFolder.
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
	// The stat bounds the buffer to the file's size; the read is bounded
	// by the limit whatever the size says (the file may grow meanwhile).
	buf := make([]byte, 0, min(fi.Size, limit)+1)
	data, err := readAllLimit(f, buf, limit+1)
	if err != nil {
		return nil, opErr(op, stepRead, name, err)
	}
	if int64(len(data)) > limit {
		e := corruptError(name, "file of "+strconv.FormatInt(max(fi.Size, limit+1), 10)+" bytes exceeds the size limit of "+strconv.FormatInt(limit, 10)+" bytes")
		e.why = ErrReadLimit
		return data[:limit], e
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
	if err := q.ensureDir(op, quarantineDir); err != nil {
		return err
	}
	// Never replace an earlier quarantined file of the same name: find a
	// free name, name.1, name.2, ...
	dst := quarantineDir + "/" + name
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
		dst = quarantineDir + "/" + name + "." + itoa(i)
	}
	// The audit line goes first: after a crash it may name a file that was
	// not moved yet (and will be moved again), but a file never moves
	// without a line saying why. A move that fails takes its line back
	// (writeAuditThen), so no line stays for a move that never happened.
	k, idb := classify([]byte(name))
	e := AuditEntry{TS: q.now(), Reason: ReasonQuarantined, File: dst, Detail: truncate(why, 1024)}
	if k == kindPending || k == kindLock {
		e.ULID = string(idb)
	}
	var rerr error
	if err := q.writeAuditThen(op, []AuditEntry{e}, func() int {
		if err := q.moveNoReplace(name, dst); err != nil {
			rerr = opErr(op, stepRename, name, err)
			return 0
		}
		return 1
	}); err != nil || rerr != nil {
		return errors.Join(rerr, err)
	}
	return q.syncDirs(op, quarantineDir, ".")
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
