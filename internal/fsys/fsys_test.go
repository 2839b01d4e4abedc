package fsys

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"sort"
	"testing"
	"time"
)

// newFSFunc makes a fresh, empty FS for one subtest, and a function that
// plants a symlink in it (the FS interface cannot create one).
type newFSFunc func(t *testing.T) (fsys FS, symlink func(target, name string) error)

// testFS runs the conformance suite: the contract of FS and File that every
// implementation must meet, whatever its durability model.
func testFS(t *testing.T, newFS newFSFunc) {
	for _, tc := range conformance {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fsys, symlink := newFS(t)
			t.Cleanup(func() { fsys.Close() })
			tc.run(t, fsys, symlink)
		})
	}
}

var conformance = []struct {
	name string
	run  func(t *testing.T, fsys FS, symlink func(target, name string) error)
}{
	{"CreateExcl", func(t *testing.T, fsys FS, _ func(string, string) error) {
		f := mustOpen(t, fsys, "a", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		mustClose(t, f)
		_, err := fsys.OpenFile("a", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		wantErrno(t, err, EEXIST)
		if !errors.Is(err, fs.ErrExist) {
			t.Errorf("O_EXCL on existing: %v is not fs.ErrExist", err)
		}
		fi := mustLstat(t, fsys, "a")
		if !fi.IsRegular() || fi.Mode.Perm() != 0o600 || fi.Name != "a" || fi.Size != 0 {
			t.Errorf("Lstat(a) = %+v, want empty regular file a with perm 0600", fi)
		}
		// O_CREATE without O_EXCL opens the existing file.
		mustClose(t, mustOpen(t, fsys, "a", os.O_WRONLY|os.O_CREATE, 0o600))
	}},
	{"OpenMissing", func(t *testing.T, fsys FS, _ func(string, string) error) {
		_, err := fsys.OpenFile("missing", os.O_RDONLY, 0)
		wantErrno(t, err, ENOENT)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("open missing: %v is not fs.ErrNotExist", err)
		}
		_, err = fsys.OpenFile("nodir/x", os.O_RDWR|os.O_CREATE, 0o600)
		wantErrno(t, err, ENOENT)
	}},
	{"WriteReadBack", func(t *testing.T, fsys FS, _ func(string, string) error) {
		f := mustOpen(t, fsys, "a", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		mustWrite(t, f, "hello, ")
		mustWrite(t, f, "world")
		if err := f.Sync(); err != nil {
			t.Fatalf("Sync: %v", err)
		}
		fi, err := f.Stat()
		if err != nil || fi.Size != 12 || fi.Name != "a" || !fi.IsRegular() {
			t.Errorf("Stat = %+v, %v; want regular a of size 12", fi, err)
		}
		if _, err := f.Read(make([]byte, 1)); err == nil {
			t.Errorf("Read of O_WRONLY file succeeded")
		}
		mustClose(t, f)
		if got := readAll(t, fsys, "a"); got != "hello, world" {
			t.Errorf("read back %q", got)
		}

		r := mustOpen(t, fsys, "a", os.O_RDONLY, 0)
		defer r.Close()
		if _, err := r.Write([]byte("x")); !errors.Is(err, EBADF) {
			t.Errorf("Write to O_RDONLY file: %v, want EBADF", err)
		}
		if n, err := r.Read(make([]byte, 100)); n != 12 || err != nil {
			t.Errorf("Read = %d, %v; want 12, nil", n, err)
		}
		if n, err := r.Read(make([]byte, 100)); n != 0 || err != io.EOF {
			t.Errorf("Read at end = %d, %v; want 0, io.EOF", n, err)
		}
		// Stat of the open file and Lstat of its name agree on identity.
		rfi, err := r.Stat()
		if err != nil || rfi.Ino != mustLstat(t, fsys, "a").Ino {
			t.Errorf("Stat = %+v, %v; inode differs from Lstat's", rfi, err)
		}
	}},
	{"AppendAndTrunc", func(t *testing.T, fsys FS, _ func(string, string) error) {
		f := mustOpen(t, fsys, "a", os.O_WRONLY|os.O_CREATE, 0o600)
		mustWrite(t, f, "one")
		mustClose(t, f)
		a := mustOpen(t, fsys, "a", os.O_WRONLY|os.O_APPEND, 0)
		mustWrite(t, a, "two")
		mustClose(t, a)
		if got := readAll(t, fsys, "a"); got != "onetwo" {
			t.Errorf("after O_APPEND: %q", got)
		}
		tr := mustOpen(t, fsys, "a", os.O_WRONLY|os.O_TRUNC, 0)
		mustWrite(t, tr, "3")
		mustClose(t, tr)
		if got := readAll(t, fsys, "a"); got != "3" {
			t.Errorf("after O_TRUNC: %q", got)
		}
	}},
	{"RenameReplace", func(t *testing.T, fsys FS, _ func(string, string) error) {
		writeFile(t, fsys, "a", "new")
		writeFile(t, fsys, "b", "old")
		ino := mustLstat(t, fsys, "a").Ino
		if err := fsys.Rename("a", "b"); err != nil {
			t.Fatalf("Rename: %v", err)
		}
		if got := readAll(t, fsys, "b"); got != "new" {
			t.Errorf("b = %q after rename over it", got)
		}
		if fi := mustLstat(t, fsys, "b"); fi.Ino != ino {
			t.Errorf("b has inode %d, want the renamed file's %d", fi.Ino, ino)
		}
		_, err := fsys.Lstat("a")
		wantErrno(t, err, ENOENT)
		wantErrno(t, fsys.Rename("a", "c"), ENOENT)
		if !errors.Is(fsys.Rename("a", "c"), fs.ErrNotExist) {
			t.Errorf("rename missing is not fs.ErrNotExist")
		}
	}},
	{"Remove", func(t *testing.T, fsys FS, _ func(string, string) error) {
		writeFile(t, fsys, "a", "x")
		if err := fsys.Remove("a"); err != nil {
			t.Fatalf("Remove: %v", err)
		}
		_, err := fsys.Lstat("a")
		wantErrno(t, err, ENOENT)
		wantErrno(t, fsys.Remove("a"), ENOENT)
		mustMkdir(t, fsys, "d")
		wantErrno(t, fsys.Remove("d"), EISDIR)
	}},
	{"Subdir", func(t *testing.T, fsys FS, _ func(string, string) error) {
		mustMkdir(t, fsys, "d")
		wantErrno(t, fsys.Mkdir("d", 0o755), EEXIST)
		writeFile(t, fsys, "f", "")
		wantErrno(t, fsys.Mkdir("f", 0o755), EEXIST)
		wantErrno(t, fsys.Mkdir("nodir/d", 0o755), ENOENT)
		fi := mustLstat(t, fsys, "d")
		if !fi.Mode.IsDir() || fi.Mode.Perm() != 0o755 || fi.Name != "d" {
			t.Errorf("Lstat(d) = %+v, want directory d with perm 0755", fi)
		}
		_, err := fsys.OpenFile("f/x", os.O_RDWR|os.O_CREATE, 0o600)
		wantErrno(t, err, ENOTDIR)

		writeFile(t, fsys, "d/x", "in d")
		if fi := mustLstat(t, fsys, "d/x"); fi.Name != "x" || fi.Size != 4 {
			t.Errorf("Lstat(d/x) = %+v", fi)
		}
		// Renames between the root and a subdirectory, both ways.
		if err := fsys.Rename("d/x", "y"); err != nil {
			t.Fatalf("Rename(d/x, y): %v", err)
		}
		if err := fsys.Rename("y", "d/z"); err != nil {
			t.Fatalf("Rename(y, d/z): %v", err)
		}
		if got := readAll(t, fsys, "d/z"); got != "in d" {
			t.Errorf("d/z = %q", got)
		}
		if err := fsys.Remove("d/z"); err != nil {
			t.Errorf("Remove(d/z): %v", err)
		}
		if err := fsys.SyncDir("d"); err != nil {
			t.Errorf("SyncDir(d): %v", err)
		}
		if err := fsys.SyncDir("."); err != nil {
			t.Errorf("SyncDir(.): %v", err)
		}
		wantErrno(t, fsys.SyncDir("nodir"), ENOENT)
	}},
	{"OpenDir", func(t *testing.T, fsys FS, _ func(string, string) error) {
		mustMkdir(t, fsys, "d")
		_, err := fsys.OpenFile("d", os.O_WRONLY, 0)
		wantErrno(t, err, EISDIR)
		_, err = fsys.OpenFile("d", os.O_RDWR|os.O_CREATE, 0o600)
		wantErrno(t, err, EISDIR)
		for _, name := range []string{"d", "."} {
			f := mustOpen(t, fsys, name, os.O_RDONLY, 0)
			if _, err := f.Read(make([]byte, 10)); !errors.Is(err, EISDIR) {
				t.Errorf("Read of directory %s: %v, want EISDIR", name, err)
			}
			if fi, err := f.Stat(); err != nil || !fi.Mode.IsDir() {
				t.Errorf("Stat of directory %s = %+v, %v", name, fi, err)
			}
			mustClose(t, f)
		}
	}},
	{"LstatRoot", func(t *testing.T, fsys FS, _ func(string, string) error) {
		fi := mustLstat(t, fsys, ".")
		if !fi.Mode.IsDir() || fi.Name != "." || fi.Ino == 0 {
			t.Errorf("Lstat(.) = %+v, want directory named .", fi)
		}
		_, err := fsys.Lstat("missing")
		wantErrno(t, err, ENOENT)
	}},
	{"ReadDir", func(t *testing.T, fsys FS, symlink func(string, string) error) {
		writeFile(t, fsys, "file", "x")
		mustMkdir(t, fsys, "dir")
		writeFile(t, fsys, "dir/inner", "y")
		if err := symlink("file", "link"); err != nil {
			t.Fatalf("symlink: %v", err)
		}
		want := map[string]EntryType{"file": TypeRegular, "dir": TypeDir, "link": TypeSymlink}
		got := map[string]EntryType{}
		err := fsys.ReadDir(".", func(name []byte, typ EntryType) error {
			got[string(name)] = typ // string(name) copies, as fn must
			return nil
		})
		if err != nil {
			t.Fatalf("ReadDir: %v", err)
		}
		if len(got) != len(want) {
			t.Errorf("ReadDir(.) = %v, want %v", got, want)
		}
		for name, typ := range want {
			if g, ok := got[name]; !ok || (g != typ && g != TypeUnknown) {
				t.Errorf("ReadDir(.)[%q] = %v (present %v), want %v", name, g, ok, typ)
			}
		}
		names := readDirNames(t, fsys, "dir")
		if !slices.Equal(names, []string{"inner"}) {
			t.Errorf("ReadDir(dir) = %v", names)
		}

		// An error from fn stops the listing and is returned as is.
		stop := errors.New("stop")
		calls := 0
		err = fsys.ReadDir(".", func([]byte, EntryType) error { calls++; return stop })
		if err != stop || calls != 1 {
			t.Errorf("ReadDir with failing fn = %v after %d calls, want stop after 1", err, calls)
		}

		err = fsys.ReadDir("missing", func([]byte, EntryType) error { return nil })
		wantErrno(t, err, ENOENT)
		err = fsys.ReadDir("file", func([]byte, EntryType) error { return nil })
		wantErrno(t, err, ENOTDIR)
	}},
	{"Symlinks", func(t *testing.T, fsys FS, symlink func(string, string) error) {
		writeFile(t, fsys, "target", "secret")
		mustMkdir(t, fsys, "realdir")
		if err := symlink("target", "link"); err != nil {
			t.Fatalf("symlink: %v", err)
		}
		if err := symlink("realdir", "dirlink"); err != nil {
			t.Fatalf("symlink: %v", err)
		}
		for _, flag := range []int{os.O_RDONLY, os.O_WRONLY, os.O_RDWR | os.O_CREATE, os.O_WRONLY | os.O_TRUNC} {
			_, err := fsys.OpenFile("link", flag, 0o600)
			wantErrno(t, err, ELOOP)
		}
		_, err := fsys.OpenFile("link", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		wantErrno(t, err, EEXIST)
		if got := readAll(t, fsys, "target"); got != "secret" {
			t.Errorf("target changed through the link: %q", got)
		}
		if fi := mustLstat(t, fsys, "link"); fi.Mode&fs.ModeSymlink == 0 {
			t.Errorf("Lstat(link) = %v, want a symlink", fi.Mode)
		}

		// A symlink as the directory component is never followed. Linux
		// reports ENOTDIR rather than ELOOP for O_NOFOLLOW|O_DIRECTORY.
		_, err = fsys.OpenFile("dirlink/x", os.O_RDWR|os.O_CREATE, 0o600)
		wantErrno(t, err, ELOOP, ENOTDIR)
		_, err = fsys.Lstat("dirlink/x")
		wantErrno(t, err, ELOOP, ENOTDIR)
		err = fsys.ReadDir("dirlink", func([]byte, EntryType) error { return nil })
		wantErrno(t, err, ELOOP, ENOTDIR)
		if names := readDirNames(t, fsys, "realdir"); len(names) != 0 {
			t.Errorf("realdir gained %v through the link", names)
		}

		// Rename and Remove act on the link itself.
		if err := fsys.Rename("link", "link2"); err != nil {
			t.Fatalf("Rename(link): %v", err)
		}
		if fi := mustLstat(t, fsys, "link2"); fi.Mode&fs.ModeSymlink == 0 {
			t.Errorf("renamed link is %v", fi.Mode)
		}
		if err := fsys.Remove("link2"); err != nil {
			t.Fatalf("Remove(link2): %v", err)
		}
		if got := readAll(t, fsys, "target"); got != "secret" {
			t.Errorf("target after removing the link: %q", got)
		}
	}},
	{"Flock", func(t *testing.T, fsys FS, _ func(string, string) error) {
		writeFile(t, fsys, "lock", "")
		a := mustOpen(t, fsys, "lock", os.O_RDWR, 0)
		defer a.Close()
		b := mustOpen(t, fsys, "lock", os.O_RDONLY, 0)
		defer b.Close()

		mustFlock(t, a, LockExclusive|LockNonBlocking)
		mustFlock(t, a, LockExclusive|LockNonBlocking) // already held: no-op
		wantErrno(t, b.Flock(LockExclusive|LockNonBlocking), ErrWouldBlock)
		wantErrno(t, b.Flock(LockShared|LockNonBlocking), ErrWouldBlock)
		mustFlock(t, a, Unlock)
		mustFlock(t, b, LockShared|LockNonBlocking)
		mustFlock(t, a, LockShared|LockNonBlocking) // shared with shared
		wantErrno(t, a.Flock(LockExclusive|LockNonBlocking), ErrWouldBlock)

		// Closing releases the lock.
		mustFlock(t, a, Unlock)
		mustClose(t, b)
		mustFlock(t, a, LockExclusive|LockNonBlocking)
	}},
	{"FlockBlocking", func(t *testing.T, fsys FS, _ func(string, string) error) {
		writeFile(t, fsys, "lock", "")
		a := mustOpen(t, fsys, "lock", os.O_RDWR, 0)
		defer a.Close()
		b := mustOpen(t, fsys, "lock", os.O_RDWR, 0)
		defer b.Close()
		mustFlock(t, a, LockExclusive)
		done := make(chan error, 1)
		go func() { done <- b.Flock(LockExclusive) }()
		select {
		case err := <-done:
			t.Fatalf("blocking Flock returned %v while the lock was held", err)
		case <-time.After(50 * time.Millisecond):
		}
		mustFlock(t, a, Unlock)
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("blocking Flock: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("blocking Flock still waiting after Unlock")
		}
		wantErrno(t, a.Flock(LockShared|LockNonBlocking), ErrWouldBlock)
	}},
	{"FlockUnlinkedInode", func(t *testing.T, fsys FS, _ func(string, string) error) {
		// The lock-file protocol depends on this: a lock belongs to the
		// inode, so after the holder's name is unlinked and recreated, the
		// new file is unlocked while the old inode stays locked.
		writeFile(t, fsys, "lock", "")
		holder := mustOpen(t, fsys, "lock", os.O_RDWR, 0)
		defer holder.Close()
		stale := mustOpen(t, fsys, "lock", os.O_RDWR, 0)
		defer stale.Close()
		mustFlock(t, holder, LockExclusive|LockNonBlocking)
		if err := fsys.Remove("lock"); err != nil {
			t.Fatalf("Remove: %v", err)
		}
		fresh := mustOpen(t, fsys, "lock", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		defer fresh.Close()
		mustFlock(t, fresh, LockExclusive|LockNonBlocking)
		wantErrno(t, stale.Flock(LockExclusive|LockNonBlocking), ErrWouldBlock)
		hfi, _ := holder.Stat()
		ffi, _ := fresh.Stat()
		if hfi.Ino == ffi.Ino {
			t.Errorf("recreated file has the unlinked file's inode %d", hfi.Ino)
		}
	}},
	{"CreateLocked", func(t *testing.T, fsys FS, symlink func(string, string) error) {
		// Spec R45: the file is locked by its creator when its name
		// appears, it never replaces an entry, and no other name is left
		// behind by a successful creation.
		mustMkdir(t, fsys, "sub")
		for _, name := range []string{"x.lock", "sub/y.lock"} {
			f, err := fsys.CreateLocked(name, 0o600)
			if err != nil {
				t.Fatalf("CreateLocked(%q): %v", name, err)
			}
			other := mustOpen(t, fsys, name, os.O_RDWR, 0)
			wantErrno(t, other.Flock(LockExclusive|LockNonBlocking), ErrWouldBlock)
			wantErrno(t, other.Flock(LockShared|LockNonBlocking), ErrWouldBlock)
			if fi := mustLstat(t, fsys, name); !fi.IsRegular() || fi.Mode.Perm() != 0o600 {
				t.Errorf("Lstat(%q) = %v, want a regular file with mode 0600", name, fi.Mode)
			}
			_, err = fsys.CreateLocked(name, 0o600)
			wantErrno(t, err, EEXIST)
			mustFlock(t, f, Unlock)
			mustFlock(t, other, LockExclusive|LockNonBlocking)
			mustClose(t, other)
			mustClose(t, f)
		}
		if got := readDirNames(t, fsys, "."); !slices.Equal(got, []string{"sub", "x.lock"}) {
			t.Errorf("after CreateLocked, ReadDir(.) = %v, want [sub x.lock]", got)
		}
		if got := readDirNames(t, fsys, "sub"); !slices.Equal(got, []string{"y.lock"}) {
			t.Errorf("after CreateLocked, ReadDir(sub) = %v, want [y.lock]", got)
		}
		// Neither a file, a directory nor a symlink (even a dangling one)
		// is replaced or followed.
		mustMkdir(t, fsys, "d.lock")
		if err := symlink("nowhere", "s.lock"); err != nil {
			t.Fatalf("symlink: %v", err)
		}
		for _, name := range []string{"x.lock", "d.lock", "s.lock"} {
			_, err := fsys.CreateLocked(name, 0o600)
			wantErrno(t, err, EEXIST)
		}
		if fi := mustLstat(t, fsys, "s.lock"); fi.Mode&fs.ModeSymlink == 0 {
			t.Errorf("CreateLocked replaced the symlink s.lock: %v", fi.Mode)
		}
		_, err := fsys.CreateLocked("missing/z.lock", 0o600)
		wantErrno(t, err, ENOENT)
	}},
	{"ReadDirMany", func(t *testing.T, fsys FS, _ func(string, string) error) {
		// Spec R45: a listing larger than any batch or buffer of the
		// implementation reports every entry exactly once.
		const n = 1500
		for i := range n {
			f := mustOpen(t, fsys, fmt.Sprintf("f%04d", i), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			mustClose(t, f)
		}
		seen := make(map[string]int, n)
		err := fsys.ReadDir(".", func(name []byte, typ EntryType) error {
			seen[string(name)]++
			if typ != TypeRegular && typ != TypeUnknown {
				t.Errorf("ReadDir: %s has type %v", name, typ)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("ReadDir: %v", err)
		}
		if len(seen) != n {
			t.Errorf("ReadDir listed %d names, want %d", len(seen), n)
		}
		for name, c := range seen {
			if c != 1 {
				t.Errorf("ReadDir listed %s %d times", name, c)
			}
		}
	}},
	{"CloseFS", func(t *testing.T, fsys FS, _ func(string, string) error) {
		f := mustOpen(t, fsys, "a", os.O_RDWR|os.O_CREATE, 0o600)
		if err := fsys.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		// Files outlive the FS they were opened from.
		mustWrite(t, f, "still open")
		if err := f.Sync(); err != nil {
			t.Errorf("Sync after FS.Close: %v", err)
		}
		mustClose(t, f)
	}},
	{"BadNames", func(t *testing.T, fsys FS, _ func(string, string) error) {
		mustMkdir(t, fsys, "d")
		for _, name := range []string{"", "/etc/passwd", "../x", "d/../x", "d/./x", "d/", "d//x"} {
			if f, err := fsys.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600); err == nil {
				f.Close()
				t.Errorf("OpenFile(%q) succeeded", name)
			}
		}
	}},
}

func wantErrno(t *testing.T, err error, want ...Errno) {
	t.Helper()
	for _, w := range want {
		if errors.Is(err, w) {
			return
		}
	}
	t.Errorf("got error %v, want one wrapping %v", err, want)
}

func mustOpen(t *testing.T, fsys FS, name string, flag int, perm fs.FileMode) File {
	t.Helper()
	f, err := fsys.OpenFile(name, flag, perm)
	if err != nil {
		t.Fatalf("OpenFile(%q): %v", name, err)
	}
	return f
}

func mustClose(t *testing.T, f File) {
	t.Helper()
	if err := f.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func mustWrite(t *testing.T, f File, s string) {
	t.Helper()
	if n, err := f.Write([]byte(s)); n != len(s) || err != nil {
		t.Fatalf("Write(%q) = %d, %v", s, n, err)
	}
}

func mustFlock(t *testing.T, f File, how LockHow) {
	t.Helper()
	if err := f.Flock(how); err != nil {
		t.Fatalf("Flock(%d): %v", how, err)
	}
}

func mustMkdir(t *testing.T, fsys FS, name string) {
	t.Helper()
	if err := fsys.Mkdir(name, 0o755); err != nil {
		t.Fatalf("Mkdir(%q): %v", name, err)
	}
}

func mustLstat(t *testing.T, fsys FS, name string) FileInfo {
	t.Helper()
	fi, err := fsys.Lstat(name)
	if err != nil {
		t.Fatalf("Lstat(%q): %v", name, err)
	}
	return fi
}

// writeFile creates or truncates name and writes s, without syncing.
func writeFile(t *testing.T, fsys FS, name, s string) {
	t.Helper()
	f := mustOpen(t, fsys, name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	mustWrite(t, f, s)
	mustClose(t, f)
}

func readAll(t *testing.T, fsys FS, name string) string {
	t.Helper()
	f := mustOpen(t, fsys, name, os.O_RDONLY, 0)
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatalf("reading %q: %v", name, err)
	}
	return string(b)
}

func readDirNames(t *testing.T, fsys FS, dir string) []string {
	t.Helper()
	var names []string
	err := fsys.ReadDir(dir, func(name []byte, _ EntryType) error {
		names = append(names, string(name))
		return nil
	})
	if err != nil {
		t.Fatalf("ReadDir(%q): %v", dir, err)
	}
	sort.Strings(names)
	return names
}

func TestMemFS(t *testing.T) {
	t.Parallel()
	testFS(t, func(t *testing.T) (FS, func(string, string) error) {
		m := NewMem(nil)
		return m.FS(), m.Symlink
	})
}

func TestFaultFS(t *testing.T) {
	t.Parallel()
	// With no rules, a Fault is transparent.
	testFS(t, func(t *testing.T) (FS, func(string, string) error) {
		m := NewMem(nil)
		return NewFault(m.FS()), m.Symlink
	})
}
