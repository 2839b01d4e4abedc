package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/capq/capq/internal/fsys"
	"github.com/capq/capq/internal/layout"
	"github.com/capq/capq/queue"
	"github.com/capq/capq/ulid"
)

// openQueue opens the queue in e.dir. With create false the directory must
// already exist (reading commands never create a queue by accident); with
// create true it is created as queue.Open does. Recovery is skipped unless
// recover is set: only the recover and drain subcommands clean up.
func openQueue(e *env, create, recover bool) (*queue.Queue, error) {
	return openQueueOpts(e, create, queue.Options{SkipRecover: !recover})
}

func openQueueOpts(e *env, create bool, opts queue.Options) (*queue.Queue, error) {
	if e.dir == "" {
		// A usage error for every subcommand alike (spec R40), append too.
		return nil, usageErrorf("--dir is empty")
	}
	fi, err := os.Stat(e.dir)
	switch {
	case err == nil && !fi.IsDir():
		return nil, usageErrorf("%s is not a directory", e.dir)
	case errors.Is(err, iofs.ErrNotExist) && !create:
		return nil, usageErrorf("no queue directory %s", e.dir)
	case errors.Is(err, fsys.ENOTDIR):
		return nil, usageErrorf("%s: a parent is not a directory", e.dir)
	}
	q, err := queue.Open(e.dir, opts)
	if err != nil {
		return nil, failf("open %s: %w", e.dir, err)
	}
	return q, nil
}

// writeJSON writes v as one line of compact JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// parseULID parses a command-line ULID; a bad one is a usage error.
func parseULID(s string) (ulid.ULID, error) {
	id, err := ulid.Parse(s)
	if err != nil {
		return id, usageErrorf("bad ULID %q: %v", s, err)
	}
	return id, nil
}

func isFlagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// lsEntry is one line of `capq ls --json`.
type lsEntry struct {
	ULID       string `json:"ulid"`
	AppendedAt string `json:"appended_at"`
	Size       int64  `json:"size"`
	// State is "pending", "in_doubt" (a delivery failed or crashed: the
	// next has Attempt > 1), "delivering" (a consumer holds its lock),
	// "blocked" (its lock name holds something that is not a usable lock
	// file, which nobody holds) or "corrupt" (the file is not a valid
	// envelope; a drain quarantines it).
	State string `json:"state"`
}

func lsCmd() *command {
	var asJSON bool
	return &command{
		name:    "ls",
		summary: "list pending records, oldest first",
		help: `Prints one line per pending record: ULID, appended_at, size in bytes and
state, separated by tabs. State is pending, in_doubt (a delivery failed or
crashed; the next one has Attempt > 1), delivering (a consumer holds the
record's lock), blocked (the record's lock name holds something that is not
a usable lock file: a directory, FIFO, symlink, or a file with another hard
link; nobody holds it, and no drain delivers the record until an operator
removes that entry; verify names it) or corrupt (a drain will quarantine
it). The lock's state is judged as verify and stats judge it. With --json
each line is an object {"ulid","appended_at","size","state"}.`,
		flags: func(fs *flag.FlagSet) { fs.BoolVar(&asJSON, "json", false, "print JSON Lines") },
		run: func(e *env, fs *flag.FlagSet) error {
			q, err := openQueue(e, false, false)
			if err != nil {
				return err
			}
			defer q.Close()
			ids, err := q.List()
			if err != nil {
				return failf("%v", err)
			}
			findings, err := queue.Verify(e.ctx, e.dir, q.Options())
			if err != nil {
				return failf("%v", err)
			}
			// One rule for a lock's state, Verify's (spec R26, R45): in
			// doubt when free beside its record; blocked when its name
			// holds no usable lock file (none of these is held by
			// anybody); otherwise, when it exists, held.
			inDoubt, blocked := map[string]bool{}, map[string]bool{}
			for _, f := range findings {
				switch f.Kind {
				case "in_doubt":
					inDoubt[f.Name] = true
				case "symlink", "not_regular", "hard_link", "unreadable":
					blocked[f.Name] = true
				}
			}
			w := bufio.NewWriter(e.stdout)
			defer w.Flush()
			for _, id := range ids {
				ent := lsEntry{ULID: id.String(), State: "pending"}
				st, err := q.Get(id)
				if errors.Is(err, queue.ErrNotFound) || st.DeadLetter {
					continue // delivered (or dead-lettered) since List
				}
				ent.Size = int64(len(st.Data))
				if errors.Is(err, queue.ErrReadLimit) {
					ent.Size = 0 // a prefix: the file's size comes from Lstat below
				}
				switch {
				case errors.Is(err, queue.ErrCorrupt) || errors.Is(err, queue.ErrSchemaVersion):
					ent.State = "corrupt"
				case err != nil:
					ent.State = "unreadable"
				default:
					ent.AppendedAt = queue.FormatAppendedAt(st.Envelope.AppendedAt)
				}
				if ent.Size == 0 {
					if fi, lerr := os.Lstat(filepath.Join(e.dir, layout.PendingName(id.String()))); lerr == nil {
						ent.Size = fi.Size()
					}
				}
				lock := layout.LockName(ent.ULID)
				if ent.State == "pending" {
					if blocked[lock] {
						ent.State = "blocked"
					} else if inDoubt[lock] {
						ent.State = "in_doubt"
					} else if _, err := os.Lstat(filepath.Join(e.dir, lock)); err == nil {
						ent.State = "delivering"
					}
				}
				if asJSON {
					err = writeJSON(w, ent)
				} else {
					_, err = fmt.Fprintf(w, "%s\t%s\t%d\t%s\n", ent.ULID, ent.AppendedAt, ent.Size, ent.State)
				}
				if err != nil {
					return failf("%v", err)
				}
			}
			if err := w.Flush(); err != nil {
				return failf("%v", err)
			}
			return nil
		},
	}
}

