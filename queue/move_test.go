//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package queue

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"syscall"
	"testing"

	"github.com/capq/capq/internal/fsys"
)

// TestMoveNeverReplaces checks moveNoReplace, the move of dead letters,
// quarantine and requeue, on each way a system has of not replacing: the
// one-call rename that refuses a target (renameat2 on Linux; Mem's), and
// the check-then-rename of the systems without one (the portable paths,
// which macOS's fallback and the BSDs run; a file system without the
// call). A target that exists fails with EEXIST (fs.ErrExist) and both
// files keep their bytes; a free target is moved to (spec R45).
func TestMoveNeverReplaces(t *testing.T) {
	t.Parallel()
	type backend struct {
		name string
		open func(t *testing.T) fsys.FS
		// oneCall: the FS's own RenameNoReplace decides, with no
		// fallback to check-then-rename.
		oneCall func(fsys.FS) bool
	}
	yes := func(fsys.FS) bool { return true }
	no := func(fsys.FS) bool { return false }
	// The real disk's backend has the call on Linux and macOS, unless
	// the portable paths are forced (the capq_portable tag).
	native := func(f fsys.FS) bool {
		_, has := f.(fsys.NoReplaceRenamer)
		return has && !f.(*fsys.OS).Portable()
	}
	osBackend := func(open func(string) (*fsys.OS, error)) func(t *testing.T) fsys.FS {
		return func(t *testing.T) fsys.FS {
			o, err := open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { o.Close() })
			return o
		}
	}
	backends := []backend{
		{"os", osBackend(fsys.OpenOS), native},
		{"portable", osBackend(fsys.OpenPortable), no},
		{"mem", func(*testing.T) fsys.FS { return fsys.NewMem(nil).FS() }, yes},
		// A Fault hides RenameNoReplace, as a file system of a
		// system without the call.
		{"mem-without-call", func(*testing.T) fsys.FS { return fsys.NewFault(fsys.NewMem(nil).FS()) }, no},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			fsy := b.open(t)
			oneCall := b.oneCall(fsy)
			q := openMem(t, fsy, Options{spareLocks: -1})
			write := func(name, data string) {
				t.Helper()
				f, err := fsy.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.Write([]byte(data)); err != nil {
					t.Fatal(err)
				}
				f.Close()
			}
			read := func(name string) string {
				t.Helper()
				f, err := fsy.OpenFile(name, os.O_RDONLY, 0)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				defer f.Close()
				b, err := io.ReadAll(f)
				if err != nil {
					t.Fatal(err)
				}
				return string(b)
			}
			write("src", "record")
			write("dst", "earlier dead letter")
			if err := fsy.Mkdir("sub", 0o700); err != nil {
				t.Fatal(err)
			}
			write("sub/dst", "earlier quarantined file")
			for _, dst := range []string{"dst", "sub/dst"} {
				err := q.moveNoReplace("src", dst)
				if !errors.Is(err, fs.ErrExist) || !errors.Is(err, syscall.EEXIST) {
					t.Fatalf("move onto %s: %v, want EEXIST", dst, err)
				}
			}
			if got := read("dst"); got != "earlier dead letter" {
				t.Fatalf("dst replaced: %q", got)
			}
			if got := read("sub/dst"); got != "earlier quarantined file" {
				t.Fatalf("sub/dst replaced: %q", got)
			}
			if got := read("src"); got != "record" {
				t.Fatalf("src after the refused moves: %q", got)
			}
			if err := q.moveNoReplace("src", "sub/free"); err != nil {
				t.Fatal(err)
			}
			if got := read("sub/free"); got != "record" {
				t.Fatalf("moved file: %q", got)
			}
			if _, err := fsy.Lstat("src"); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("src after the move: %v", err)
			}
			// Which path decided: the one call refuses by itself, so
			// a target planted behind the check's back is still safe.
			if rn, ok := fsy.(fsys.NoReplaceRenamer); ok {
				err := rn.RenameNoReplace("sub/free", "dst")
				if oneCall != errors.Is(err, fs.ErrExist) {
					t.Fatalf("RenameNoReplace onto dst: %v (one call expected: %v)", err, oneCall)
				}
				if !oneCall && !errors.Is(err, errors.ErrUnsupported) {
					t.Fatalf("RenameNoReplace on a backend without the call: %v, want ErrUnsupported", err)
				}
			} else if oneCall {
				t.Fatalf("%T has no RenameNoReplace", fsy)
			}
		})
	}
}
