package queue

import (
	"errors"
	"sync"
	"sync/atomic"

	"github.com/capq/capq/internal/fsys"
)

// maxFsyncs bounds the goroutines (and so the threads blocked in fsync)
// of one group when the file system has no syncfs.
const maxFsyncs = 32

// flusher makes appenders' files durable (spec R49, R50). A lone file is
// fsynced at once, concurrently with any other appender's. Several files
// (an AppendBatch) are flushed in groups: the appender queues them and
// waits; whoever finds no flush running becomes the leader, takes every
// file queued so far, makes them durable at once, and hands each file its
// own result. While it works, new files queue up for the next leader, so
// N concurrent batches pay for about two flushes, not N.
//
// A group is made durable with one syncfs where the file system offers
// one whose errors can be trusted (fsys.FileSystemSyncer), and otherwise
// with concurrent fsyncs, which the block layer merges into fewer device
// flushes than sequential ones.
type flusher struct {
	fs       fsys.FS
	noSyncFS atomic.Bool // the file system said syncfs is unsupported

	mu      sync.Mutex
	cond    *sync.Cond
	running bool
	queue   []*flushReq
	fails   uint64 // how many whole-file-system flushes (syncfs) failed
	lastErr error  // the error of the last one that failed
}

// flushReq is one appender's files, waiting for a flush.
type flushReq struct {
	files []fsys.File
	errs  []error // per file, filled by the leader
	epoch uint64  // flusher.fails when the appender began writing
	done  bool
}

func newFlusher(fs fsys.FS) *flusher {
	f := &flusher{fs: fs}
	f.cond = sync.NewCond(&f.mu)
	return f
}

// epoch returns the number of failed syncfs calls so far. An appender
// reads it before it creates its files and passes it to flush: a syncfs
// that fails after that may have failed on its files' writeback (the
// kernel then marks the pages clean, so a later flush would succeed
// without them), and reports the error only once, possibly to another
// group's leader. So any failure in between fails the appender's files.
func (f *flusher) epoch() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fails
}

// flush makes the files durable and returns one error per file, nil for
// each file that is durable. It never retries a failed flush (spec R10).
func (f *flusher) flush(files []fsys.File, epoch uint64) []error {
	r := &flushReq{files: files, errs: make([]error, len(files)), epoch: epoch}
	switch len(files) {
	case 0:
		return r.errs
	case 1:
		// A lone file (every Append) is fsynced at once, concurrently
		// with the other appenders' fsyncs, not queued behind a leader:
		// the block layer merges the cache flushes that wait together,
		// and measured here (BENCHMARKS.md, issue 16) 16 goroutines went
		// about twice as fast this way as behind a leader's syncfs,
		// which waits for the flush in progress and then writes back
		// the whole file system. Its fsync reports its own writeback
		// errors, whoever's flush met them (the descriptor sampled the
		// file's error sequence before the write), so no syncfs failure
		// concerns it.
		r.errs[0] = files[0].Sync()
		return r.errs
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queue = append(f.queue, r)
	for !r.done {
		if f.running {
			f.cond.Wait()
			continue
		}
		f.running = true
		group := f.queue
		f.queue = nil
		f.mu.Unlock()
		syncfsErr := f.run(group)
		f.mu.Lock()
		if syncfsErr != nil {
			f.fails++
			f.lastErr = syncfsErr
		}
		for _, g := range group {
			if f.fails != g.epoch {
				for i, err := range g.errs {
					if err == nil {
						g.errs[i] = f.lastErr
					}
				}
			}
			g.done = true
		}
		f.running = false
		f.cond.Broadcast()
	}
	return r.errs
}

// run makes one group's files durable, filling each request's errs. It
// returns the error of a failed syncfs, which concerns every file of the
// file system written before it, not only the group's.
func (f *flusher) run(group []*flushReq) error {
	n := 0
	for _, r := range group {
		n += len(r.files)
	}
	if n > 1 && !f.noSyncFS.Load() {
		if s, ok := f.fs.(fsys.FileSystemSyncer); ok {
			// One syncfs writes back every file of the group (and all
			// else dirty on the file system) with a single cache flush.
			err := s.SyncFS()
			switch {
			case err == nil:
				return nil
			case errors.Is(err, errors.ErrUnsupported):
				f.noSyncFS.Store(true) // nothing was flushed: fsync each file
			default:
				for _, r := range group {
					for i := range r.errs {
						r.errs[i] = err
					}
				}
				return err
			}
		}
	}
	if n == 1 {
		for _, r := range group {
			for i, file := range r.files {
				r.errs[i] = file.Sync()
			}
		}
		return nil
	}
	// Concurrent fsyncs: each reports its own file's writeback errors,
	// and the flushes that wait together are merged by the block layer.
	sem := make(chan struct{}, maxFsyncs)
	var wg sync.WaitGroup
	for _, r := range group {
		for i, file := range r.files {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				r.errs[i] = file.Sync()
			})
		}
	}
	wg.Wait()
	return nil
}
