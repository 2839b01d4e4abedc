package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/capq/capq/gen"
	"github.com/capq/capq/queue"
)

// rescanEvery is how often drain --follow lists the directory even without
// an inotify or kqueue event: the fallback for file systems that do not report
// events (network file systems, some containers) and for a lost event.
const rescanEvery = 2 * time.Second

func drainCmd() *command {
	var (
		execCmd     string
		maxRecords  int
		budget      time.Duration
		maxAttempts int
		follow      bool
	)
	return &command{
		name:    "drain",
		summary: "deliver pending records to stdout or to a command, oldest first, deleting each once handled",
		help: `Without --exec, each record's envelope is written to stdout as one JSON line
and acknowledged (deleted) once the line is written and flushed; a failed
write (a closed pipe) leaves the record pending.

With --exec 'COMMAND', COMMAND runs by /bin/sh -c once per record, with the
record's JSON (plus a newline) on stdin and CAPQ_ULID and CAPQ_ATTEMPT in its
environment; its stdout and stderr are capq's. Exit status 0 acknowledges the
record; anything else is a handler failure: without --max-attempts the drain
stops there, leaving the record in doubt; with it, a record that failed N
times moves to the dead-letter folder and the drain goes on.

The handler never runs without the record's lock: it inherits the locked
descriptor as file descriptor 3 (CAPQ_LOCK_FD=3; leave it alone), so the
record stays locked for as long as the handler or anything it started keeps
it open, even if capq dies; and on Linux the handler is killed (SIGKILL) when
capq dies. A handler that could not be started (fork or exec failed, for
example out of file descriptors) or that a second signal killed is not the
handler's failure: the drain stops and the record is released without
using an attempt.

--follow keeps draining as records arrive (inotify on Linux, kqueue on macOS
and the BSDs, with a rescan every 2s as a fallback) until SIGINT, SIGTERM or
SIGHUP. After a pass that moved nothing on (a handler failed and the record
stays pending, or a record was left in place), it waits for a new pending
name or the next rescan: such a record is delivered again at most once per
rescan or new record, never in a loop. At each rescan it checks that --dir
still names the directory it drains: when the directory was replaced (renamed
away and a new one made at --dir), it warns on stderr and drains the new one;
when --dir is gone, it exits 1 naming it. On the first such signal
capq finishes the record in hand and stops; a second signal kills the
handler's process group and stops at once. The handler runs in its own
process group, so a terminal's Ctrl-C reaches only capq. A summary goes to
stderr.

Exit status: 0 when every record taken was delivered (or quarantined), also
after a first signal; 1 when any handler failed (with or without
--max-attempts: a run whose handlers all failed into dead letters is not a
success), when a record was left in place by a problem (an unreadable file,
a quarantine or dead-letter folder capq cannot use: each is printed once),
when a handler could not be started or was killed by a second signal, or
when the queue failed; 2 for usage errors.`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&execCmd, "exec", "", "run `COMMAND` (by /bin/sh -c) per record")
			countVar(fs, &maxRecords, "max", 0, "hand at most `N` records to the handler, failures included (0: no limit)")
			fs.DurationVar(&budget, "budget", 0, "start no record after this `duration` (0: no limit)")
			countVar(fs, &maxAttempts, "max-attempts", 0, "dead-letter a record after `N` failed attempts (0: a failure stops the drain)")
			fs.BoolVar(&follow, "follow", false, "keep draining new records until SIGINT/SIGTERM")
		},
		run: func(e *env, fs *flag.FlagSet) error {
			switch {
			case maxRecords < 0 || maxAttempts < 0 || budget < 0:
				return usageErrorf("usage: --max, --max-attempts and --budget must not be negative")
			case isFlagSet(fs, "exec") && execCmd == "":
				return usageErrorf("usage: --exec needs a command")
			}
			q, err := openQueue(e, false, true)
			if err != nil {
				return err
			}
			d := &drainer{e: e, q: q, exec: execCmd, follow: follow,
				max: maxRecords, budget: budget, maxAttempts: maxAttempts}
			defer func() { d.q.Close() }() // --follow may have reopened it
			return d.run()
		},
	}
}

