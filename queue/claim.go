package queue

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"strconv"
	"syscall"

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
			f, err = q.fs.OpenFile(c.lock, os.O_RDWR|os.O_APPEND|syscall.O_NONBLOCK, 0)
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
			if c.hist, c.prior, err = readHistory(f); err != nil {
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
		return c, nil
	}
}

// historyLine is one line of a lock file's attempt history.
type historyLine struct {
	Attempt int    `json:"attempt"`
	Started string `json:"started,omitempty"`
	Failed  string `json:"failed,omitempty"`
	Error   string `json:"error,omitempty"`
}

// readHistory reads a lock file's attempt history (at most maxHistory
// bytes) and returns it with the highest attempt number it records. Lines
// that do not parse, such as a line torn by a crash, are ignored.
func readHistory(f fsys.File) ([]byte, int, error) {
	data, err := io.ReadAll(io.LimitReader(f, maxHistory))
	if err != nil {
		return nil, 0, err
	}
	prior := 0
	for line := range bytes.Lines(data) {
		var h historyLine
		if json.Unmarshal(line, &h) == nil && h.Attempt > prior {
			prior = h.Attempt
		}
	}
	return data, prior, nil
}

// attempt is the number of this delivery: 1 for the first.
func (c *claim) attempt() int { return c.prior + 1 }

// recordStart notes in the lock file that attempt n is starting. A first
// attempt writes nothing: an empty lock file already says "one attempt,
// maybe crashed", which keeps the common path free of extra writes.
//
// History lines are not fsynced: the count survives the crash of a
// process, and after a power cut it may be lower than the truth, never
// higher (spec R16).
func (c *claim) recordStart() {
	if c.prior == 0 || len(c.hist) >= maxHistory {
		return
	}
	c.appendHistory(historyLine{Attempt: c.attempt(), Started: c.q.now()})
}

// recordFailure notes in the lock file that the current attempt failed.
func (c *claim) recordFailure(herr error) {
	if len(c.hist) >= maxHistory {
		return
	}
	msg := "<nil>"
	if herr != nil {
		msg = truncate(herr.Error(), 1024)
	}
	c.appendHistory(historyLine{Attempt: c.attempt(), Failed: c.q.now(), Error: msg})
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

// release ends the claim and keeps the lock file (it records the attempt,
// as the reference's crash marker does), or removes it when this claim
// created it and made no attempt.
func (c *claim) release(keepFile bool) {
	if !keepFile && c.fresh {
		c.q.fs.Remove(c.lock)
	}
	c.f.Close()
}

// finish ends a claim whose record is gone (delivered, dropped or moved):
// the lock file is unlinked while still held, then closed.
func (c *claim) finish() {
	c.q.fs.Remove(c.lock)
	c.f.Close()
}

func itoa(n int) string { return strconv.Itoa(n) }
