//go:build !linux

package main

import (
	"errors"
	"sync"
)

// watcher would turn directory events into wake-ups; there is no inotify
// here, so newWatcher fails and drain --follow rescans the directory every
// rescanEvery instead. (kqueue could watch a directory on macOS and the
// BSDs; not done yet.)
type watcher struct {
	events chan struct{}
	once   sync.Once
	f      interface{ Close() error }
}

func newWatcher(string) (*watcher, error) {
	return nil, errors.New("no inotify on this system")
}