// drainer is one run of `capq drain`.
type drainer struct {
	e           *env
	q           *queue.Queue
	exec        string
	follow      bool
	max         int
	budget      time.Duration
	maxAttempts int

	// hard is cancelled on the second signal: it kills a running handler.
	hard context.Context
	// soft is cancelled on the first signal (see stopping).
	soft context.Context
	// stop cancels the drain before its next record, as a first signal
	// does; fault is why, when a delivery failed for a reason that is not
	// the handler's.
	stop  context.CancelFunc
	fault *notHandlersFault
	tot   queue.Result
	// w wakes --follow for new pending names (nil: rescans only); dirID
	// is the queue directory being drained, to notice --dir replaced.
	w     *watcher
	dirID os.FileInfo
	// reported holds the problems already printed, so that --follow does
	// not repeat one at every pass (bounded: past it, problems are only
	// counted).
	reported map[string]bool
}

// maxReported bounds the distinct problems one drain prints.
const maxReported = 1000

func (d *drainer) run() error {
	// First signal: stop before the next record. Second: kill the handler.
	soft, stopSoft := context.WithCancel(d.e.ctx)
	defer stopSoft()
	hard, stopHard := context.WithCancel(context.Background())
	defer stopHard()
	d.hard = hard
	d.soft = soft
	d.stop = stopSoft
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, drainSignals...)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-sigs:
			stopSoft()
		case <-done:
			return
		}
		select {
		case <-sigs:
			stopHard()
		case <-done:
		}
	}()
	if d.exec == "" {
		// A closed stdout must fail the write (EPIPE), leaving the record
		// pending, rather than kill capq in the middle of a delivery.
		catchSIGPIPE()
	}

	if d.follow {
		// Watch before the first pass, so nothing appended after the pass
		// listed the directory goes unnoticed.
		d.dirID, _ = os.Stat(d.e.dir)
		d.watch()
		defer func() { d.w.close() }()
	}
	start := time.Now()
	err := d.loop(soft, start)
	fmt.Fprintf(d.e.stderr, "capq drain: delivered %d, quarantined %d, dead-lettered %d, failed %d, skipped %d, left %d\n",
		d.tot.Delivered, d.tot.Quarantined, d.tot.DeadLettered, d.tot.Failed, d.tot.Skipped, d.tot.Left)
	switch {
	case d.fault != nil:
		return failf("%v", d.fault.err)
	case err != nil && soft.Err() != nil && errors.Is(err, context.Canceled):
		err = nil // stopped by a signal after the record in hand
	case err != nil:
		return failf("%v", err)
	}
	if d.tot.Failed > 0 {
		// Spec R40: a drain in which a handler failed did not do its job,
		// even when --max-attempts let it go on past the failures.
		return failf("%d handler failure(s), %d record(s) dead-lettered", d.tot.Failed, d.tot.DeadLettered)
	}
	if d.tot.Left > 0 {
		// Spec R40: records a problem kept in place (R33) wait for an
		// operator; the drain went on, but did not finish its job.
		return failf("%d record(s) left in place by a problem (see above)", d.tot.Left)
	}
	return nil
}

// report prints the problems of one pass that were not printed before:
// records left in place, side paths switched off, clean-up steps that
// failed (spec R33).
func (d *drainer) report(problems []queue.Problem) {
	for _, p := range problems {
		key := p.String()
		if d.reported[key] || len(d.reported) >= maxReported {
			continue
		}
		if d.reported == nil {
			d.reported = map[string]bool{}
		}
		d.reported[key] = true
		fmt.Fprintf(d.e.stderr, "capq drain: problem: %s\n", escapeField(key))
	}
}

