package main

import (
	"bytes"
	"encoding/binary"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// watcher turns inotify events on the queue directory into wake-ups,
// coalesced: one pending wake-up stands for any number of events.
type watcher struct {
	f      *os.File
	events chan struct{}
	once   sync.Once
}

// newWatcher watches dir for records appearing: IN_MOVED_TO is capq's and
// the reference's rename of a finished record, IN_CLOSE_WRITE and
// IN_CREATE catch writers that create the final name directly;
// IN_MOVE_SELF and IN_DELETE_SELF say the directory itself moved or went.
func newWatcher(dir string) (*watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, err
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_MOVED_TO|unix.IN_CLOSE_WRITE|unix.IN_CREATE|unix.IN_MOVE_SELF|unix.IN_DELETE_SELF); err != nil {
		unix.Close(fd)
		return nil, err
	}
	// A non-blocking descriptor makes os.File use the runtime poller, so
	// close unblocks the reading goroutine.
	w := &watcher{f: os.NewFile(uintptr(fd), "inotify"), events: make(chan struct{}, 1)}
	go w.read()
	return w, nil
}

func (w *watcher) read() {
	buf := make([]byte, 64<<10)
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			return
		}
		wake := false
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			// struct inotify_event: wd, mask, cookie, len (native
			// endian), then len bytes of NUL-padded name.
			mask := binary.NativeEndian.Uint32(buf[off+4:])
			nameLen := int(binary.NativeEndian.Uint32(buf[off+12:]))
			if off+unix.SizeofInotifyEvent+nameLen > n {
				break
			}
			name := bytes.TrimRight(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+nameLen], "\x00")
			off += unix.SizeofInotifyEvent + nameLen
			// Our own lock files and the tmp files of appends in progress
			// are not records: waking for them would only spin.
			// The directory moving or going wakes the drain, which then
			// checks --dir (IN_MOVE_SELF, IN_DELETE_SELF).
			if mask&(unix.IN_Q_OVERFLOW|unix.IN_MOVE_SELF|unix.IN_DELETE_SELF) != 0 || (bytes.HasPrefix(name, []byte("pending-")) && bytes.HasSuffix(name, []byte(".json"))) {
				wake = true
			}
		}
		if wake {
			select {
			case w.events <- struct{}{}:
			default:
			}
		}
	}
}