func countCmd() *command {
	var asJSON bool
	return &command{
		name:    "count",
		summary: "print the number of pending records",
		flags:   func(fs *flag.FlagSet) { fs.BoolVar(&asJSON, "json", false, `print {"count":N}`) },
		run: func(e *env, fs *flag.FlagSet) error {
			q, err := openQueue(e, false, false)
			if err != nil {
				return err
			}
			defer q.Close()
			n, err := q.Count()
			if err != nil {
				return failf("%v", err)
			}
			if asJSON {
				return writeJSON(e.stdout, map[string]int{"count": n})
			}
			_, err = fmt.Fprintln(e.stdout, n)
			return err
		},
	}
}

func showCmd() *command {
	var recordOnly bool
	return &command{
		name:    "show",
		args:    "ULID",
		summary: "print one record's envelope (pending or dead-lettered) as JSON",
		help: `Prints the envelope file of the record exactly as stored, followed by a
newline; with --record, only the record object. The record is looked for
among the pending records, then in the dead-letter folder. Exit status 1
if there is no such record, or if its file is not a valid envelope: a file
over the size limit, a symlink or a special file is not printed at all; a
corrupt file within the limit is printed as stored (without --record).`,
		flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&recordOnly, "record", false, "print only the record, not the envelope")
		},
		run: func(e *env, fs *flag.FlagSet) error {
			if fs.NArg() != 1 {
				return usageErrorf("usage: show takes exactly one ULID")
			}
			id, err := parseULID(fs.Arg(0))
			if err != nil {
				return err
			}
			q, err := openQueue(e, false, false)
			if err != nil {
				return err
			}
			defer q.Close()
			// Get opens the dead-letter folder relative to the queue's
			// descriptor with O_NOFOLLOW|O_DIRECTORY and the file with
			// O_NOFOLLOW|O_NONBLOCK, and reads at most the size limit
			// (spec R41): a symlink, a FIFO or a huge file is an error, never
			// a hang, a read outside the queue or a silent prefix.
			st, err := q.Get(id)
			switch {
			case errors.Is(err, queue.ErrNotFound):
				return failf("no record %s", id)
			case err != nil && st.Data != nil && !recordOnly && !errors.Is(err, queue.ErrReadLimit):
				// The bytes as stored help whoever looks into a bad file;
				// the exit status still says it is not a valid record. A
				// file over the limit comes with a prefix only, which is
				// not printed (R41: never a silent prefix).
				if _, werr := fmt.Fprintf(e.stdout, "%s\n", st.Data); werr != nil {
					return failf("%v", werr)
				}
				return failf("%s: %v", st.Name, err)
			case err != nil:
				return failf("%s: %v", id, err)
			}
			data := st.Data
			if recordOnly {
				data = st.Envelope.Record
			}
			_, err = fmt.Fprintf(e.stdout, "%s\n", data)
			return err
		},
	}
}

