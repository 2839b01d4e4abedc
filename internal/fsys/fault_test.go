package fsys

import (
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
)

func newFault(t *testing.T) (*Mem, *Fault) {
	t.Helper()
	m := NewMem(nil)
	return m, NewFault(m.FS())
}

func TestFaultAfterTimes(t *testing.T) {
	t.Parallel()
	m, f := newFault(t)
	if err := m.WriteFile("a", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	file := mustOpen(t, f, "a", os.O_RDWR, 0)
	f.Inject(Rule{Op: OpSync, After: 1, Times: 2, Err: EIO})
	var got []bool
	for range 5 {
		got = append(got, file.Sync() == nil)
	}
	if want := []bool{true, false, false, true, true}; !slices.Equal(got, want) {
		t.Errorf("Sync successes = %v, want %v", got, want)
	}
	if f.Calls(OpSync) != 5 || f.Fired() != 2 {
		t.Errorf("Calls(OpSync) = %d, Fired = %d; want 5, 2", f.Calls(OpSync), f.Fired())
	}
	if f.Calls(OpOpen) != 1 || f.Calls(OpWrite) != 0 {
		t.Errorf("Calls(OpOpen) = %d, Calls(OpWrite) = %d; want 1, 0", f.Calls(OpOpen), f.Calls(OpWrite))
	}
}

func TestFaultForeverAndErrors(t *testing.T) {
	t.Parallel()
	_, f := newFault(t)
	f.Inject(Rule{Op: OpMkdir, Err: ENOSPC})
	for range 3 {
		err := f.Mkdir("d", 0o755)
		wantErrno(t, err, ENOSPC)
		var pe *fs.PathError
		if !errors.As(err, &pe) || pe.Op != "mkdir" || pe.Path != "d" {
			t.Errorf("error %#v, want *fs.PathError{mkdir, d}", err)
		}
	}
	if _, err := f.Lstat("d"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("failed Mkdir created d: %v", err)
	}
	// A rule without Err fails with EIO.
	f.Inject(Rule{Op: OpLstat})
	_, err := f.Lstat(".")
	wantErrno(t, err, EIO)
}

func TestFaultMatch(t *testing.T) {
	t.Parallel()
	m, f := newFault(t)
	for _, name := range []string{"tmp-1", "pending-1"} {
		if err := m.WriteFile(name, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pending := func(name string) bool { return strings.HasPrefix(name, "pending-") }
	f.Inject(Rule{Op: OpOpen, Match: pending, Err: EMFILE})
	f.Inject(Rule{Op: OpRename, Match: pending, Err: EDQUOT})
	if _, err := f.OpenFile("tmp-1", os.O_RDONLY, 0); err != nil {
		t.Errorf("open tmp-1: %v", err)
	}
	_, err := f.OpenFile("pending-1", os.O_RDONLY, 0)
	wantErrno(t, err, EMFILE)
	// A rename matches on either name; the failure changes nothing.
	err = f.Rename("tmp-1", "pending-2")
	wantErrno(t, err, EDQUOT)
	var le *os.LinkError
	if !errors.As(err, &le) || le.Old != "tmp-1" || le.New != "pending-2" {
		t.Errorf("rename error %#v, want *os.LinkError", err)
	}
	if got := m.Names("."); strings.Join(got, ",") != "pending-1,tmp-1" {
		t.Errorf("failed rename changed the directory: %v", got)
	}
	wantErrno(t, f.Rename("pending-1", "done-1"), EDQUOT)
	if err := f.Rename("tmp-1", "tmp-2"); err != nil {
		t.Errorf("unmatched rename: %v", err)
	}
}

func TestFaultShortWrite(t *testing.T) {
	t.Parallel()
	m, f := newFault(t)
	file := mustOpen(t, f, "a", os.O_WRONLY|os.O_CREATE, 0o600)
	f.Inject(Rule{Op: OpWrite, Times: 1, Err: ENOSPC, Short: true})
	n, err := file.Write([]byte("abcdef"))
	if n != 3 {
		t.Errorf("short Write wrote %d, want 3", n)
	}
	wantErrno(t, err, ENOSPC)
	mustWrite(t, file, "XYZ")
	if got := contents(t, m, "a"); got != "abcXYZ" {
		t.Errorf("a = %q, want %q", got, "abcXYZ")
	}
	// Without Short, a failed write writes nothing.
	f.Inject(Rule{Op: OpWrite, Times: 1, Err: EIO})
	if n, err := file.Write([]byte("more")); n != 0 || !errors.Is(err, EIO) {
		t.Errorf("failed Write = %d, %v", n, err)
	}
	if got := contents(t, m, "a"); got != "abcXYZ" {
		t.Errorf("a = %q after a failed write", got)
	}
}

func TestFaultCloseStillCloses(t *testing.T) {
	t.Parallel()
	m, f := newFault(t)
	if err := m.WriteFile("lock", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	a := mustOpen(t, f, "lock", os.O_RDWR, 0)
	mustFlock(t, a, LockExclusive)
	f.Inject(Rule{Op: OpClose, Times: 1, Err: EIO})
	wantErrno(t, a.Close(), EIO)
	// The lock went with the descriptor, and the file is closed.
	b := mustOpen(t, m.FS(), "lock", os.O_RDWR, 0)
	mustFlock(t, b, LockExclusive|LockNonBlocking)
	wantErrno(t, a.Close(), EBADF)
}

func TestFaultSyncAndFlockDoNothing(t *testing.T) {
	t.Parallel()
	m, f := newFault(t)
	file := mustOpen(t, f, "a", os.O_RDWR|os.O_CREATE, 0o600)
	mustWrite(t, file, "data")
	f.Inject(Rule{Op: OpSync, Times: 1})
	f.Inject(Rule{Op: OpFlock, Times: 1, Err: ENOLCK})
	wantErrno(t, file.Sync(), EIO)
	wantErrno(t, file.Flock(LockExclusive|LockNonBlocking), ENOLCK)
	other := mustOpen(t, m.FS(), "a", os.O_RDWR, 0)
	mustFlock(t, other, LockExclusive|LockNonBlocking) // a did not lock
	if err := f.SyncDir("."); err != nil {
		t.Fatal(err)
	}
	if got := contents(t, m.Crash(nil), "a"); got != "" {
		t.Errorf("after a failed Sync and a crash a = %q, want empty", got)
	}
}

func TestFaultRemoveFailsCleanly(t *testing.T) {
	t.Parallel()
	m, f := newFault(t)
	if err := m.WriteFile("a", []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	f.Inject(Rule{Op: OpRemove, Times: 1})
	wantErrno(t, f.Remove("a"), EIO)
	if got := contents(t, m, "a"); got != "x" {
		t.Errorf("a = %q after a failed Remove", got)
	}
	if err := f.Remove("a"); err != nil {
		t.Errorf("second Remove: %v", err)
	}
}

func TestFaultHookAndReset(t *testing.T) {
	t.Parallel()
	_, f := newFault(t)
	var seen []Call
	f.SetHook(func(c Call) error {
		seen = append(seen, c)
		if c.Op == OpSyncDir {
			return EDQUOT
		}
		return nil
	})
	wantErrno(t, f.SyncDir("."), EDQUOT)
	if err := f.Mkdir("d", 0o755); err != nil {
		t.Fatal(err)
	}
	wantErrno(t, f.Rename("x", "d/y"), ENOENT) // passed through
	want := []Call{{Op: OpSyncDir, Name: "."}, {Op: OpMkdir, Name: "d", Create: true}, {Op: OpRename, Name: "x", NewName: "d/y"}}
	if len(seen) != len(want) {
		t.Fatalf("hook saw %v, want %v", seen, want)
	}
	for i := range want {
		if seen[i] != want[i] {
			t.Errorf("hook call %d = %v, want %v", i, seen[i], want[i])
		}
	}
	if f.Fired() != 1 {
		t.Errorf("Fired = %d, want 1", f.Fired())
	}
	f.Inject(Rule{Op: OpMkdir})
	f.Reset()
	if f.Fired() != 0 || f.Calls(OpSyncDir) != 0 {
		t.Errorf("after Reset: Fired = %d, Calls(OpSyncDir) = %d", f.Fired(), f.Calls(OpSyncDir))
	}
	if err := f.SyncDir("."); err != nil {
		t.Errorf("SyncDir after Reset: %v", err)
	}
	if err := f.Mkdir("e", 0o755); err != nil {
		t.Errorf("Mkdir after Reset: %v", err)
	}
}

func TestFaultConcurrent(t *testing.T) {
	t.Parallel()
	_, f := newFault(t)
	f.Inject(Rule{Op: OpOpen, After: 10, Times: 50})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 25 {
				file, err := f.OpenFile(strings.Repeat("x", g+1), os.O_RDWR|os.O_CREATE, 0o600)
				if err == nil {
					file.Write([]byte{byte(i)})
					file.Close()
				}
			}
		})
	}
	wg.Wait()
	if f.Calls(OpOpen) != 200 || f.Fired() != 50 {
		t.Errorf("Calls(OpOpen) = %d, Fired = %d; want 200, 50", f.Calls(OpOpen), f.Fired())
	}
}

func TestOpString(t *testing.T) {
	t.Parallel()
	for op, want := range map[Op]string{OpOpen: "open", OpSyncDir: "syncdir", OpFlock: "flock", Op(200): "Op(200)"} {
		if got := op.String(); got != want {
			t.Errorf("Op(%d).String() = %q, want %q", uint8(op), got, want)
		}
	}
}

// Spec R33: InodeExhaustion fails every call that would make a new inode with
// ENOSPC, and nothing else: existing files open, write, rename and go
// away as usual (the wider fault model of the queue's tests).
func TestFaultInodeExhaustion(t *testing.T) {
	m, f := newFault(t)
	if err := m.WriteFile("old", []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, r := range InodeExhaustion() {
		f.Inject(r)
	}
	for _, tc := range []struct {
		name string
		call func() error
		fail bool
	}{
		{"create", func() error { _, err := f.OpenFile("new", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); return err }, true},
		{"create locked", func() error { _, err := f.CreateLocked("new.lock", 0o600); return err }, true},
		{"mkdir", func() error { return f.Mkdir("dir", 0o700) }, true},
		{"open existing with O_CREATE", func() error {
			file, err := f.OpenFile("old", os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
			if err == nil {
				_, err = file.Write([]byte("more"))
				file.Close()
			}
			return err
		}, false},
		{"rename", func() error { return f.Rename("old", "older") }, false},
		{"remove", func() error { return f.Remove("older") }, false},
	} {
		err := tc.call()
		if tc.fail != (err != nil) || tc.fail && !errors.Is(err, ENOSPC) {
			t.Errorf("%s: %v; want failure %v with ENOSPC", tc.name, err, tc.fail)
		}
	}
	if names := m.Names("."); len(names) != 0 {
		t.Errorf("entries left: %v", names)
	}
}

// Spec R31: a FIFO in a Mem opens as on Linux with O_NONBLOCK and no other end;
// without O_NONBLOCK the open would hang, which Mem refuses and counts.
func TestMemFIFO(t *testing.T) {
	m := NewMem(nil)
	v := m.FS()
	if err := m.Mkfifo("p"); err != nil {
		t.Fatal(err)
	}
	if fi, err := v.Lstat("p"); err != nil || fi.Mode&fs.ModeNamedPipe == 0 || fi.IsRegular() {
		t.Fatalf("Lstat: %+v, %v", fi, err)
	}
	f, err := v.OpenFile("p", os.O_RDONLY|ONonblock, 0)
	if err != nil {
		t.Fatalf("non-blocking read-only open: %v", err)
	}
	if fi, err := f.Stat(); err != nil || fi.Mode&fs.ModeNamedPipe == 0 {
		t.Fatalf("Stat: %+v, %v", fi, err)
	}
	f.Close()
	if _, err := v.OpenFile("p", os.O_WRONLY|os.O_APPEND|ONonblock, 0); !errors.Is(err, ENXIO) {
		t.Fatalf("non-blocking write open: %v, want ENXIO", err)
	}
	if m.BlockedOpens() != 0 {
		t.Fatal("counted a non-blocking open")
	}
	if _, err := v.OpenFile("p", os.O_RDONLY, 0); !errors.Is(err, ErrWouldBlock) || m.BlockedOpens() != 1 {
		t.Fatalf("blocking open: %v, BlockedOpens %d; want EWOULDBLOCK, 1", err, m.BlockedOpens())
	}
}

// Spec R32: Mem renames without replacing, and a Fault passes that on only
// when asked (WithNoReplace), as one OpRename that rules can fail.
func TestRenameNoReplace(t *testing.T) {
	m, f := newFault(t)
	for _, n := range []string{"a", "b"} {
		if err := m.WriteFile(n, []byte(n), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := FS(f).(NoReplaceRenamer); ok {
		t.Fatal("a plain Fault offers RenameNoReplace")
	}
	rn, ok := f.WithNoReplace().(NoReplaceRenamer)
	if !ok {
		t.Fatal("WithNoReplace over a Mem offers no RenameNoReplace")
	}
	if err := rn.RenameNoReplace("a", "b"); !errors.Is(err, EEXIST) {
		t.Fatalf("RenameNoReplace onto an existing name: %v, want EEXIST", err)
	}
	if got, _ := m.ReadFile("b"); string(got) != "b" {
		t.Fatalf("b was replaced: %q", got)
	}
	if err := rn.RenameNoReplace("a", "c"); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.ReadFile("c"); string(got) != "a" || slices.Contains(m.Names("."), "a") {
		t.Fatalf("after the rename: c = %q, names %v", got, m.Names("."))
	}
	f.Inject(Rule{Op: OpRename, Err: EIO})
	if err := rn.RenameNoReplace("c", "d"); !errors.Is(err, EIO) {
		t.Fatalf("RenameNoReplace under an OpRename rule: %v, want EIO", err)
	}
}
