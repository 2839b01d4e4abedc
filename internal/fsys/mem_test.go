package fsys

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// durableFile writes name through fsys and makes it durable: data synced,
// then its directory.
func durableFile(t *testing.T, fsys FS, dir, name, s string) {
	t.Helper()
	f := mustOpen(t, fsys, name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	mustWrite(t, f, s)
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	mustClose(t, f)
	if err := fsys.SyncDir(dir); err != nil {
		t.Fatal(err)
	}
}

// contents reads name from m, or returns "<absent>".
func contents(t *testing.T, m *Mem, name string) string {
	t.Helper()
	b, err := m.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return "<absent>"
	}
	if err != nil {
		t.Fatalf("ReadFile(%q): %v", name, err)
	}
	return string(b)
}

func TestCrashUnsyncedDataVanishes(t *testing.T) {
	t.Parallel()
	m := NewMem(nil)
	p := m.FS()
	f := mustOpen(t, p, "a", os.O_WRONLY|os.O_CREATE, 0o600)
	mustWrite(t, f, "lost")
	if err := p.SyncDir("."); err != nil { // the name is durable, the data not
		t.Fatal(err)
	}
	m2 := m.Crash(nil)
	if got := contents(t, m2, "a"); got != "" {
		t.Errorf("after crash a = %q, want empty", got)
	}
}

func TestCrashSyncedDataSurvives(t *testing.T) {
	t.Parallel()
	m := NewMem(nil)
	p := m.FS()
	durableFile(t, p, ".", "a", "kept")
	f := mustOpen(t, p, "a", os.O_WRONLY|os.O_APPEND, 0)
	mustWrite(t, f, " and lost")
	m2 := m.Crash(nil)
	if got := contents(t, m2, "a"); got != "kept" {
		t.Errorf("after crash a = %q, want %q", got, "kept")
	}
}

func TestCrashUnsyncedCreateVanishes(t *testing.T) {
	t.Parallel()
	m := NewMem(nil)
	p := m.FS()
	f := mustOpen(t, p, "a", os.O_WRONLY|os.O_CREATE, 0o600)
	mustWrite(t, f, "data")
	if err := f.Sync(); err != nil { // data durable, but no name points at it
		t.Fatal(err)
	}
	mustMkdir(t, p, "d") // neither is this directory durable
	m2 := m.Crash(nil)
	if names := m2.Names("."); len(names) != 0 {
		t.Errorf("after crash root holds %v, want nothing", names)
	}
}

func TestCrashRename(t *testing.T) {
	t.Parallel()
	for _, synced := range []bool{false, true} {
		t.Run(fmt.Sprint("synced=", synced), func(t *testing.T) {
			m := NewMem(nil)
			p := m.FS()
			durableFile(t, p, ".", "tmp", "record")
			if err := p.Rename("tmp", "final"); err != nil {
				t.Fatal(err)
			}
			if synced {
				if err := p.SyncDir("."); err != nil {
					t.Fatal(err)
				}
			}
			m2 := m.Crash(nil)
			want := []string{"tmp"}
			if synced {
				want = []string{"final"}
			}
			if got := m2.Names("."); !slices.Equal(got, want) {
				t.Errorf("after crash: %v, want %v", got, want)
			}
			if got := contents(t, m2, want[0]); got != "record" {
				t.Errorf("%s = %q", want[0], got)
			}
		})
	}
}

func TestCrashCrossDirRename(t *testing.T) {
	t.Parallel()
	m := NewMem(nil)
	p := m.FS()
	mustMkdir(t, p, "q")
	durableFile(t, p, ".", "x", "rec")
	if err := p.Rename("x", "q/x"); err != nil {
		t.Fatal(err)
	}
	if err := p.SyncDir("q"); err != nil {
		t.Fatal(err)
	}
	// The source directory was not synced: the old name comes back too,
	// naming the same inode.
	m2 := m.Crash(nil)
	if got := m2.Names("."); !slices.Equal(got, []string{"q", "x"}) {
		t.Errorf("root after crash: %v", got)
	}
	if got := m2.Names("q"); !slices.Equal(got, []string{"x"}) {
		t.Errorf("q after crash: %v", got)
	}
	p2 := m2.FS()
	if a, b := mustLstat(t, p2, "x"), mustLstat(t, p2, "q/x"); a.Ino != b.Ino {
		t.Errorf("x and q/x are inodes %d and %d, want one", a.Ino, b.Ino)
	}
}

