package queue

import (
	"context"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/capq/capq/internal/fsys"
	"github.com/capq/capq/ulid"
)

// Queue is a capture queue in one directory. A Queue is safe for concurrent
// use by many goroutines, and any number of Queues in any number of
// processes (capq's or the reference's) may share one directory.
//
// Only Open makes a Queue. The zero Queue (and a nil *Queue) is closed:
// every method that returns an error returns ErrClosed, AppendRoom returns
// 0 and Options the zero Options.
type Queue struct {
	dir  string
	fs   fsys.FS
	own  bool // fs was opened by Open and is closed by Close
	opts Options

	// state counts the calls in flight, with closedBit set once Close
	// began (spec R37). An atomic word rather than an RWMutex: a handler
	// that calls back into the queue while Close waits must never block
	// (a waiting writer of an RWMutex blocks new readers), and it does
	// not here: it gets ErrClosed at once.
	state atomic.Int64
	idle  chan struct{} // closed by the last call to leave after Close began

	dirSync syncer   // group commit of root-directory fsyncs
	flush   *flusher // group commit of the appended files' flushes
	tally   tally    // the pending count as far as this process knows

	bufs sync.Pool // *[]byte envelope buffers for Append
}

// Open opens the queue in dir, creating the directory (mode 0700, with any
// missing parents) if it does not exist. Unless opts.SkipRecover is set it
// then runs Recover, and it counts the pending records once, for the
// overflow rule; with SkipRecover and a negative MaxSize nothing needs the
// count, and Open does not list the directory at all (spec R19), so that
// a short-lived producer does not pay a listing of the whole queue.
//
// Open takes no context: its Recover removes every stray file it finds,
// which takes as long as there are such files (thousands of orphaned lock
// files after a crash of many consumers). To bound or cancel that work,
// open with SkipRecover and call Recover(ctx).
func Open(dir string, opts Options) (*Queue, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	opts = opts.resolved()
	fsy, own := opts.fileSystem, false
	if fsy == nil {
		osfs, err := openDir(dir)
		if err != nil {
			return nil, err
		}
		fsy, own = osfs, true
	}
	q := newQueue(dir, opts, fsy, own)
	var err error
	// One listing serves both recovery and the initial count.
	var n int
	switch {
	case opts.SkipRecover && opts.MaxSize < 0:
		// No overflow rule: the count would only size List's first
		// result, which grows as needed.
	case opts.SkipRecover:
		n, err = q.count("open")
	default:
		var rep RecoverResult
		rep, err = q.recover(context.Background())
		n = rep.pending
	}
	if err != nil {
		q.closeFS()
		return nil, err
	}
	q.tally.reset(n, 0)
	// The reserve must exist before it is needed (spec R32): a queue
	// only producers ever opened would otherwise have no spare file and
	// no reserved audit blocks on the day the disk fills up.
	q.ensureSpares()
	q.ensureAuditReserve()
	return q, nil
}

// newQueue returns a Queue on fsy with every field set; own says whether
// the queue closes fsy. opts must be resolved. Open and Verify both build
// their Queue here, so neither works on a half-initialised one.
func newQueue(dir string, opts Options, fsy fsys.FS, own bool) *Queue {
	q := &Queue{dir: dir, opts: opts, fs: fsy, own: own, idle: make(chan struct{})}
	q.dirSync.fs = fsy
	q.dirSync.dir = "."
	q.dirSync.cond = sync.NewCond(&q.dirSync.mu)
	q.flush = newFlusher(fsy)
	q.bufs.New = func() any { b := make([]byte, 0, 512); return &b }
	return q
}

// openDir opens (creating if needed) the queue directory on the real disk.
func openDir(dir string) (*fsys.OS, error) {
	if !fsys.HasOS {
		// Fail before creating anything: this system has no backend
		// (fsys.ErrNoBackend wraps errors.ErrUnsupported).
		return nil, opErr("open", stepOpen, dir, fsys.ErrNoBackend)
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, opErr("open", stepMkdir, dir, err)
		}
		// The new directory's own entry must survive a power cut, or
		// every record appended to it could vanish with it.
		if err := syncPath(filepath.Dir(filepath.Clean(dir))); err != nil {
			return nil, opErr("open", stepSyncDir, filepath.Dir(dir), err)
		}
	case err != nil:
		return nil, opErr("open", stepOpen, dir, err)
	case !fi.IsDir():
		return nil, opErr("open", stepOpen, dir, fsys.ENOTDIR)
	}
	fsy, err := fsys.OpenOS(dir)
	if err != nil {
		return nil, opErr("open", stepOpen, dir, err)
	}
	return fsy, nil
}

