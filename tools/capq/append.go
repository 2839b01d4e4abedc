package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/capq/capq/queue"
	"github.com/capq/capq/ulid"
)

// The bounds of one batch of `capq append` (spec R52): at most this many
// records, or this many bytes of records, are appended together.
const (
	appendBatchRecords = 1000
	appendBatchBytes   = 8 << 20
	stdinBufSize       = 64 << 10
)

func appendCmd() *command {
	var record string
	var maxSize int
	return &command{
		name:    "append",
		summary: "append JSON records (one per line on stdin, or --record) and print their ULIDs",
		help: `Each line of stdin is one JSON object; blank lines are skipped. Lines
already waiting on stdin are appended together, as one batch (up to 1,000
records or 8 MiB, and no more than the room left under --max-size), and
each record's ULID is printed on its own line, in input order, as soon as
its batch is durable; a complete line is appended as soon as no more input
is ready, never held back waiting for more (not even for the rest of a
line written half-way).

A bad line (not one JSON object, or a record longer than the size limit,
4 MiB, white space around it aside: such a line is never read into memory
whole) stops the command with its line number and exit status 2; the lines
before it are appended and their ULIDs printed, the lines after it are not
read. If appending fails (a full disk, an I/O error), the command stops with
exit status 1 after printing the ULID of every record of that batch that
was appended, and names each line that was not on stderr. SIGINT, SIGTERM
or SIGHUP stops the reading: the batch in flight finishes, the complete
lines read are appended and their ULIDs printed, no temporary file is left,
and the exit status is 1. The queue directory is created (mode 0700) if it
does not exist. As with any writer, an append that takes the queue past
--max-size prunes the oldest records (each with an audit line), never one
whose ULID is not printed yet; with a negative --max-size the queue is opened without listing it.`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&record, "record", "", "append this one JSON object instead of reading stdin")
			countVar(fs, &maxSize, "max-size", 0, "prune the oldest records above `N` pending (0: the queue's default, 10,000; negative: never)")
		},
		run: func(e *env, fs *flag.FlagSet) error {
			q, err := openQueueOpts(e, true, queue.Options{SkipRecover: true, MaxSize: maxSize})
			if err != nil {
				return err
			}
			defer q.Close()
			a := &appender{e: e, q: q}
			if isFlagSet(fs, "record") {
				// A signal waits for the append to finish: it leaves
				// no tmp file behind.
				sigs := make(chan os.Signal, 1)
				signal.Notify(sigs, stopSignals...)
				defer signal.Stop(sigs)
				a.add(0, []byte(record))
				return a.flush()
			}
			return a.run(e.stdin, q.Options().MaxRecordSize)
		},
	}
}

// appender collects the records of `capq append` into batches.
type appender struct {
	e     *env
	q     *queue.Queue
	recs  [][]byte
	lines []int // input line of each record; 0 for --record
	bytes int
	// chunkSize is the size of one read of stdin; 0: stdinBufSize.
	chunkSize int
}

func (a *appender) add(line int, rec []byte) {
	a.recs = append(a.recs, rec)
	a.lines = append(a.lines, line)
	a.bytes += len(rec)
}

// chunk is one read of stdin: its bytes, then the read's error.
type chunk struct {
	b   []byte
	err error
}

// readChunks reads r into the buffers of free, sending each read on out,
// until a read fails (io.EOF included) or stop is closed. Reading in its
// own goroutine lets run see whether more input is ready without waiting
// for it: a complete line never waits for the next one to end (spec R52).
// Memory stays bounded: only the buffers of free exist.
func readChunks(r io.Reader, free <-chan []byte, out chan<- chunk, stop <-chan struct{}) {
	for {
		var buf []byte
		select {
		case buf = <-free:
		case <-stop:
			return
		}
		n, err := r.Read(buf)
		if n == 0 && err == nil {
			select {
			case <-stop:
				return
			default:
			}
			continue
		}
		select {
		case out <- chunk{buf[:n], err}:
		case <-stop:
			return
		}
		if err != nil {
			return
		}
	}
}

// lineReader splits chunks into lines, keeping at most limit bytes of a
// record (the line without its surrounding white space, spec R4, R52).
type lineReader struct {
	limit   int
	cur     []byte // the line from its first non-space byte, at most limit bytes
	started bool   // a non-space byte was seen on this line
	tooLong bool   // a non-space byte lies more than limit bytes after the first
}

// add takes the next piece of the current line (no '\n' in p).
func (l *lineReader) add(p []byte) {
	if !l.started {
		for len(p) > 0 && isSpaceByte(p[0]) {
			p = p[1:]
		}
		if len(p) == 0 {
			return
		}
		l.started = true
	}
	if l.tooLong {
		return
	}
	room := l.limit - len(l.cur)
	if len(p) <= room {
		l.cur = append(l.cur, p...)
		return
	}
	l.cur = append(l.cur, p[:room]...)
	// The record ends at its last non-space byte: anything past the
	// limit may still be trailing white space (a CRLF, padding).
	for _, c := range p[room:] {
		if !isSpaceByte(c) {
			l.tooLong, l.cur = true, nil
			return
		}
	}
}

