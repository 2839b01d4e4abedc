package queue

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/capq/capq/internal/fsys"
)

// A claim is this process's hold on one record: the record's lock file,
// open and flock'ed, exactly as the reference takes it (spec R11), so a
// Go and a Python consumer never deliver one record twice.
type claim struct {
	q     *Queue
	id    string // the record's ULID
	lock  string // lock file name
	f     fsys.File
	fresh bool // this claim created the lock file
	prior int  // attempts made before this claim, from the lock file
	hist  []byte

	// How end leaves the lock file: removed when the record is gone;
	// kept when an attempt was made (it records the attempt); otherwise
	// removed only if this claim created it.
	gone, keep bool
	ended      bool
	spare      bool // the lock file was a spare file (R32)
}

var errNotRegular = errors.New("not a regular file")

// errBusy means another consumer holds the record's lock.
var errBusy = errors.New("capq: record is being handled by another consumer")

// maxHistory bounds what is read of a lock file's attempt history.
const maxHistory = 256 << 10

// claimRecord takes the lock of record id without blocking. It returns
// errBusy when another holder has it.
//
// The lock file is created already locked (fsys.FS.CreateLocked: O_TMPFILE,
// flock, linkat), so no other consumer can ever find a capq lock file
// unlocked while its creator is about to lock it. When the creation
// succeeds, nobody has tried this record before, and the attempt count is 0
// without reading anything. An existing lock file means an earlier attempt
// that failed or crashed (the reference leaves it behind for that purpose);
// its content, if capq wrote it, is the attempt history.
//
// After taking the flock, the claim checks that the lock file's name still
// refers to the inode it locked. Without that check a consumer that opened
// a lock file just before another unlinked it could hold a lock on a dead
// inode while a third consumer locks a new file of the same name.
func (q *Queue) claimRecord(op, id string) (*claim, error) {
	c := &claim{q: q, id: id, lock: lockName(id)}
	for try := 0; ; try++ {
		f, err := q.fs.CreateLocked(c.lock, 0o600)
		if err != nil && isNoSpace(err) {
			// No inode or block for a new file: use a spare (R32), so
			// that draining and pruning can always free space.
			f, err = q.lockFromSpare(c.lock, err)
			c.spare = err == nil
		}
		c.fresh = err == nil
		if c.fresh {
			c.f = f
			return c, nil
		}
		if isBusy(err) {
			return nil, errBusy
		}
		if errors.Is(err, fs.ErrExist) {
			// An existing lock file: make sure it is a regular file
			// before opening it, as opening a device can have effects.
			fi, lerr := q.fs.Lstat(c.lock)
			switch {
			case errors.Is(lerr, fs.ErrNotExist) && try < 3:
				continue // unlinked meanwhile: try again
			case lerr == nil && !fi.IsRegular():
				return nil, opErr(op, stepLock, c.lock, errors.Join(errNotRegular, ErrUnsafeFile))
			}
			// O_APPEND: history lines always go at the end, wherever
			// reading it stopped.
			f, err = q.fs.OpenFile(c.lock, os.O_RDWR|os.O_APPEND|fsys.ONonblock, 0)
			if errors.Is(err, fs.ErrNotExist) && try < 3 {
				continue // unlinked between our two calls: try again
			}
		}
		if err != nil {
			return nil, opErr(op, stepLock, c.lock, unsafeErr(err))
		}
		if err := f.Flock(fsys.LockExclusive | fsys.LockNonBlocking); err != nil {
			f.Close()
			if isBusy(err) {
				return nil, errBusy
			}
			return nil, opErr(op, stepLock, c.lock, err)
		}
		// From here on we hold the lock: a failure removes a lock file
		// this claim created, so that it does not count as an attempt.
		abandon := func(err error) (*claim, error) {
			if c.fresh {
				q.fs.Remove(c.lock)
			}
			f.Close()
			return nil, opErr(op, stepLock, c.lock, err)
		}
		held, err := f.Stat()
		if err != nil {
			return abandon(err)
		}
		if !held.IsRegular() {
			return abandon(ErrUnsafeFile)
		}
		if held.Nlink > 1 && q.dropLockTmpLinks(c.lock, held.Ino) {
			// A lock creation that died between its link and its
			// unlink (the portable CreateLocked, spec R45) left the
			// temporary name; it is gone now.
			if held, err = f.Stat(); err != nil {
				return abandon(err)
			}
		}
		if held.Nlink > 1 {
			// A hard link from outside: the history lines would be
			// written outside the queue (spec R31).
			return abandon(errors.Join(errHardLinked, ErrUnsafeFile))
		}
		cur, err := q.fs.Lstat(c.lock)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return abandon(err)
		}
		if err != nil || cur.Ino != held.Ino {
			// The name moved on while we locked a dead inode: it is
			// not ours to remove.
			f.Close()
			if try < 3 {
				continue
			}
			return nil, errBusy
		}
		c.f = f
		if !c.fresh && held.Size > 0 {
			if c.hist, c.prior, err = readHistory(f, held.Size); err != nil {
				// Guessing would understate the attempts.
				f.Close()
				return nil, opErr(op, stepRead, c.lock, err)
			}
		}
		if !c.fresh && c.prior == 0 {
			// An empty lock file left behind: one attempt was made
			// (by a consumer that crashed, or by the reference,
			// which records nothing).
			c.prior = 1
		}
		c.compact()
		return c, nil
	}
}

