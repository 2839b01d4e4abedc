package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"

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
records or 8 MiB), and each record's ULID is printed on its own line, in
input order, as soon as its batch is durable; a line that arrives alone is
appended at once, never held back waiting for more.

A bad line (not one JSON object, or longer than the record size limit,
4 MiB: such a line is never read into memory whole) stops the command with
its line number and exit status 2; the lines before it are appended and
their ULIDs printed, the lines after it are not read. If appending fails
(a full disk, an I/O error), the command stops with exit status 1 after
printing the ULID of every record of that batch that was appended, and
names each line that was not on stderr. The queue directory is created
(mode 0700) if it does not exist. As with any writer, an append that takes
the queue past --max-size prunes the oldest records (each with an audit
line); with a negative --max-size the queue is opened without listing it.`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&record, "record", "", "append this one JSON object instead of reading stdin")
			fs.IntVar(&maxSize, "max-size", queue.DefaultMaxSize, "prune the oldest records above `N` pending (negative: never)")
		},
		run: func(e *env, fs *flag.FlagSet) error {
			if maxSize == 0 {
				return usageErrorf("usage: --max-size must not be 0")
			}
			q, err := openQueueOpts(e, true, queue.Options{SkipRecover: true, MaxSize: maxSize})
			if err != nil {
				return err
			}
			defer q.Close()
			a := &appender{e: e, q: q}
			if isFlagSet(fs, "record") {
				a.add(0, []byte(record))
				return a.flush()
			}
			return a.run(bufio.NewReaderSize(e.stdin, stdinBufSize), queue.DefaultMaxRecordSize)
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
}

func (a *appender) add(line int, rec []byte) {
	a.recs = append(a.recs, rec)
	a.lines = append(a.lines, line)
	a.bytes += len(rec)
}

// run reads stdin line by line, appending a batch whenever no more input
// is buffered (so a lone line waits for nobody) or the batch is full.
func (a *appender) run(r *bufio.Reader, limit int) error {
	for line := 1; ; line++ {
		b, n, err := readLine(r, limit)
		if n > limit {
			if ferr := a.flush(); ferr != nil {
				return ferr
			}
			return usageErrorf("line %d: %v: a line of more than %d bytes", line, queue.ErrRecordTooLarge, limit)
		}
		// A line cut short by a read error (not the end of the input) is
		// not a record.
		if len(trimSpace(b)) > 0 && (err == nil || err == io.EOF) {
			a.add(line, b)
		}
		if err != nil {
			if ferr := a.flush(); ferr != nil {
				return ferr
			}
			if err == io.EOF {
				return nil
			}
			return failf("read stdin: %v", err)
		}
		if r.Buffered() == 0 || len(a.recs) >= appendBatchRecords || a.bytes >= appendBatchBytes {
			if err := a.flush(); err != nil {
				return err
			}
		}
	}
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
	var re *queue.RecordError
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
		failed := be.Failed()
		for _, i := range failed[1:] {
			fmt.Fprintf(a.e.stderr, "capq: %snot appended: %v\n", where(lines[i]), be.Errs[i])
		}
		return failf("%s%w", where(lines[failed[0]]), be.Errs[failed[0]])
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

// readLine reads one line (without its '\n') and its length n. It keeps at
// most limit bytes of the line in memory: a longer line is read on to its
// end in the reader's buffer-sized pieces and dropped, and readLine returns
// n > limit. err is io.EOF at the end of the input, after the last line.
func readLine(r *bufio.Reader, limit int) (line []byte, n int, err error) {
	for {
		frag, err := r.ReadSlice('\n')
		end := err == nil
		if end {
			frag = frag[:len(frag)-1]
		}
		n += len(frag)
		if n <= limit {
			line = append(line, frag...)
		} else {
			line = nil
		}
		if end {
			return line, n, nil
		}
		if err != bufio.ErrBufferFull {
			return line, n, err
		}
	}
}