// end finishes the current line: its record (nil for a blank line) and
// whether it was too long.
func (l *lineReader) end() (rec []byte, tooLong bool) {
	rec, tooLong = trimSpace(l.cur), l.tooLong
	l.cur, l.started, l.tooLong = nil, false, false
	return rec, tooLong
}

// isSpaceByte reports whether c is JSON white space: what the queue does
// not store around a record, and what the line reader skips and trims
// before it measures a line against the size limit. Intentionally a copy
// of package queue's one-line rule (isSpace): exporting it would add to
// queue's API a name only this reader needs. trimSpace and the line
// reader both use it, so the CLI has the rule in one place.
func isSpaceByte(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// trimSpace returns b without the JSON white space around it.
func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpaceByte(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpaceByte(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// run reads stdin, appending a batch whenever no more input is ready (so a
// complete line waits for nobody, not even for the rest of a partial line
// behind it), the batch is full, or it reaches the room left under
// --max-size (Queue.AppendRoom, spec R18, R19). A signal of stopSignals
// stops the reading: the complete lines read so far are appended and
// printed, and run returns errStopped.
func (a *appender) run(r io.Reader, limit int) error {
	size := a.chunkSize
	if size <= 0 {
		size = stdinBufSize
	}
	const nbuf = 3 // one being parsed, one being read, one ready
	free := make(chan []byte, nbuf)
	for range nbuf {
		free <- make([]byte, size)
	}
	chunks := make(chan chunk, nbuf)
	stop := make(chan struct{})
	defer close(stop)
	go readChunks(r, free, chunks, stop)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, stopSignals...)
	defer signal.Stop(sigs)

	l := lineReader{limit: limit}
	line := 1
	for {
		select {
		case sig := <-sigs: // a signal goes before any more input
			return a.stopped(sig, line)
		default:
		}
		var c chunk
		if len(a.recs) > 0 {
			select {
			case c = <-chunks:
			case sig := <-sigs:
				return a.stopped(sig, line)
			default:
				// Nothing more is ready: what is complete goes now.
				if err := a.flush(); err != nil {
					return err
				}
				continue
			}
		} else {
			select {
			case c = <-chunks:
			case sig := <-sigs:
				return a.stopped(sig, line)
			}
		}
		b := c.b
		for len(b) > 0 {
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				l.add(b)
				break
			}
			l.add(b[:i])
			b = b[i+1:]
			if err := a.endLine(&l, line, limit); err != nil {
				return err
			}
			line++
		}
		free <- c.b[:cap(c.b)]
		switch {
		case c.err == io.EOF:
			// The last line needs no newline.
			if err := a.endLine(&l, line, limit); err != nil {
				return err
			}
			return a.flush()
		case c.err != nil:
			// A line cut short by a read error is not a record.
			if ferr := a.flush(); ferr != nil {
				return ferr
			}
			return failf("read stdin: %v", c.err)
		}
	}
}

// endLine adds the record of the line just ended, flushing the batch when
// it is full.
func (a *appender) endLine(l *lineReader, line, limit int) error {
	rec, tooLong := l.end()
	if tooLong {
		if ferr := a.flush(); ferr != nil {
			return ferr
		}
		return usageErrorf("line %d: %v: a record of more than %d bytes", line, queue.ErrInvalidRecord, limit)
	}
	if len(rec) == 0 {
		return nil
	}
	a.add(line, rec)
	if len(a.recs) >= min(appendBatchRecords, a.q.AppendRoom()) || a.bytes >= appendBatchBytes {
		return a.flush()
	}
	return nil
}

// stopped appends the complete lines read before sig and reports it.
func (a *appender) stopped(sig os.Signal, line int) error {
	if err := a.flush(); err != nil {
		return err
	}
	return failf("stopped by %v before the end of the input: the lines from line %d on were not appended", sig, line)
}

// flush appends the collected records as one batch and prints their
// ULIDs in order.
func (a *appender) flush() error {
	recs, lines := a.recs, a.lines
	a.recs, a.lines, a.bytes = a.recs[:0], a.lines[:0], 0
	if len(recs) == 0 {
		return nil
	}
	ids, err := a.q.AppendBatch(recs)
	var re *queue.DataError
	if errors.As(err, &re) {
		// Nothing of the batch was written: append the lines before
		// the bad one, then report it.
		bad := re.Index
		if bad > 0 {
			a.recs, a.lines = recs[:bad], lines[:bad]
			if err := a.flush(); err != nil {
				return err
			}
		}
		return usageErrorf("%s%w", where(lines[bad]), err)
	}
	for _, id := range ids {
		if id == (ulid.ULID{}) {
			continue
		}
		if _, werr := fmt.Fprintln(a.e.stdout, id); werr != nil {
			return failf("write stdout: %v", werr)
		}
	}
	var be *queue.BatchError
	if errors.As(err, &be) {
		first := -1
		for i, berr := range be.Errs {
			switch {
			case berr == nil:
			case first < 0:
				first = i
			default:
				fmt.Fprintf(a.e.stderr, "capq: %snot appended: %v\n", where(lines[i]), berr)
			}
		}
		return failf("%s%w", where(lines[first]), be.Errs[first])
	}
	if err != nil {
		return failf("%s%w", where(lines[0]), err)
	}
	return nil
}

func where(line int) string {
	if line <= 0 {
		return ""
	}
	return fmt.Sprintf("line %d: ", line)
}