func syncPath(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (q *Queue) closeFS() {
	if q.own {
		q.fs.Close()
	}
}

// closedBit marks Queue.state once Close began; the bits below it count
// the calls in flight.
const closedBit = 1 << 62

// Close closes the queue (spec R37): calls that start afterwards fail
// with ErrClosed, an Ingest in progress stops before its next record, and
// Close waits for the calls in flight to return before it releases the
// directory's descriptors. Later calls of Close return ErrClosed. Records
// already appended stay in the directory.
//
// Handlers may call the queue (Append, Count, Stats, ...): such calls never
// block on Close, and fail with ErrClosed once Close began. A handler must
// not call Close itself: Close would wait for the Ingest that runs the
// handler, which is waiting for the handler.
func (q *Queue) Close() error {
	if q == nil || q.fs == nil {
		return ErrClosed // not made by Open
	}
	for {
		v := q.state.Load()
		if v&closedBit != 0 {
			return ErrClosed
		}
		if q.state.CompareAndSwap(v, v|closedBit) {
			if v != 0 {
				<-q.idle
			}
			break
		}
	}
	if q.own {
		return q.fs.Close()
	}
	return nil
}

// enter marks the start of a call; unless it returns an error, the caller
// must call q.leave.
func (q *Queue) enter() error {
	if q == nil || q.fs == nil {
		return ErrClosed // not made by Open: nothing to work on
	}
	for {
		v := q.state.Load()
		if v&closedBit != 0 {
			return ErrClosed
		}
		if q.state.CompareAndSwap(v, v+1) {
			return nil
		}
	}
}

// leave marks the end of a call; the last one to end after Close began
// lets Close go on.
func (q *Queue) leave() {
	if q.state.Add(-1) == closedBit {
		close(q.idle)
	}
}

// closing reports whether Close began (an Ingest checks it between records).
func (q *Queue) closing() bool { return q.state.Load()&closedBit != 0 }

// Append durably appends one record, a JSON object given as its bytes, and
// returns its ULID (spec R8 to R10). When Append returns nil, the
// record's file has been written, fsynced, renamed to its final name and
// the directory fsynced: it survives a crash of the process, of the kernel
// or of the power. When it returns an error, no pending file of the record
// remains, as far as the file system lets capq remove it.
//
// Concurrent Appends on one Queue fsync their files side by side, which the
// block layer merges, and share their directory fsyncs (group commit, spec
// R50).
//
// The record is refused with an error wrapping ErrInvalidRecord, before
// anything touches the disk, unless it is one JSON object in valid UTF-8
// within Options.MaxRecordSize and Options.MaxDepth. Its bytes are stored
// verbatim (surrounding white space aside).
//
// If the append takes the pending count above Options.MaxSize, the oldest
// records are pruned (spec R18); a failure there does not fail the
// append, which has already committed, and is logged. The prune drops
// every record above MaxSize minus the headroom in this call, without a
// context: usually a headroom's worth, but every excess record of a queue
// opened with a MaxSize far below its pending count. To bound that, call
// Prune(ctx, keep) before appending with the lower MaxSize.
func (q *Queue) Append(record []byte) (ulid.ULID, error) {
	ids, err := q.AppendBatch([][]byte{record})
	if err != nil {
		var be *BatchError
		var re *DataError
		if errors.As(err, &be) {
			err = be.Errs[0]
		} else if errors.As(err, &re) {
			re.inBatch = false // a lone record: no index to name
		}
		return ulid.ULID{}, err
	}
	return ids[0], nil
}

// batchChunk is how many files of one AppendBatch are open at once: it
// bounds the descriptors a large batch holds, and lets the first files'
// flush start before the last ones are written.
const batchChunk = 256

// AppendBatch appends many records and returns their ULIDs in order. It
// makes all their files durable with far fewer flushes than one per
// record (one syncfs, or concurrent fsyncs, per group of files: spec
// R49), and renames them under one directory fsync.
//
// Every record is validated before any is written: if one is refused,
// AppendBatch returns a *DataError (its Index says which) and nil, and
// nothing was written. Otherwise each record succeeds or fails on its own:
// if any failed, AppendBatch returns every ULID with the zero ULID in the
// place of each failed record, and a *BatchError whose Errs holds the
// error of each failed record (nil for the others). A failure fails
// exactly the records it touches: a failed create, write, fsync, close or
// rename fails that record; a failed syncfs fails every record it was to
// make durable, and a failed directory fsync every record renamed before
// it, which are removed again. A failed record leaves no pending or tmp
// file (as far as the file system lets capq remove them), though a
// consumer running at the same time may already have delivered one that
// was renamed before a directory fsync failed; a record with a nil error
// is durably pending.
func (q *Queue) AppendBatch(records [][]byte) ([]ulid.ULID, error) {
	if err := q.enter(); err != nil {
		return nil, err
	}
	defer q.leave()
	recs := make([][]byte, len(records))
	for i, r := range records {
		rec, err := checkRecord(r, q.opts.MaxRecordSize, q.opts.MaxDepth)
		if err != nil {
			var re *DataError
			if errors.As(err, &re) {
				re.Index, re.inBatch = i, true
			}
			return nil, err
		}
		recs[i] = rec
	}
	ids := make([]ulid.ULID, len(recs))
	errs := make([]error, len(recs))
	var renamed []int // records renamed to their final names
	for lo := 0; lo < len(recs); lo += batchChunk {
		hi := min(len(recs), lo+batchChunk)
		// Sampled before the chunk's files exist (see flusher.epoch): a
		// syncfs failure before that cannot concern them.
		epoch := q.flush.epoch()
		renamed = q.appendChunk(recs[lo:hi], ids[lo:hi], errs[lo:hi], lo, epoch, renamed)
	}
	if len(renamed) > 0 && !q.opts.NoSync && !mutantOn(mutSkipDirSync) {
		// The renames are only durable once the directory is: without
		// this fsync a power cut can lose an acknowledged append (the
		// reference's weakness).
		if err := q.dirSync.sync(); err != nil {
			for _, i := range renamed {
				q.fs.Remove(pendingName(ids[i].String()))
				errs[i] = opErr("append", stepSyncDir, ".", err)
			}
			// Best effort: make the removals durable too, so that a
			// power cut does not bring back records reported failed.
			q.fs.SyncDir(".")
			renamed = nil
		}
	}
	if len(renamed) > 0 {
		q.afterAppend(len(renamed), ids[renamed[len(renamed)-1]])
	}
	if len(renamed) == len(recs) {
		return ids, nil
	}
	for i, err := range errs {
		if err != nil {
			ids[i] = ulid.ULID{}
		}
	}
	return ids, &BatchError{Errs: errs}
}

// appendChunk writes, flushes, closes and renames the tmp files of recs
// (the records lo to lo+len(recs) of a batch), filling ids and errs, and
// returns renamed with the batch indexes of the records it renamed.
func (q *Queue) appendChunk(recs [][]byte, ids []ulid.ULID, errs []error, lo int, epoch uint64, renamed []int) []int {
	files := make([]fsys.File, len(recs))
	tmps := make([]string, len(recs))
	for i, rec := range recs {
		// A tmp name that exists already is somebody else's file (capq
		// draws a new ULID for every record): it is never removed or
		// written (spec R21), and the record takes a new ULID instead.
		for try := 0; try < durableTmpTries; try++ {
			id, err := q.opts.ulids.New()
			id = mutantULID(id)
			if err != nil {
				ids[i], files[i] = ulid.ULID{}, nil
				errs[i] = opErr("append", "ulid", "", err)
				break
			}
			ids[i] = id
			tmps[i] = tmpName(id.String())
			files[i], errs[i] = q.writeTmp(tmps[i], id, rec)
			if !errors.Is(errs[i], fs.ErrExist) {
				break
			}
		}
	}
	// fail closes and removes the tmp file of record i, which failed.
	fail := func(i int, step string, err error) {
		files[i].Close()
		files[i] = nil
		q.fs.Remove(tmps[i])
		errs[i] = opErr("append", step, tmps[i], err)
	}
	if !q.opts.NoSync {
		// The data must be on disk before the rename makes the name
		// visible, or a power cut could leave an empty or partial file
		// under the final name. A failed flush is not retried: the
		// kernel may already have dropped the dirty pages, and a retry
		// could falsely succeed (spec R10).
		open := make([]fsys.File, 0, len(files))
		at := make([]int, 0, len(files))
		for i, f := range files {
			if f != nil {
				open = append(open, f)
				at = append(at, i)
			}
		}
		for k, err := range q.flush.flush(open, epoch) {
			if err != nil {
				fail(at[k], stepSync, err)
			}
		}
	}
	for i, f := range files {
		if f == nil {
			continue
		}
		if err := f.Close(); err != nil {
			files[i] = nil
			q.fs.Remove(tmps[i])
			errs[i] = opErr("append", stepClose, tmps[i], err)
		}
	}
	for i, f := range files {
		if f == nil {
			continue
		}
		if err := q.fs.Rename(tmps[i], pendingName(ids[i].String())); err != nil {
			q.fs.Remove(tmps[i])
			errs[i] = opErr("append", stepRename, pendingName(ids[i].String()), err)
			continue
		}
		renamed = append(renamed, lo+i)
	}
	return renamed
}

// writeTmp creates the tmp file of one record and writes its envelope,
// returning the open, not yet synced file. On any error the tmp file is
// removed.
func (q *Queue) writeTmp(tmp string, id ulid.ULID, rec []byte) (fsys.File, error) {
	at := q.opts.clock()
	if err := checkClock(at); err != nil {
		return nil, opErr("append", "clock", tmp, err)
	}
	bp := q.bufs.Get().(*[]byte)
	defer q.bufs.Put(bp)
	buf := appendEnvelope((*bp)[:0], id, at, rec)
	*bp = buf
	f, err := q.fs.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, opErr("append", stepCreate, tmp, err)
	}
	if err := writeFull(f, buf); err != nil {
		// A short write (file-size limit, disk full) must never be
		// published: the reference renamed such truncated files.
		f.Close()
		q.fs.Remove(tmp)
		return nil, opErr("append", stepWrite, tmp, err)
	}
	return f, nil
}