// historyLine is one line of a lock file's attempt history.
type historyLine struct {
	Attempt  json.Number `json:"attempt"`
	Started  string      `json:"started,omitempty"`
	Failed   string      `json:"failed,omitempty"`
	Error    string      `json:"error,omitempty"`
	Released string      `json:"released,omitempty"` // attempt n never ran: not charged (R34)
	// Compacted is set on the line that sums up a compacted history: the
	// attempts before it were made, their lines are gone (R35).
	Compacted bool `json:"compacted,omitempty"`
}

// maxAttempt is where attempt counts saturate (spec R35): a history that
// records a larger number, up to and beyond what an int holds, counts as
// this many, so that attempt() never overflows and every MaxAttempts is
// reached.
const maxAttempt = 1<<31 - 1

// historyCompactAt is the history size past which a claim compacts it to
// one summary line (spec R35), keeping lock files small and every count
// within the bounded read.
const historyCompactAt = 64 << 10

// parseAttempt reads an attempt number, saturating at maxAttempt; it
// reports false for a line without a positive integer.
func parseAttempt(n json.Number) (int, bool) {
	s := string(n)
	if s == "" || s[0] == '-' || strings.ContainsAny(s, ".eE") {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange) || err == nil && v > maxAttempt:
		return maxAttempt, true
	case err != nil || v == 0:
		return 0, false
	}
	return int(v), true
}

// readHistory reads a lock file's attempt history and returns it with the
// number of attempts it records: the highest attempt number, except that a
// "released" line for that number (an attempt that never ran) takes it
// back by one. Lines that do not parse, such as a line torn by a crash,
// are ignored. A history larger than maxHistory (not written by capq, or
// not compacted) is read from its last maxHistory bytes: the attempt
// numbers grow line by line, so the highest is at the end.
func readHistory(f fsys.File, size int64) ([]byte, int, error) {
	var data []byte
	var err error
	if size <= maxHistory {
		data, err = io.ReadAll(io.LimitReader(f, maxHistory))
	} else {
		data = make([]byte, maxHistory)
		var n int
		n, err = f.ReadAt(data, size-maxHistory)
		data = data[:n]
		if err == io.EOF {
			err = nil
		}
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:] // a partial first line
		}
	}
	if err != nil {
		return nil, 0, err
	}
	prior := 0
	for line := range bytes.Lines(data) {
		var h historyLine
		if json.Unmarshal(line, &h) != nil {
			continue
		}
		a, ok := parseAttempt(h.Attempt)
		switch {
		case !ok:
		case h.Released != "":
			if a == prior {
				prior = a - 1
			}
		case a > prior:
			prior = a
		}
	}
	return data, prior, nil
}

// attempt is the number of this delivery: 1 for the first. It saturates
// at maxAttempt.
func (c *claim) attempt() int { return min(c.prior, maxAttempt-1) + 1 }

// recordStart notes in the lock file that attempt n is starting. A first
// attempt writes nothing: an empty lock file already says "one attempt,
// maybe crashed", which keeps the common path free of extra writes.
//
// History lines are not fsynced: the count survives the crash of a
// process, and after a power cut it may be lower than the truth, never
// higher (spec R16).
func (c *claim) recordStart() {
	if c.prior == 0 {
		return
	}
	c.appendHistory(historyLine{Attempt: attemptNumber(c.attempt()), Started: c.q.now()})
}

// unrecordStart takes back the attempt recordStart charged, for a delivery
// whose handler never ran (spec R34): a first attempt's lock file, created
// by this claim, is removed by end; a later one gets a "released" line.
func (c *claim) unrecordStart() {
	if c.prior == 0 {
		c.keep = false
		return
	}
	c.appendHistory(historyLine{Attempt: attemptNumber(c.attempt()), Released: c.q.now()})
}

// recordFailure notes in the lock file that the current attempt failed.
func (c *claim) recordFailure(herr error) {
	msg := "<nil>"
	if herr != nil {
		msg = truncate(herr.Error(), 1024)
	}
	c.appendHistory(historyLine{Attempt: attemptNumber(c.attempt()), Failed: c.q.now(), Error: msg})
}

