//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package main

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// watcher turns kqueue events on the queue directory into wake-ups,
// coalesced: one pending wake-up stands for any number of events.
//
// EVFILT_VNODE with NOTE_WRITE fires when an entry of the directory is
// created, renamed in or out, or removed; unlike inotify it does not say
// which, so capq's own lock files and appends in progress wake the drain
// too, at the cost of a pass that finds nothing new. Built for macOS and
// the BSDs but only cross-compiled: no test runs it on those systems (the
// 2 s rescan stays as the fallback when newWatcher fails).
type watcher struct {
	events chan struct{}
	once   sync.Once
	f      *kqueueFiles
}

// kqueueFiles holds the kqueue and the directory descriptor it watches.
// Close marks them done; the reading goroutine, which wakes at least
// once a second, closes them (closing a kqueue another thread waits on
// is not reliably woken on every one of these systems).
type kqueueFiles struct {
	kq, dir int
	done    atomic.Bool
}

// Close implements the watcher's close.
func (k *kqueueFiles) Close() error {
	k.done.Store(true)
	return nil
}

func newWatcher(dir string) (*watcher, error) {
	dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	kq, err := unix.Kqueue()
	if err != nil {
		unix.Close(dfd)
		return nil, err
	}
	unix.CloseOnExec(kq)
	var ev unix.Kevent_t
	unix.SetKevent(&ev, dfd, unix.EVFILT_VNODE, unix.EV_ADD|unix.EV_CLEAR)
	ev.Fflags = unix.NOTE_WRITE
	if _, err := unix.Kevent(kq, []unix.Kevent_t{ev}, nil, nil); err != nil {
		unix.Close(kq)
		unix.Close(dfd)
		return nil, err
	}
	w := &watcher{events: make(chan struct{}, 1), f: &kqueueFiles{kq: kq, dir: dfd}}
	go w.read()
	return w, nil
}

func (w *watcher) read() {
	k := w.f
	defer func() {
		unix.Close(k.kq)
		unix.Close(k.dir)
	}()
	evs := make([]unix.Kevent_t, 8)
	wait := unix.Timespec{Sec: 1}
	for !k.done.Load() {
		n, err := unix.Kevent(k.kq, nil, evs, &wait)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return // the rescan every rescanEvery still runs
		}
		if n > 0 {
			select {
			case w.events <- struct{}{}:
			default:
			}
		}
	}
}
