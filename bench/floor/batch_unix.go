//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package floor

import (
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// AppendBatch is the durable append protocol for many records at once:
// create every tmp file with O_EXCL and write it, make them all durable as
// mode says, close them, rename each to its final name, then one syncDir
// (nil skips it). tmps, finals and data have one element per record.
func (d *Dir) AppendBatch(tmps, finals []string, data [][]byte, mode BatchMode, syncDir func() error) error {
	return d.appendBatch(func(i int) (int, error) { return d.create(tmps[i]) }, tmps, finals, data, mode, syncDir)
}

// AppendBatchSpare is AppendBatch in mode BatchSyncFS with the inode
// allocation taken off the critical path (issue 16): instead of creating
// each tmp file, it renames a spare, an empty file created beforehand
// (with [Dir.WriteFile]), to the tmp name and opens it for writing.
// spares has one name per record.
func (d *Dir) AppendBatchSpare(spares, tmps, finals []string, data [][]byte, syncDir func() error) error {
	return d.appendBatch(func(i int) (int, error) {
		if err := unix.Renameat(d.fd, spares[i], d.fd, tmps[i]); err != nil {
			return -1, fmt.Errorf("floor: rename %s: %w", spares[i], err)
		}
		fd, err := unix.Openat(d.fd, tmps[i], unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, fmt.Errorf("floor: open %s: %w", tmps[i], err)
		}
		return fd, nil
	}, tmps, finals, data, BatchSyncFS, syncDir)
}

func (d *Dir) appendBatch(open func(i int) (int, error), tmps, finals []string, data [][]byte, mode BatchMode, syncDir func() error) error {
	fds := make([]int, 0, len(tmps))
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for i, tmp := range tmps {
		fd, err := open(i)
		if err != nil {
			return err
		}
		fds = append(fds, fd)
		if err := writeAll(fd, data[i]); err != nil {
			return fmt.Errorf("floor: write %s: %w", tmp, err)
		}
	}
	var err error
	switch mode {
	case BatchSequential:
		for _, fd := range fds {
			if err = fsync(fd); err != nil {
				break
			}
		}
	case BatchConcurrent:
		errs := make([]error, len(fds))
		var wg sync.WaitGroup
		for i, fd := range fds {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = fsync(fd)
			}()
		}
		wg.Wait()
		err = errors.Join(errs...)
	case BatchSyncFileRange:
		for _, fd := range fds {
			if err = startWriteback(fd); err != nil {
				break
			}
		}
		for _, fd := range fds {
			if err != nil {
				break
			}
			err = fsync(fd)
		}
	case BatchSyncFS:
		err = d.SyncFS()
	default:
		err = fmt.Errorf("floor: unknown batch mode %d", int(mode))
	}
	if err != nil {
		return fmt.Errorf("floor: batch %s: %w", mode, err)
	}
	for _, fd := range fds {
		if err := unix.Close(fd); err != nil {
			return fmt.Errorf("floor: close: %w", err)
		}
	}
	fds = fds[:0]
	// The renames are Append's, in a loop: Append itself stays free of
	// slices, so the floor's lone append allocates nothing.
	for i, tmp := range tmps {
		if err := unix.Renameat(d.fd, tmp, d.fd, finals[i]); err != nil {
			return fmt.Errorf("floor: rename %s: %w", tmp, err)
		}
	}
	return syncAfterRename(syncDir)
}