// watch starts the directory watcher of --follow (a failure is reported
// once and leaves the rescans).
func (d *drainer) watch() {
	var err error
	if d.w, err = newWatcher(d.e.dir); err != nil {
		fmt.Fprintf(d.e.stderr, "capq drain: directory watch (inotify, kqueue) unavailable (%v); rescanning every %v\n", err, rescanEvery)
	}
}

// checkDir makes sure --dir still names the directory being drained (spec
// R25's daemon, R40): a directory renamed away and replaced by a new one
// would otherwise be watched forever while records arrive at --dir. A
// replaced directory is reopened, with a warning; a vanished one is an
// error naming it.
func (d *drainer) checkDir() error {
	_, err := d.dirMoved()
	return err
}

// dirMoved is checkDir, also saying whether the queue was reopened.
func (d *drainer) dirMoved() (bool, error) {
	fi, err := os.Stat(d.e.dir)
	if err != nil {
		return false, fmt.Errorf("queue directory %s is gone: %w", d.e.dir, err)
	}
	if d.dirID == nil || os.SameFile(fi, d.dirID) {
		return false, nil
	}
	if !fi.IsDir() {
		return false, fmt.Errorf("queue directory %s was replaced by something that is not a directory", d.e.dir)
	}
	fmt.Fprintf(d.e.stderr, "capq drain: warning: %s is no longer the directory being drained (renamed or replaced); reopening it\n", d.e.dir)
	q, err := openQueue(d.e, false, true)
	if err != nil {
		return false, fmt.Errorf("reopen %s: %w", d.e.dir, err)
	}
	d.q.Close()
	d.q, d.dirID = q, fi
	d.w.close()
	d.watch()
	return true, nil
}

// pendingNames lists the names of pending records in --dir (nil when it
// cannot): --follow compares two listings to tell a new record from the
// wake-ups of its own writes (kqueue reports every change of the folder).
func (d *drainer) pendingNames() map[string]bool {
	ents, err := os.ReadDir(d.e.dir)
	if err != nil {
		return nil
	}
	names := map[string]bool{}
	for _, e := range ents {
		if n := e.Name(); strings.HasPrefix(n, "pending-") && strings.HasSuffix(n, ".json") {
			names[n] = true
		}
	}
	return names
}

// hasNew reports whether now holds a name that was not in before.
func hasNew(before, now map[string]bool) bool {
	for n := range now {
		if !before[n] {
			return true
		}
	}
	return false
}

func (d *drainer) loop(ctx context.Context, start time.Time) error {
	ticker := time.NewTicker(rescanEvery)
	defer ticker.Stop()
	for pass := 0; ; pass++ {
		opts := queue.IngestOptions{MaxAttempts: d.maxAttempts}
		if d.max > 0 {
			opts.MaxRecords = d.max - d.tot.Delivered
			if opts.MaxRecords <= 0 {
				return nil
			}
		}
		if d.budget > 0 {
			opts.Budget = d.budget - time.Since(start)
			if opts.Budget <= 0 {
				if pass > 0 {
					return nil
				}
				// Spec R13: a drain with records pending takes at least
				// one, however small its budget; Ingest does so for any
				// positive budget.
				opts.Budget = time.Nanosecond
			}
		}
		var before map[string]bool
		if d.follow {
			// Listed before the pass: a name appended while it runs,
			// after its own listing, is new to the wait below.
			before = d.pendingNames()
		}
		res, err := d.q.Ingest(ctx, d.handle, opts)
		if err != nil && d.follow && ctx.Err() == nil {
			if derr := d.checkDir(); derr != nil {
				// "list .: ..." would not say which directory.
				err = derr
			}
		}
		d.tot.Delivered += res.Delivered
		d.tot.Skipped += res.Skipped
		d.tot.Quarantined += res.Quarantined
		d.tot.DeadLettered += res.DeadLettered
		d.tot.Failed += res.Failed
		d.tot.Left += res.Left
		d.report(res.Problems)
		if err != nil || !d.follow {
			return err
		}
		if res.Delivered+res.Quarantined+res.DeadLettered > 0 {
			continue // more may have arrived meanwhile: list again at once
		}
		// Nothing moved on: what is pending failed or was left in place.
		// Passing again at once would deliver it again in a loop (and our
		// own lock-file writes wake a kqueue watcher), so wait for a new
		// pending name or the rescan (spec R40).
		if err := d.wait(ctx, ticker.C, before); err != nil {
			return err
		}
	}
}