func attemptNumber(n int) json.Number { return json.Number(strconv.Itoa(n)) }

// compact replaces a history past historyCompactAt by one summary line
// holding the count, when the lock file can be truncated (spec R35). The
// claim holds the lock, so no capq writer is appending; the reference never
// writes into lock files. A process crash between the truncation and the
// write leaves an empty lock file, which counts as one attempt: the count
// can then be too low (R28), never too high.
func (c *claim) compact() {
	t, ok := c.f.(fsys.Truncater)
	if !ok || len(c.hist) < historyCompactAt {
		return
	}
	line, _ := json.Marshal(historyLine{Attempt: attemptNumber(c.prior), Compacted: true})
	line = append(line, '\n')
	if c.prior == 0 || t.Truncate(0) != nil {
		return
	}
	if n, err := c.f.Write(line); err == nil && n == len(line) {
		c.hist = line
	} else {
		c.hist = nil
	}
}

func (c *claim) appendHistory(h historyLine) {
	line, _ := json.Marshal(h)
	line = append(line, '\n')
	if len(c.hist) > 0 && c.hist[len(c.hist)-1] != '\n' {
		line = append([]byte{'\n'}, line...) // after a torn line
	}
	if _, err := c.f.Write(line); err == nil {
		c.hist = append(c.hist, line...)
	}
}

// history returns the attempt history as JSON Lines.
func (c *claim) history() []byte { return c.hist }

// end ends the claim, in one step whatever the way out: the lock file is
// unlinked while still held when the record is gone (delivered, dropped or
// moved), kept when an attempt was made (the reference's crash marker,
// with the history), and otherwise unlinked only if this claim created it
// (so that a claim that made no attempt does not count as one). Then the
// lock is closed. Errors of these clean-up steps are returned, for the
// caller to report. A second call does nothing.
func (c *claim) end() error {
	if c.ended {
		return nil
	}
	c.ended = true
	var err error
	if c.gone {
		if rerr := c.q.fs.Remove(c.lock); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = opErr("claim", stepUnlink, c.lock, rerr)
		}
	}
	if cerr := c.f.Close(); cerr != nil {
		err = errors.Join(err, opErr("claim", stepClose, c.lock, cerr))
	}
	if !c.gone && !c.keep && c.fresh {
		// The record is still pending, so its lock name must not go
		// while anyone else holds the lock: a handler's child that
		// inherited a copy of the descriptor (Delivery.LockFile) may
		// still be working on the record after capq let go, and a new
		// lock file at the same name would let a second consumer take
		// the record meanwhile (spec R39). Hence: close first, then
		// unlink only a lock we can take again at once.
		err = errors.Join(err, c.q.removeUnheldLock(c.lock))
	}
	if c.spare {
		// The spare's inode may be free again: restore the reserve.
		c.q.ensureSpares()
	}
	return err
}

// removeUnheldLock unlinks the lock file name if nobody holds its lock: it
// opens the name again, takes the flock without blocking and checks that
// the name still refers to the inode it locked before unlinking it. A lock
// another process holds (a handler's child with an inherited descriptor)
// is left in place: the next claim finds it busy, and once it is free
// counts it as one attempt, which the handler that started did make.
func (q *Queue) removeUnheldLock(name string) error {
	const unheldTries, unheldWait = 20, 5 * time.Millisecond
	f, err := q.fs.OpenFile(name, os.O_RDONLY|fsys.ONonblock, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return opErr("claim", stepUnlink, name, err)
	}
	defer f.Close()
	for try := 0; ; try++ {
		err := f.Flock(fsys.LockExclusive | fsys.LockNonBlocking)
		if err == nil {
			break
		}
		if !isBusy(err) {
			return opErr("claim", stepUnlink, name, err)
		}
		if try == unheldTries {
			return nil // still held: not ours to remove
		}
		// A handler's process group just SIGKILLed releases its
		// copies as its processes exit, within milliseconds: wait a
		// little for those, not for a process that lives on.
		time.Sleep(unheldWait)
	}
	held, err := f.Stat()
	if err != nil {
		return opErr("claim", stepUnlink, name, err)
	}
	cur, err := q.fs.Lstat(name)
	if err != nil || cur.Ino != held.Ino || !cur.IsRegular() {
		return nil // replaced meanwhile: someone else's lock file
	}
	if err := q.fs.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return opErr("claim", stepUnlink, name, err)
	}
	return nil
}

// release ends the claim keeping the lock file (keepFile) or removing it
// if this claim created it.
func (c *claim) release(keepFile bool) error {
	c.keep = keepFile
	return c.end()
}

// finish ends a claim whose record is gone: the lock file is unlinked
// while still held, then closed.
func (c *claim) finish() error {
	c.gone = true
	return c.end()
}

func itoa(n int) string { return strconv.Itoa(n) }