func TestCrashUnsyncedRemoveComesBack(t *testing.T) {
	t.Parallel()
	m := NewMem(nil)
	p := m.FS()
	durableFile(t, p, ".", "a", "back")
	if err := p.Remove("a"); err != nil {
		t.Fatal(err)
	}
	if got := contents(t, m.Crash(nil), "a"); got != "back" {
		t.Errorf("after crash a = %q, want it back", got)
	}
	// Once the directory is synced, the removal is durable.
	m = NewMem(nil)
	p = m.FS()
	durableFile(t, p, ".", "a", "gone")
	if err := p.Remove("a"); err != nil {
		t.Fatal(err)
	}
	if err := p.SyncDir("."); err != nil {
		t.Fatal(err)
	}
	if got := contents(t, m.Crash(nil), "a"); got != "<absent>" {
		t.Errorf("after crash a = %q, want it absent", got)
	}
}

func TestCrashFreezesOldMem(t *testing.T) {
	t.Parallel()
	m := NewMem(nil)
	p := m.FS()
	durableFile(t, p, ".", "lock", "")
	holder := mustOpen(t, p, "lock", os.O_RDWR, 0)
	mustFlock(t, holder, LockExclusive)
	waiter := mustOpen(t, p, "lock", os.O_RDWR, 0)
	done := make(chan error, 1)
	go func() { done <- waiter.Flock(LockExclusive) }()

	m2 := m.Crash(nil)
	select {
	case err := <-done:
		wantErrno(t, err, EIO)
	case <-time.After(10 * time.Second):
		t.Fatal("Flock blocked across a crash")
	}
	_, err := p.Lstat("lock")
	wantErrno(t, err, EIO)
	wantErrno(t, holder.Close(), EIO)
	_, err = m.FS().OpenFile("lock", os.O_RDONLY, 0)
	wantErrno(t, err, EIO)

	// Locks do not survive: the new machine starts with none.
	f := mustOpen(t, m2.FS(), "lock", os.O_RDWR, 0)
	mustFlock(t, f, LockExclusive|LockNonBlocking)
}

func TestKill(t *testing.T) {
	t.Parallel()
	m := NewMem(nil)
	durableFile(t, m.FS(), ".", "lock", "")
	victim := m.FS()
	held := mustOpen(t, victim, "lock", os.O_RDWR, 0)
	mustFlock(t, held, LockExclusive)
	blocked := mustOpen(t, victim, "lock", os.O_RDWR, 0)
	done := make(chan error, 1)
	go func() { done <- blocked.Flock(LockExclusive) }()

	other := m.FS()
	f := mustOpen(t, other, "lock", os.O_RDWR, 0)
	wantErrno(t, f.Flock(LockExclusive|LockNonBlocking), ErrWouldBlock)

	victim.Kill()
	select {
	case err := <-done:
		wantErrno(t, err, EBADF)
	case <-time.After(10 * time.Second):
		t.Fatal("Flock of a killed process still blocked")
	}
	mustFlock(t, f, LockExclusive|LockNonBlocking)
	_, err := held.Write([]byte("x"))
	wantErrno(t, err, EBADF)
	wantErrno(t, held.Close(), EBADF)
	_, err = victim.OpenFile("lock", os.O_RDONLY, 0)
	wantErrno(t, err, EBADF)
	wantErrno(t, victim.SyncDir("."), EBADF)
}

func TestKillKeepsPageCache(t *testing.T) {
	t.Parallel()
	// A killed process's unsynced writes are in the kernel, not lost.
	m := NewMem(nil)
	p := m.FS()
	f := mustOpen(t, p, "a", os.O_WRONLY|os.O_CREATE, 0o600)
	mustWrite(t, f, "cached")
	p.Kill()
	if got := contents(t, m, "a"); got != "cached" {
		t.Errorf("after Kill a = %q", got)
	}
}