// openQueueDirOnly checks that e.dir is an existing directory, as
// openQueue does, without opening a queue.
func openQueueDirOnly(e *env) (os.FileInfo, error) {
	fi, err := os.Stat(e.dir)
	switch {
	case errors.Is(err, iofs.ErrNotExist):
		return nil, usageErrorf("no queue directory %s", e.dir)
	case errors.Is(err, fsys.ENOTDIR):
		// As openQueue: a path under a regular file is a bad --dir.
		return nil, usageErrorf("%s: a parent is not a directory", e.dir)
	case err != nil:
		return nil, failf("%v", err)
	case !fi.IsDir():
		return nil, usageErrorf("%s is not a directory", e.dir)
	}
	return fi, nil
}

// Stats is the output of `capq stats --json`.
type Stats struct {
	Pending          int     `json:"pending"`
	OldestAgeSeconds float64 `json:"oldest_age_seconds"` // 0 when nothing is pending
	Oldest           string  `json:"oldest,omitempty"`   // ULID of the oldest pending record
	Bytes            int64   `json:"bytes"`              // sum of the pending files' sizes
	InDoubt          int     `json:"in_doubt"`
	StrayTmp         int     `json:"stray_tmp"`
	Quarantined      int     `json:"quarantined"`
	DeadLetters      int     `json:"dead_letters"`
	AuditDrops       int     `json:"audit_drops"`     // records dropped by overflow or prune, per the audit log
	AuditBytes       int64   `json:"audit_bytes"`     // size of the audit log and its rotated generation
	AuditBadLines    int     `json:"audit_bad_lines"` // audit lines that could not be read (torn, foreign, over 64 KiB)
	// AuditNotCounted is set when the audit log's generations together
	// exceed statsAuditLimit: AuditDrops and AuditBadLines are then 0,
	// not counted (spec R44).
	AuditNotCounted bool `json:"audit_not_counted,omitempty"`
}

// statsAuditLimit bounds the audit log that stats reads to count drops:
// twice the default rotation size, so a log capq rotates is always
// counted, while a log grown by hand or by the reference alone (or a
// sparse file of any size) is reported as not counted instead of read
// for minutes (spec R44). capq audit still streams every line.
const statsAuditLimit = 64 << 20

func statsCmd() *command {
	var asJSON bool
	return &command{
		name:    "stats",
		summary: "print pending count, oldest age, bytes, in-doubt, stray tmp, quarantined, dead letters, audit drops",
		help: `The oldest age is measured from the oldest pending record's appended_at (its
ULID time if the file cannot be read). Audit drops counts the audit log's
lines whose reason is queue_overflow or pruned; the log is streamed, never
loaded whole, and a log over 64 MiB (both generations) is not counted:
audit_drops says "not counted" (capq audit lists it). Something that could not be counted (a folder that is a file
or a symlink, an unreadable audit log) is reported on stderr after the
counts, and the exit status is 1.`,
		flags: func(fs *flag.FlagSet) { fs.BoolVar(&asJSON, "json", false, "print one JSON object") },
		run: func(e *env, fs *flag.FlagSet) error {
			q, err := openQueue(e, false, false)
			if err != nil {
				return err
			}
			defer q.Close()
			st, problems, err := stats(e.ctx, e.dir, q)
			if err != nil {
				return failf("%v", err)
			}
			if asJSON {
				err = writeJSON(e.stdout, st)
			} else {
				drops, bad := strconv.Itoa(st.AuditDrops), strconv.Itoa(st.AuditBadLines)
				if st.AuditNotCounted {
					drops, bad = "not counted", "not counted"
				}
				_, err = fmt.Fprintf(e.stdout, "pending\t%d\noldest_age\t%s\nbytes\t%d\nin_doubt\t%d\nstray_tmp\t%d\nquarantined\t%d\ndead_letters\t%d\naudit_drops\t%s\naudit_bytes\t%d\naudit_bad_lines\t%s\n",
					st.Pending, time.Duration(st.OldestAgeSeconds*float64(time.Second)).Round(time.Millisecond),
					st.Bytes, st.InDoubt, st.StrayTmp, st.Quarantined, st.DeadLetters, drops, st.AuditBytes, bad)
			}
			if err != nil {
				return failf("%v", err)
			}
			if st.AuditNotCounted {
				fmt.Fprintf(e.stderr, "capq stats: audit drops not counted: the audit log is %d bytes, over the %d that stats reads; capq audit lists it\n", st.AuditBytes, statsAuditLimit)
			}
			for _, p := range problems {
				fmt.Fprintf(e.stderr, "capq stats: not counted: %s\n", escapeField(p))
			}
			if len(problems) > 0 {
				return failf("%d thing(s) could not be counted", len(problems))
			}
			return nil
		},
	}
}