// Count returns the number of pending records: regular files named
// pending-<ULID>.json with a canonical ULID. It lists the directory once,
// without an allocation per name.
func (q *Queue) Count() (int, error) {
	if err := q.enter(); err != nil {
		return 0, err
	}
	defer q.leave()
	return q.count("count")
}

func (q *Queue) count(op string) (int, error) {
	n := 0
	err := q.fs.ReadDir(".", func(name []byte, typ fsys.EntryType) error {
		if k, _ := classify(name); k == kindPending && q.isRegular(name, typ) {
			n++
		}
		return nil
	})
	if err != nil {
		return 0, opErr(op, stepList, ".", err)
	}
	return n, nil
}

// isRegular resolves an entry type, asking the file system when the
// directory listing did not say.
func (q *Queue) isRegular(name []byte, typ fsys.EntryType) bool {
	if typ != fsys.TypeUnknown {
		return typ == fsys.TypeRegular
	}
	fi, err := q.fs.Lstat(string(name))
	return err == nil && fi.IsRegular()
}

// isUnsafeEntry reports whether an entry is a symlink or special file.
func (q *Queue) isUnsafeEntry(name []byte, typ fsys.EntryType) bool {
	if typ == fsys.TypeUnknown {
		fi, err := q.fs.Lstat(string(name))
		if err != nil {
			return false
		}
		typ = typeOf(fi.Mode)
	}
	return typ == fsys.TypeSymlink || typ == fsys.TypeOther
}