func TestFlockConversion(t *testing.T) {
	t.Parallel()
	m := NewMem(nil)
	p := m.FS()
	durableFile(t, p, ".", "lock", "")
	a := mustOpen(t, p, "lock", os.O_RDWR, 0)
	b := mustOpen(t, p, "lock", os.O_RDWR, 0)
	mustFlock(t, a, LockShared)
	mustFlock(t, b, LockShared)
	// Upgrading conflicts with b's shared lock, and as on Linux the failed
	// conversion has dropped a's shared lock.
	wantErrno(t, a.Flock(LockExclusive|LockNonBlocking), ErrWouldBlock)
	mustFlock(t, b, LockExclusive|LockNonBlocking)
	mustFlock(t, b, LockShared|LockNonBlocking) // downgrade
	mustFlock(t, a, LockShared|LockNonBlocking)
	wantErrno(t, a.Flock(0), EINVAL)
	wantErrno(t, a.Flock(LockShared|LockExclusive), EINVAL)
}

func TestMemNamesAndErrors(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"", "/abs", "..", "a/..", "a/b/c", "a//b", "a/", "./a"} {
		_, err := NewMem(nil).FS().OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
		wantErrno(t, err, EINVAL)
	}
	m := NewMem(nil)
	p := m.FS()
	if err := m.Symlink("elsewhere", "dirlink"); err != nil {
		t.Fatal(err)
	}
	_, err := p.OpenFile("dirlink/x", os.O_RDWR|os.O_CREATE, 0o600)
	wantErrno(t, err, ELOOP)
	wantErrno(t, p.SyncDir("dirlink"), ELOOP)
	wantErrno(t, m.Symlink("x", "dirlink"), EEXIST)

	mustMkdir(t, p, "d")
	writeFile(t, p, "d/x", "")
	writeFile(t, p, "f", "")
	wantErrno(t, p.Rename("f", "d"), EISDIR)
	wantErrno(t, p.Rename("d", "f"), ENOTDIR)
	mustMkdir(t, p, "e")
	wantErrno(t, p.Rename("e", "d"), ENOTEMPTY)
	wantErrno(t, p.Rename("d", "d/y"), EINVAL)
	if err := p.Rename("f", "f"); err != nil {
		t.Errorf("Rename onto itself: %v", err)
	}

	var pe *fs.PathError
	_, err = p.Lstat("missing")
	if !errors.As(err, &pe) || pe.Op != "lstat" || pe.Path != "missing" {
		t.Errorf("Lstat error %#v, want *fs.PathError{lstat, missing}", err)
	}
}

func TestMemMetadata(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	m := NewMem(func() time.Time { return now })
	p := m.FS()
	// O_CREATE perm is used as given: there is no umask.
	f := mustOpen(t, p, "a", os.O_WRONLY|os.O_CREATE, 0o666)
	fi := mustLstat(t, p, "a")
	if fi.Mode != 0o666 || !fi.ModTime.Equal(now) {
		t.Errorf("Lstat(a) = %+v, want mode 0666 at %v", fi, now)
	}
	now = now.Add(time.Hour)
	mustWrite(t, f, "12345")
	fi = mustLstat(t, p, "a")
	if fi.Size != 5 || !fi.ModTime.Equal(now) {
		t.Errorf("after write Lstat(a) = %+v", fi)
	}
	if err := m.Symlink("a", "l"); err != nil {
		t.Fatal(err)
	}
	if fi := mustLstat(t, p, "l"); fi.Mode != fs.ModeSymlink|0o777 || fi.Size != 1 {
		t.Errorf("Lstat(l) = %+v", fi)
	}
	inos := map[uint64]bool{}
	for _, name := range []string{".", "a", "l"} {
		inos[mustLstat(t, p, name).Ino] = true
	}
	if len(inos) != 3 {
		t.Errorf("inode numbers not unique: %v", inos)
	}
}