// wait blocks --follow after a pass until a pending name appears that
// was not there before the pass (before), or the rescan is due (then it
// checks --dir first). Wake-ups without a new name (our own writes, a
// record leaving) are ignored.
func (d *drainer) wait(ctx context.Context, tick <-chan time.Time, before map[string]bool) error {
	for {
		var events <-chan struct{}
		if d.w != nil {
			events = d.w.events
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-events:
			// The watcher also wakes when the directory itself moved or
			// was deleted (inotify); a stat per wake-up is cheap.
			// Gone is judged at the rescan: a directory being replaced
			// (renamed away, then made anew) is briefly missing.
			if moved, err := d.dirMoved(); moved {
				return nil
			} else if err != nil {
				continue
			}
			if before == nil || hasNew(before, d.pendingNames()) {
				return nil
			}
		case <-tick:
			return d.checkDir()
		}
	}
}

// handlerShell runs --exec commands; a variable so that a test can make
// the start of a handler fail.
var handlerShell = "/bin/sh"

// notHandlersFault is a delivery that failed for a reason that is not the
// handler's: it could not be started, or an operator's second signal
// killed it (spec R39). The drain stops on it, whatever --max-attempts
// says, and the record is released.
type notHandlersFault struct{ err error }

func (e *notHandlersFault) Error() string { return e.err.Error() }
func (e *notHandlersFault) Unwrap() error { return e.err }

// stoppingSoon reports whether capq itself was told to stop (a first
// signal), waiting a little for it: a signal sent to capq and its handler
// together may kill the handler before capq's signal goroutine has seen
// its own copy.
func (d *drainer) stoppingSoon() bool {
	if d.soft == nil {
		return false
	}
	t := time.NewTimer(200 * time.Millisecond)
	defer t.Stop()
	select {
	case <-d.soft.Done():
		return true
	case <-t.C:
		return false
	}
}

// exitSignaled reports whether err is the exit of a process killed by a
// signal (ok says whether err is a process exit at all).
func exitSignaled(err error, ee **exec.ExitError) (signaled, ok bool) {
	if !errors.As(err, ee) {
		return false, false
	}
	ws, isWS := (*ee).Sys().(interface{ Signaled() bool })
	return isWS && ws.Signaled(), true
}

// handle delivers one record: to stdout, or to the --exec command.
func (d *drainer) handle(_ context.Context, dl queue.Delivery) error {
	var err error
	if d.exec == "" {
		line, lerr := envelopeLine(dl.Envelope)
		if lerr != nil {
			return lerr
		}
		// One Write of the whole line: stdout is unbuffered, so when it
		// returns the line has reached the pipe or file.
		if _, werr := d.e.stdout.Write(line); werr != nil {
			// A closed pipe or a full disk is capq's own failure, not
			// the record's: released without an attempt, and the
			// drain stops, as every later write would fail too.
			err = &notHandlersFault{fmt.Errorf("%s: writing to stdout: %w", dl.ULID, werr)}
		}
	} else {
		err = d.runHandler(dl)
	}
	if nf := (*notHandlersFault)(nil); errors.As(err, &nf) {
		// Stop before the next record: the next would fail the same way
		// (no descriptors, no processes) or the operator asked to stop.
		fmt.Fprintf(d.e.stderr, "capq drain: %s attempt %d: %v; stopping\n", dl.ULID, dl.Attempt, nf.err)
		d.fault = nf
		d.stop()
		// Released without using an attempt (spec R34): the handler is
		// not to blame.
		return fmt.Errorf("%w: %w", queue.ErrNotHandlerFault, nf)
	}
	if err != nil {
		fmt.Fprintf(d.e.stderr, "capq drain: %s attempt %d: handler: %v\n", dl.ULID, dl.Attempt, err)
	}
	return err
}