// List returns the ULIDs of the pending records, oldest first (ULID order,
// which is file-name order).
func (q *Queue) List() ([]ulid.ULID, error) {
	if err := q.enter(); err != nil {
		return nil, err
	}
	defer q.leave()
	return q.list("list", -1, nil)
}

// list returns the pending ULIDs in order; with limit >= 0, only the
// oldest limit of them, found without holding every name in memory. With a
// non-nil unsafe set, it also returns symlinks, FIFOs, sockets and devices
// under pending names, and adds them to the set, so that Ingest can
// quarantine them without opening them (R21); directories under such names
// stay ignored (R23).
func (q *Queue) list(op string, limit int, unsafe map[ulid.ULID]bool) ([]ulid.ULID, error) {
	var ids []ulid.ULID
	if limit < 0 {
		// Size the result from the last count, so that listing a large
		// queue does not regrow it a dozen times.
		ids = make([]ulid.ULID, 0, max(q.tally.estimate(), 0)+16)
	} else {
		ids = make([]ulid.ULID, 0, min(limit, 1<<16))
	}
	err := q.fs.ReadDir(".", func(name []byte, typ fsys.EntryType) error {
		k, idb := classify(name)
		if k != kindPending {
			return nil
		}
		regular := q.isRegular(name, typ)
		if !regular && (unsafe == nil || !q.isUnsafeEntry(name, typ)) {
			return nil
		}
		var id ulid.ULID
		if err := id.UnmarshalText(idb); err != nil {
			return nil // cannot happen: classify checked the form
		}
		if !regular {
			unsafe[id] = true
		}
		if limit >= 0 && !(mutantOn(mutReverseList) || mutantOn(mutOverflowDropsNewest)) {
			ids = keepOldest(ids, id, limit)
		} else {
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return nil, opErr(op, stepList, ".", err)
	}
	slices.SortFunc(ids, ulid.ULID.Compare)
	if mutantOn(mutReverseList) {
		slices.Reverse(ids)
	}
	return ids, nil
}

// keepOldest adds id to ids, a max-heap (by ULID) of at most limit
// elements, so that ids ends up holding the limit smallest ULIDs seen.
func keepOldest(ids []ulid.ULID, id ulid.ULID, limit int) []ulid.ULID {
	if limit == 0 {
		return ids
	}
	if len(ids) < limit {
		ids = append(ids, id)
		for i := len(ids) - 1; i > 0; { // sift up
			p := (i - 1) / 2
			if ids[p].Compare(ids[i]) >= 0 {
				break
			}
			ids[p], ids[i] = ids[i], ids[p]
			i = p
		}
		return ids
	}
	if id.Compare(ids[0]) >= 0 {
		return ids
	}
	ids[0] = id
	for i := 0; ; { // sift down
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(ids) && ids[l].Compare(ids[m]) > 0 {
			m = l
		}
		if r < len(ids) && ids[r].Compare(ids[m]) > 0 {
			m = r
		}
		if m == i {
			return ids
		}
		ids[i], ids[m] = ids[m], ids[i]
		i = m
	}
}

// syncer shares directory fsyncs between concurrent callers (group
// commit). A caller needs an fsync that started after its own rename
// finished; whoever finds no fsync running starts one for everybody who is
// waiting, so N concurrent appenders pay for about two fsyncs, not N.
type syncer struct {
	fs  fsys.FS
	dir string

	mu      sync.Mutex
	cond    *sync.Cond
	running bool
	started uint64 // generation of the last fsync started
	done    uint64 // generation of the last fsync finished
	failed  uint64 // generation of the last fsync that failed
	failErr error
}

// sync returns once a directory fsync that began after the call has
// finished, with that fsync's error (or a later one's: an error is never
// hidden by a later success, since the failed fsync may have dropped this
// caller's entry).
func (s *syncer) sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Any fsync running now may have begun before our rename ended, so
	// only the next one to start is sure to cover it.
	need := s.started + 1
	for s.done < need {
		if s.running {
			s.cond.Wait()
			continue
		}
		s.running = true
		s.started++
		gen := s.started
		s.mu.Unlock()
		err := s.fs.SyncDir(s.dir)
		s.mu.Lock()
		s.running = false
		s.done = gen
		if err != nil {
			s.failed, s.failErr = gen, err
		}
		s.cond.Broadcast()
	}
	if s.failed >= need {
		return s.failErr
	}
	return nil
}

// tally tracks the pending count well enough for the overflow rule
// without listing the directory on every append (spec R19). It knows
// the count found by the last listing and how many records this process
// appended since; other processes' appends and every process's deletions
// are only seen at the next listing, which happens at the latest after
// interval() of this process's appends, and whenever its estimate passes
// MaxSize.
type tally struct {
	appended atomic.Int64 // records this process appended, ever
	base     atomic.Int64 // count found by the last listing
	baseSeq  atomic.Int64 // value of appended when that listing began
	mu       sync.Mutex   // serialises listings and prunes
}

func (t *tally) reset(count int, seq int64) {
	t.base.Store(int64(count))
	t.baseSeq.Store(seq)
}

func (t *tally) estimate() int64 {
	return t.base.Load() + t.appended.Load() - t.baseSeq.Load()
}

// countInterval is how many of its own appends a process makes between
// listings: the headroom, or 1% of the count last seen when that is more.
// Listing costs time in proportion to the count, so this keeps its
// amortised cost per append constant while bounding the overshoot.
func countInterval(maxSize int, lastCount int64) int64 {
	return max(int64(headroom(maxSize)), lastCount/100)
}

// AppendRoom returns how many records one AppendBatch may append now and
// keep the overflow promises of spec R18 and R19 as a lone Append does:
// MaxSize minus this process's estimate of the pending count, and no more
// than its appends left before its next listing of the directory is due
// (R19); at least 1, since an append's prune never drops the record that
// triggered it (R18); math.MaxInt when MaxSize is negative; 0 on a closed,
// zero or nil Queue, where Append returns ErrClosed. It reads only
// counters in memory. AppendBatch runs the overflow rule once, after all
// its records: a larger batch may take the count past MaxSize by its
// excess until then, and its prune may drop the batch's own older records
// before AppendBatch returns their ULIDs. A caller that reports each ULID
// as pending (capq append) appends at most AppendRoom() records at once.
func (q *Queue) AppendRoom() int {
	if q == nil || q.fs == nil || q.closing() {
		return 0 // not made by Open, or closed: no room, as Append fails
	}
	if q.opts.MaxSize < 0 {
		return math.MaxInt
	}
	room := int64(q.opts.MaxSize) - q.tally.estimate()
	left := countInterval(q.opts.MaxSize, q.tally.base.Load()) - (q.tally.appended.Load() - q.tally.baseSeq.Load())
	return int(max(1, min(room, left)))
}

// afterAppend runs the overflow rule after n records, the newest of which
// is newest, were committed.
func (q *Queue) afterAppend(n int, newest ulid.ULID) {
	seq := q.tally.appended.Add(int64(n))
	if q.opts.MaxSize < 0 {
		return
	}
	maxSize := int64(q.opts.MaxSize)
	due := func() bool {
		return q.tally.estimate() > maxSize ||
			seq-q.tally.baseSeq.Load() >= countInterval(q.opts.MaxSize, q.tally.base.Load())
	}
	if !due() {
		return
	}
	q.tally.mu.Lock()
	defer q.tally.mu.Unlock()
	if q.tally.baseSeq.Load() >= seq && q.tally.estimate() <= maxSize {
		return // a listing that began after our rename already saw us
	}
	start := q.tally.appended.Load()
	count, err := q.count("append")
	if err != nil {
		q.opts.Logger.Warn("capq: counting for the overflow rule failed", "dir", q.dir, "err", err)
		return
	}
	q.tally.reset(count, start)
	if count <= q.opts.MaxSize {
		return
	}
	// The append that triggered it has committed: the prune is not its
	// caller's to cancel.
	res, err := q.prune(context.Background(), count, q.opts.MaxSize-headroom(q.opts.MaxSize), newest, reasonOverflow)
	q.tally.reset(count-res.Dropped-res.Quarantined, start)
	if err != nil {
		q.opts.Logger.Warn("capq: overflow prune failed", "dir", q.dir, "err", err)
	} else if len(res.Problems) > 0 {
		// Records it passed over (a failed unlink, a broken quarantine):
		// the caller of Append sees no Result, so the logger is the only
		// place to say so; one warning per prune, naming the first.
		q.opts.Logger.Warn("capq: overflow prune left records it could not drop", "dir", q.dir,
			"left", res.Left, "problems", len(res.Problems), "first", res.Problems[0].String())
	}
}
