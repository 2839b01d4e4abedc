//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package main

import (
	"errors"
	"sync"
)

// watcher would turn directory events into wake-ups; there is neither
// inotify (watch_linux.go) nor kqueue (watch_kqueue.go) here, so
// newWatcher fails and drain --follow rescans the directory every
// rescanEvery instead.
type watcher struct {
	events chan struct{}
	once   sync.Once
	f      interface{ Close() error }
}

func newWatcher(string) (*watcher, error) {
	return nil, errors.New("no inotify or kqueue on this system")
}