func TestMemHelpers(t *testing.T) {
	t.Parallel()
	m := NewMem(nil)
	p := m.FS()
	mustMkdir(t, p, "d")
	if err := m.WriteFile("d/x", []byte("setup"), 0o640); err != nil {
		t.Fatal(err)
	}
	writeFile(t, p, "d/unsynced", "")
	if got := m.Names("d"); !slices.Equal(got, []string{"unsynced", "x"}) {
		t.Errorf("Names(d) = %v", got)
	}
	if got := m.SyncedNames("d"); !slices.Equal(got, []string{"x"}) {
		t.Errorf("SyncedNames(d) = %v", got)
	}
	if got := m.SyncedNames("."); len(got) != 0 {
		t.Errorf("SyncedNames(.) = %v, want none: d itself was never synced", got)
	}
	if m.Names("missing") != nil {
		t.Errorf("Names(missing) is not nil")
	}
	if err := p.SyncDir("."); err != nil {
		t.Fatal(err)
	}
	m2 := m.Crash(nil)
	if got := contents(t, m2, "d/x"); got != "setup" {
		t.Errorf("WriteFile did not make d/x durable: %q", got)
	}
	if fi := mustLstat(t, m2.FS(), "d/x"); fi.Mode != 0o640 {
		t.Errorf("d/x mode %v", fi.Mode)
	}
	if _, err := m2.ReadFile("d"); !errors.Is(err, EISDIR) {
		t.Errorf("ReadFile(d): %v", err)
	}
}

