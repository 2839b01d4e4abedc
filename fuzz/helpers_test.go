package fuzz

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/capq/capq/internal/fsys"
	"github.com/capq/capq/internal/queuefs"
	"github.com/capq/capq/queue"
	"github.com/capq/capq/ulid"
)

// fixedTime is the clock of the queues the targets open, unless a target
// fuzzes the clock itself: a reading with a non-zero fraction of a second.
var fixedTime = time.Date(2026, 11, 25, 17, 28, 7, 162144000, time.UTC)

// memQueue is a queue on a fresh in-memory file system (fast, and lets a
// target look at every name left behind).
type memQueue struct {
	mem    *fsys.Mem
	q      *queue.Queue
	opened map[string]bool // the names Open itself left in the directory
}

// openMem opens a queue on a new in-memory file system. clock supplies
// appended_at (nil: fixedTime); ULIDs come from a private generator whose
// clock is fixedTime, so that a fuzzed appended_at clock cannot make the
// ULID generator fail.
func openMem(clock func() time.Time, opts queue.Options) (*memQueue, error) {
	if clock == nil {
		clock = func() time.Time { return fixedTime }
	}
	m := fsys.NewMem(func() time.Time { return fixedTime })
	opts = queuefs.With(opts, m.FS())
	opts = queuefs.WithClock(opts, clock)
	opts = queuefs.WithULIDs(opts, ulid.NewGenerator(ulid.GeneratorOptions{Clock: func() time.Time { return fixedTime }}))
	q, err := queue.Open("mem", opts)
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	// Open leaves the queue's own bookkeeping files (the spare files of
	// spec R32, and whatever later versions add); they belong to the
	// queue, not to any record, so the targets compare against them
	// rather than hard-code their names.
	opened := map[string]bool{}
	for _, n := range m.Names(".") {
		opened[n] = true
	}
	return &memQueue{mem: m, q: q, opened: opened}, nil
}

func (mq *memQueue) close() { mq.q.Close() }

// leftovers returns the names in the queue directory that were not there
// right after Open: what appending and draining left behind.
func (mq *memQueue) leftovers() []string {
	var out []string
	for _, n := range mq.mem.Names(".") {
		if !mq.opened[n] {
			out = append(out, n)
		}
	}
	return out
}

// pendingNames returns the names in the queue directory that belong to a
// record: pending files, their temporary files and their locks.
func (mq *memQueue) pendingNames() []string {
	var out []string
	for _, n := range mq.mem.Names(".") {
		if strings.HasPrefix(n, "pending-") {
			out = append(out, n)
		}
	}
	return out
}

// drain ingests every record and returns the deliveries, copied.
func (mq *memQueue) drain() ([]queue.Delivery, queue.Result, error) {
	var got []queue.Delivery
	res, err := mq.q.Ingest(context.Background(), func(_ context.Context, d queue.Delivery) error {
		d.Record = bytes.Clone(d.Record)
		got = append(got, d)
		return nil
	}, queue.IngestOptions{})
	return got, res, err
}

// isJSONSpace reports whether c is white space in JSON (RFC 8259 section 2).
func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// trimJSONSpace removes the white space JSON allows around a value.
func trimJSONSpace(b []byte) []byte {
	return bytes.TrimFunc(b, func(r rune) bool { return r < 0x80 && isJSONSpace(byte(r)) })
}

// jsonDepth returns the deepest nesting of arrays and objects in a JSON
// text (1 for "{}"), ignoring brackets inside strings. It does not
// validate: it is the oracle for the depth limit of texts that are valid.
func jsonDepth(b []byte) int {
	depth, deepest := 0, 0
	inString, escaped := false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// appendJSONString appends s as a JSON string the way the reference's
// json.dumps(ensure_ascii=False) writes it: quotes, backslashes and control
// characters escaped, everything else, including bytes that are not valid
// UTF-8, copied raw (so that invalid input stays invalid).
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c == '\b':
			dst = append(dst, '\\', 'b')
		case c == '\f':
			dst = append(dst, '\\', 'f')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