// stats gathers `capq stats` through the queue's bounded readers (spec
// R41): Stats lists the directory and folders without reading a record,
// Get reads the oldest record (bounded), AuditEntries streams the audit
// log a line at a time. The problems are what could not be counted.
func stats(ctx context.Context, dir string, q *queue.Queue) (Stats, []string, error) {
	var st Stats
	var problems []string
	qs, err := q.Stats(ctx)
	if err != nil {
		return st, nil, err
	}
	for _, p := range qs.Problems {
		problems = append(problems, p.String())
	}
	st.Pending, st.Bytes = qs.Pending, qs.PendingBytes
	st.Quarantined, st.DeadLetters, st.AuditBytes = qs.Quarantined, qs.DeadLetters, qs.AuditBytes
	if !qs.Oldest.IsZero() {
		st.Oldest = qs.Oldest.String()
		t, _ := ulid.TimeOf(st.Oldest)
		if rec, err := q.Get(qs.Oldest); err == nil && !rec.DeadLetter {
			t = rec.Envelope.AppendedAt
		}
		st.OldestAgeSeconds = max(0, time.Since(t).Seconds())
	}
	findings, err := queue.Verify(ctx, dir, q.Options())
	if err != nil {
		return st, nil, err
	}
	for _, f := range findings {
		switch f.Kind {
		case "in_doubt":
			st.InDoubt++
		case "stray_tmp":
			st.StrayTmp++
		}
	}
	if st.AuditBytes > statsAuditLimit {
		st.AuditNotCounted = true
		return st, problems, nil
	}
	for a, err := range q.AuditEntries(ctx) {
		if errors.Is(err, queue.ErrAuditLine) {
			st.AuditBadLines++
			continue // torn or foreign line
		}
		if err != nil {
			// A generation that cannot be opened (the other is still
			// counted), or an error that ends the iteration.
			problems = append(problems, "audit log: "+err.Error())
			continue
		}
		if a.Reason == queue.ReasonOverflow || a.Reason == queue.ReasonPruned {
			st.AuditDrops++
		}
	}
	return st, problems, nil
}