func TestMemReadDirNameIsScratch(t *testing.T) {
	t.Parallel()
	// The name slice must be copied: Mem overwrites it after each call so
	// that a caller that keeps it fails its tests rather than production.
	m := NewMem(nil)
	writeFile(t, m.FS(), "abc", "")
	var kept []byte
	if err := m.FS().ReadDir(".", func(name []byte, _ EntryType) error {
		kept = name
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if string(kept) == "abc" {
		t.Errorf("kept name slice still reads %q", kept)
	}
}

// snapshot is the state of a frozen Mem from which Crash(rng) outcomes are
// checked: for every directory entry, its synced and current inode, and for
// every inode its synced and current data.
type snapshot struct {
	entries map[string][2]uint64 // "dir/name" -> {synced ino, current ino}; 0 = absent
	synced  map[uint64][]byte
	current map[uint64][]byte
}

func takeSnapshot(m *Mem) snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := snapshot{entries: map[string][2]uint64{}, synced: map[uint64][]byte{}, current: map[uint64][]byte{}}
	var walk func(prefix string, d *inode)
	walk = func(prefix string, d *inode) {
		for i, entries := range []map[string]*inode{d.syncedEntries, d.entries} {
			for name, n := range entries {
				e := s.entries[prefix+name]
				e[i] = n.ino
				s.entries[prefix+name] = e
				s.synced[n.ino] = n.synced
				s.current[n.ino] = n.data
				if n.isDir() && prefix == "" {
					walk(name+"/", n)
				}
			}
		}
	}
	walk("", m.root)
	return s
}

// buildCrashScenario makes a Mem with durable files and a mix of unsynced
// changes of every kind, then freezes it with one Crash.
func buildCrashScenario(t *testing.T) *Mem {
	m := NewMem(nil)
	p := m.FS()
	mustMkdir(t, p, "q")
	mustMkdir(t, p, "new") // never synced
	for i := range 8 {
		durableFile(t, p, ".", fmt.Sprintf("r%d", i), fmt.Sprintf("record %d", i))
	}
	durableFile(t, p, "q", "q/old", "quarantined")

	appendTo := func(name, s string, sync bool) {
		f := mustOpen(t, p, name, os.O_WRONLY|os.O_APPEND, 0)
		mustWrite(t, f, s)
		if sync {
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
		}
		mustClose(t, f)
	}
	appendTo("r0", " appended", false) // torn append candidate
	appendTo("r1", " appended", true)  // durable append
	writeFile(t, p, "r2", "rewritten") // O_TRUNC, unsynced
	writeFile(t, p, "tmp-a", "fresh")  // new file, unsynced
	durableFile(t, p, ".", "tmp-b", "fresh synced")
	for _, r := range [][2]string{
		{"tmp-b", "r3"},   // publish over an existing record
		{"r4", "q/r4"},    // quarantine across directories
		{"r5", "r5.done"}, // claim
		{"q/old", "r6"},   // replace from the subdirectory
	} {
		if err := p.Rename(r[0], r[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Remove("r7"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, p, "new/x", "in unsynced dir")
	if err := p.SyncDir("new"); err != nil {
		t.Fatal(err)
	}
	m.Crash(nil) // freeze
	return m
}

func TestCrashRandomOutcomes(t *testing.T) {
	t.Parallel()
	m := buildCrashScenario(t)
	before := takeSnapshot(m)
	// ever counts, per entry, which of its states were seen, to check that
	// the outcomes explore both.
	ever := map[string][2]bool{}
	dataSeen := map[string]map[string]bool{}
	for seed := range uint64(400) {
		after := m.Crash(rand.New(rand.NewPCG(seed, 1)))
		got := takeSnapshot(after)

		for key, e := range before.entries {
			g := got.entries[key][1]
			dir, _, nested := strings.Cut(key, "/")
			dirGone := nested && got.entries[dir][1] == 0
			switch {
			case g == e[0] && g == e[1]:
			case g == e[0]:
				ever[key] = [2]bool{true, ever[key][1]}
			case g == e[1]:
				ever[key] = [2]bool{ever[key][0], true}
			case g == 0 && dirGone:
			default:
				t.Fatalf("seed %d: %s is inode %d, neither synced %d nor current %d", seed, key, g, e[0], e[1])
			}
		}
		for key := range got.entries {
			if _, ok := before.entries[key]; !ok {
				t.Fatalf("seed %d: invented entry %s", seed, key)
			}
		}
		// Data: synced, current, or a prefix of current that keeps what
		// was synced if current extends it.
		for key, e := range got.entries {
			ino := e[1]
			d, syn, cur := got.current[ino], before.synced[ino], before.current[ino]
			if bytes.Equal(d, syn) || bytes.Equal(d, cur) {
			} else if !bytes.HasPrefix(cur, d) || (bytes.HasPrefix(cur, syn) && len(d) < len(syn)) {
				t.Fatalf("seed %d: %s holds %q, from synced %q and current %q", seed, key, d, syn, cur)
			}
			if dataSeen[key] == nil {
				dataSeen[key] = map[string]bool{}
			}
			dataSeen[key][string(d)] = true
		}
		// No durable file that is still linked is ever lost.
		for _, key := range []string{"r0", "r1", "r2", "r6"} {
			if got.entries[key][1] == 0 {
				t.Fatalf("seed %d: %s lost", seed, key)
			}
		}
		if got.entries["r4"][1] == 0 && got.entries["q/r4"][1] == 0 {
			t.Fatalf("seed %d: r4 lost in an unsynced cross-directory rename", seed)
		}
		if got.entries["r5"][1] == 0 && got.entries["r5.done"][1] == 0 {
			t.Fatalf("seed %d: r5 lost in an unsynced rename", seed)
		}
		// The outcome is the durable state of the new Mem.
		if again := takeSnapshot(after.Crash(nil)); fmt.Sprint(again.entries) != fmt.Sprint(got.entries) {
			t.Fatalf("seed %d: outcome not durable: %v then %v", seed, got.entries, again.entries)
		}
	}
	for key, e := range before.entries {
		if e[0] != e[1] && ever[key] != [2]bool{true, true} {
			t.Errorf("%s: outcomes seen (synced, current) = %v, want both", key, ever[key])
		}
	}
	if n := len(dataSeen["r0"]); n < 3 {
		t.Errorf("r0 took %d distinct contents, want synced, current and torn ones: %v", n, dataSeen["r0"])
	}

	// The same seed gives the same outcome.
	a := takeSnapshot(m.Crash(rand.New(rand.NewPCG(7, 7))))
	b := takeSnapshot(m.Crash(rand.New(rand.NewPCG(7, 7))))
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("Crash is not deterministic for a seed:\n%v\n%v", a, b)
	}
}

func TestMemDirFileSync(t *testing.T) {
	t.Parallel()
	// fsync of a directory opened read-only syncs its entries, as SyncDir.
	m := NewMem(nil)
	p := m.FS()
	durableFile(t, p, ".", "a", "x")
	if err := p.Rename("a", "b"); err != nil {
		t.Fatal(err)
	}
	d := mustOpen(t, p, ".", os.O_RDONLY, 0)
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
	if got := m.Crash(nil).Names("."); !slices.Equal(got, []string{"b"}) {
		t.Errorf("after crash: %v, want [b]", got)
	}
}
