//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package fsys

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

// lockRace makes workers goroutines race, round after round, for one fresh
// lock name per round: each tries create (the lock creation under test);
// the one that wins holds the lock a moment, notes that it let go, and
// closes; the others open the name as soon as it exists and take the lock
// without blocking as soon as they can, as a consumer finding a lock file
// does. flock locks belong to open file descriptions, so goroutines with
// their own opens contend exactly as processes do.
//
// It returns how many times a consumer got the lock on a file whose creator
// had not yet let go: the race O_TMPFILE closes on Linux and the
// named-temporary-file creation must close everywhere. Names are never
// reused and files never removed, so an inode number identifies one
// creation.
func lockRace(t *testing.T, fsys FS, create func(name string) (File, error), workers, rounds int) (violations int) {
	t.Helper()
	var (
		mu       sync.Mutex
		released = map[uint64]bool{} // inode -> its creator has let go
	)
	for r := range rounds {
		name := fmt.Sprintf("race-%d.lock", r)
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, workers)
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				f, err := create(name)
				if err == nil {
					fi, err := f.Stat()
					if err != nil {
						errs <- err
						f.Close()
						return
					}
					mu.Lock()
					released[fi.Ino] = false
					mu.Unlock()
					time.Sleep(200 * time.Microsecond)
					mu.Lock()
					released[fi.Ino] = true
					mu.Unlock()
					errs <- f.Close()
					return
				}
				if !errors.Is(err, syscall.EEXIST) {
					errs <- fmt.Errorf("create %s: %w", name, err)
					return
				}
				deadline := time.Now().Add(10 * time.Second)
				for time.Now().Before(deadline) {
					g, err := fsys.OpenFile(name, os.O_RDWR, 0)
					if errors.Is(err, fs.ErrNotExist) {
						runtime.Gosched()
						continue
					}
					if err != nil {
						errs <- err
						return
					}
					err = g.Flock(LockExclusive | LockNonBlocking)
					if err == nil {
						fi, err := g.Stat()
						if err == nil {
							mu.Lock()
							if let, ok := released[fi.Ino]; !ok || !let {
								violations++
							}
							mu.Unlock()
						}
						g.Close()
						errs <- err
						return
					}
					g.Close()
					if !errors.Is(err, ErrWouldBlock) {
						errs <- err
						return
					}
					runtime.Gosched()
				}
				errs <- fmt.Errorf("%s: lock not free after 10s", name)
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v", r, err)
			}
		}
	}
	return violations
}

// widenLockWindow makes every lock creation pause between creating its
// file and locking it, for the duration of the test.
func widenLockWindow(t *testing.T) {
	lockWindowHook = func() { time.Sleep(time.Millisecond) }
	t.Cleanup(func() { lockWindowHook = nil })
}

// TestCreateLockedNeverSeenUnlocked is the proof that lock files are never
// seen unlocked by another consumer, for both backends: the Linux fast path
// (O_TMPFILE, then linkat) and the portable one (a named temporary file,
// locked, then linked), with the window between creation and lock widened
// so that a file given its name before its lock would be caught in every
// round. Spec R45, R47.
func TestCreateLockedNeverSeenUnlocked(t *testing.T) {
	widenLockWindow(t)
	for _, b := range []struct {
		name string
		open func(string) (*OS, error)
	}{
		{"default", OpenOS},
		{"portable", OpenPortable},
	} {
		t.Run(b.name, func(t *testing.T) {
			o, err := b.open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			create := func(name string) (File, error) { return o.CreateLocked(name, 0o600) }
			if v := lockRace(t, o, create, 6, 60); v != 0 {
				t.Errorf("%d consumers got the lock of a file its creator still held", v)
			}
		})
	}
}

// TestLockRaceDetectsUnlockedCreation shows that lockRace can fail: a lock
// creation that gives the file its name first (O_CREAT|O_EXCL) and locks it
// second is caught.
func TestLockRaceDetectsUnlockedCreation(t *testing.T) {
	widenLockWindow(t)
	o, err := OpenPortable(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	naive := func(name string) (File, error) {
		f, err := o.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, err
		}
		lockWindowHook()
		if err := f.Flock(LockExclusive); err != nil {
			f.Close()
			return nil, err
		}
		return f, nil
	}
	if v := lockRace(t, o, naive, 6, 20); v == 0 {
		t.Error("lockRace found no violation in a creation that names the file before locking it")
	}
}