// escapeField makes s safe as one field of capq's tab-separated output
// (spec R42): a backslash, tab, newline, carriage return or other control
// character in a file name or detail is written as a backslash escape, so
// that a hostile name can neither end a line nor add a field.
func escapeField(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f || s[i] == '\\' {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func verifyCmd() *command {
	var asJSON bool
	return &command{
		name:    "verify",
		summary: "check a queue directory against the spec, read-only; exit 1 on violations",
		help: `Prints every finding, one per line: "violation" or "note", the kind, the
file name and a detail, separated by tabs; a backslash, tab, newline or other
control character in a name or detail is written as a backslash escape (\\,
\t, \n, \r, \xNN), so every line is one finding. With --json each line is an
object {"kind","name","detail","violation"}. Notes (stray tmp files, records
in doubt, dead letters, ...) describe state an operator may want to see;
violations break the spec. Nothing in the directory is changed.`,
		flags: func(fs *flag.FlagSet) { fs.BoolVar(&asJSON, "json", false, "print JSON Lines") },
		run: func(e *env, fs *flag.FlagSet) error {
			if _, err := openQueueDirOnly(e); err != nil {
				return err
			}
			findings, err := queue.Verify(e.ctx, e.dir, queue.Options{})
			if err != nil {
				return failf("%v", err)
			}
			violations := 0
			w := bufio.NewWriter(e.stdout)
			for _, f := range findings {
				if f.Violation {
					violations++
				}
				if asJSON {
					err = writeJSON(w, f)
				} else {
					tag := "note"
					if f.Violation {
						tag = "violation"
					}
					_, err = fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", tag, f.Kind, escapeField(f.Name), escapeField(f.Detail))
				}
				if err != nil {
					return failf("%v", err)
				}
			}
			if err := w.Flush(); err != nil {
				return failf("%v", err)
			}
			if violations > 0 {
				return failf("%d violation(s) in %s", violations, e.dir)
			}
			return nil
		},
	}
}

func recoverCmd() *command {
	var asJSON bool
	return &command{
		name:    "recover",
		summary: "remove stray tmp files past the grace period and orphan locks; report records in doubt",
		flags:   func(fs *flag.FlagSet) { fs.BoolVar(&asJSON, "json", false, "print one JSON object") },
		run: func(e *env, fs *flag.FlagSet) error {
			q, err := openQueue(e, false, false)
			if err != nil {
				return err
			}
			defer q.Close()
			rep, err := q.Recover(e.ctx)
			if err != nil {
				return failf("%v", err)
			}
			if asJSON {
				ids := make([]string, len(rep.InDoubt))
				for i, id := range rep.InDoubt {
					ids[i] = id.String()
				}
				return writeJSON(e.stdout, map[string][]string{
					"removed": nonNil(rep.Removed), "in_doubt": ids,
				})
			}
			for _, n := range rep.Removed {
				fmt.Fprintf(e.stdout, "removed\t%s\n", n)
			}
			for _, id := range rep.InDoubt {
				fmt.Fprintf(e.stdout, "in_doubt\t%s\n", id)
			}
			return nil
		},
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func requeueCmd() *command {
	var all bool
	return &command{
		name:    "requeue",
		args:    "ULID... | --all",
		summary: "put dead-lettered records back into the queue",
		help: `Each requeued record keeps its ULID (and so its place in the order) and
starts again with Attempt 1; an audit line records the move. Prints the
ULIDs requeued, one per line (with --all, the count). Exit status 1 if a
ULID is not dead-lettered. --all goes on past a dead letter it cannot
requeue (reported on stderr), and then exits 1.`,
		flags: func(fs *flag.FlagSet) { fs.BoolVar(&all, "all", false, "requeue every dead letter") },
		run: func(e *env, fs *flag.FlagSet) error {
			if all == (fs.NArg() > 0) {
				return usageErrorf("usage: requeue takes ULIDs or --all, not both")
			}
			var ids []ulid.ULID
			for _, a := range fs.Args() {
				id, err := parseULID(a)
				if err != nil {
					return err
				}
				ids = append(ids, id)
			}
			q, err := openQueue(e, false, false)
			if err != nil {
				return err
			}
			defer q.Close()
			if all {
				return requeueAll(e, q)
			}
			for _, id := range ids {
				if err := q.Requeue(id); err != nil {
					return failf("%s: %v", id, err)
				}
				fmt.Fprintln(e.stdout, id)
			}
			return nil
		},
	}
}

func auditCmd() *command {
	var asJSON bool
	return &command{
		name:    "audit",
		summary: "print the audit log: overflow drops, prunes, quarantines, dead letters, requeues",
		help: `Prints one line per audit entry, oldest first: time, reason, ULID, and the
rest (appended_at, file, attempts, detail), separated by tabs. With --json
each line is the entry as a JSON object. Torn or foreign lines are skipped.`,
		flags: func(fs *flag.FlagSet) { fs.BoolVar(&asJSON, "json", false, "print JSON Lines") },
		run: func(e *env, fs *flag.FlagSet) error {
			q, err := openQueue(e, false, false)
			if err != nil {
				return err
			}
			defer q.Close()
			return printAudit(e, q, asJSON)
		},
	}
}

// maxAuditWarnings bounds the unreadable audit lines `capq audit` names on
// stderr; the rest are only counted.
const maxAuditWarnings = 20

// printAudit streams the audit log to stdout, one entry at a time (spec
// R41): memory stays bounded whatever the log's size. Unreadable lines
// (torn, foreign, over 64 KiB) are named on stderr and skipped; any other
// error stops the listing with exit status 1.
func printAudit(e *env, q *queue.Queue, asJSON bool) error {
	w := bufio.NewWriter(e.stdout)
	bad := 0
	var fileErr error
	for a, err := range q.AuditEntries(e.ctx) {
		if errors.Is(err, queue.ErrAuditLine) {
			if bad++; bad <= maxAuditWarnings {
				fmt.Fprintf(e.stderr, "capq audit: skipped: %s\n", escapeField(err.Error()))
			}
			continue
		}
		if err != nil {
			// A generation that cannot be opened (the other is still
			// listed), or an error that ends the iteration: say so, and
			// exit 1 at the end.
			fmt.Fprintf(e.stderr, "capq audit: %s\n", escapeField(err.Error()))
			fileErr = err
			continue
		}
		if asJSON {
			err = writeJSON(w, a)
		} else {
			err = writeAuditLine(w, a)
		}
		if err != nil {
			return failf("%v", err)
		}
	}
	if err := w.Flush(); err != nil {
		return failf("%v", err)
	}
	if bad > maxAuditWarnings {
		fmt.Fprintf(e.stderr, "capq audit: skipped %d unreadable line(s) in all\n", bad)
	}
	if fileErr != nil {
		return failf("the audit log could not be read whole")
	}
	return nil
}

// writeAuditLine writes one entry as a tab-separated line, every free-form
// field escaped (spec R42).
func writeAuditLine(w *bufio.Writer, a queue.AuditEntry) error {
	id := a.DroppedULID
	if id == "" {
		id = a.ULID
	}
	fmt.Fprintf(w, "%s\t%s\t%s", escapeField(a.TS), escapeField(string(a.Reason)), escapeField(id))
	if a.AppendedAt != "" {
		fmt.Fprintf(w, "\tappended_at=%s", escapeField(a.AppendedAt))
	}
	if a.QueueSizeBeforePrune != nil {
		fmt.Fprintf(w, "\tqueue_size_before_prune=%d", *a.QueueSizeBeforePrune)
	}
	if a.File != "" {
		fmt.Fprintf(w, "\tfile=%s", escapeField(a.File))
	}
	if a.Attempts != 0 {
		fmt.Fprintf(w, "\tattempts=%d", a.Attempts)
	}
	if a.Detail != "" {
		fmt.Fprintf(w, "\tdetail=%q", a.Detail)
	}
	_, err := fmt.Fprintln(w)
	return err
}

// requeueAll requeues every dead letter, going on past one it cannot move
// (spec R42): a dead letter whose pending name is taken, an unreadable
// file, a history that is a directory, ... is reported and left, and the
// others still go back to the queue. It prints the count requeued.
func requeueAll(e *env, q *queue.Queue) error {
	// queue.RequeueAll goes on past every dead letter it cannot move,
	// symlinks at dead letters' names included (spec R36), and returns
	// their errors joined: each is named on its own line.
	n, err := q.RequeueAll(e.ctx)
	fmt.Fprintln(e.stdout, n)
	if err == nil {
		return nil
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, err := range errs {
		fmt.Fprintf(e.stderr, "capq requeue: %s\n", escapeField(err.Error()))
	}
	return failf("%d dead letter(s) could not be requeued", len(errs))
}

func pruneCmd() *command {
	var to int
	var asJSON bool
	return &command{
		name:    "prune",
		summary: "drop the oldest pending records until at most --to N remain",
		help: `Each dropped record gets an audit line (reason "pruned"); records a
consumer is delivering are skipped, and corrupt ones are quarantined instead
of deleted. Prints dropped, quarantined, skipped and left counts; a record
left in place by a problem (an unreadable file, a quarantine capq cannot
use) is named on stderr and makes the exit status 1.`,
		flags: func(fs *flag.FlagSet) {
			countVar(fs, &to, "to", -1, "keep at most `N` pending records (required)")
			fs.BoolVar(&asJSON, "json", false, "print one JSON object")
		},
		run: func(e *env, fs *flag.FlagSet) error {
			if to < 0 {
				return usageErrorf("usage: prune needs --to N with N >= 0")
			}
			q, err := openQueue(e, false, false)
			if err != nil {
				return err
			}
			defer q.Close()
			res, err := q.Prune(e.ctx, to)
			if err != nil {
				return failf("%v", err)
			}
			if asJSON {
				err = writeJSON(e.stdout, map[string]int{"dropped": res.Dropped, "quarantined": res.Quarantined, "skipped": res.Skipped, "left": res.Left})
			} else {
				_, err = fmt.Fprintf(e.stdout, "dropped\t%d\nquarantined\t%d\nskipped\t%d\nleft\t%d\n", res.Dropped, res.Quarantined, res.Skipped, res.Left)
			}
			if err != nil {
				return failf("%v", err)
			}
			for _, p := range res.Problems {
				fmt.Fprintf(e.stderr, "capq prune: problem: %s\n", escapeField(p.String()))
			}
			if res.Left > 0 {
				// Spec R40: records a problem kept in place (R33).
				return failf("%d record(s) left in place by a problem", res.Left)
			}
			return nil
		},
	}
}