// runHandler runs the --exec command for one record and waits for it.
//
// The handler must never run without the record's lock held (spec R39),
// and capq may die at any moment (SIGKILL, the OOM killer). So the handler
// inherits a descriptor of the locked file as fd 3: the flock belongs to
// the open file description, which lives until every process holding it
// has closed it, so while the handler (or any process it started without
// closing fd 3) runs, no other consumer can take the record, even after
// capq is gone. And on Linux the kernel kills the handler when capq dies
// (Pdeathsig), so the orphan does not go on for long.
func (d *drainer) runHandler(dl queue.Delivery) error {
	lock, err := dl.LockFile()
	if err != nil {
		return &notHandlersFault{fmt.Errorf("%s: cannot hand the record's lock to the handler: %w", dl.ULID, err)}
	}
	defer lock.Close()
	cmd := exec.Command(handlerShell, "-c", d.exec)
	cmd.Stdin = io.MultiReader(bytes.NewReader(dl.Record), bytes.NewReader([]byte{'\n'}))
	cmd.Stdout = d.e.stdout
	cmd.Stderr = d.e.stderr
	cmd.ExtraFiles = []*os.File{lock} // fd 3
	cmd.Env = append(os.Environ(), "CAPQ_ULID="+dl.ULID.String(), "CAPQ_ATTEMPT="+strconv.Itoa(dl.Attempt), "CAPQ_LOCK_FD=3")
	cmd.SysProcAttr = handlerProcAttr()
	// Pdeathsig fires when the thread that forked the child exits, not the
	// process; Go may end an idle thread that a goroutine had locked. Keep
	// this goroutine on its thread until the handler is reaped, and the
	// thread stays alive as long as capq does.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cmd.Start(); err != nil {
		return &notHandlersFault{fmt.Errorf("%s: handler not started: %w", dl.ULID, err)}
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err = <-waited:
		var ee *exec.ExitError
		if sig, ok := exitSignaled(err, &ee); ok && sig && d.stoppingSoon() {
			// capq was told to stop, and the handler died of a signal:
			// a service manager stops the whole group at once
			// (systemd's KillMode=control-group). Not the handler's
			// failure (spec R39).
			return &notHandlersFault{fmt.Errorf("%s: handler killed by a signal while capq was stopping: %w", dl.ULID, err)}
		}
	case <-d.hard.Done():
		// The operator's second signal: kill the handler and everything
		// it started, and stop. Not the handler's failure.
		killGroup(cmd.Process)
		<-waited
		return &notHandlersFault{fmt.Errorf("%s: handler killed by a second signal", dl.ULID)}
	}
	return err
}

// envelopeLine renders an envelope as written on disk (spec R2), on one
// line: a record containing line breaks between its tokens is compacted,
// which changes only white space, never a number's spelling or key order.
func envelopeLine(env queue.Envelope) ([]byte, error) {
	rec := []byte(env.Record)
	if bytes.ContainsAny(rec, "\n\r") {
		var b bytes.Buffer
		if err := json.Compact(&b, rec); err != nil {
			return nil, err
		}
		rec = b.Bytes()
	}
	var b bytes.Buffer
	b.WriteString(`{"ulid":"`)
	b.WriteString(env.ULID.String())
	b.WriteString(`","appended_at":"`)
	b.WriteString(queue.FormatAppendedAt(env.AppendedAt))
	b.WriteString(`","record":`)
	b.Write(rec)
	b.WriteString(`,"schema_version":`)
	b.WriteString(strconv.Itoa(gen.SchemaVersion)) // env decoded without error: of this version
	b.WriteString("}\n")
	return b.Bytes(), nil
}

func (w *watcher) close() {
	if w != nil {
		w.once.Do(func() { w.f.Close() })
	}
}
