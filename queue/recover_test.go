//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package queue

// Recovery after crashed appenders and consumers (spec R25).

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/capq/capq/internal/fsys"
	"github.com/capq/capq/ulid"
)

// fakeClock is a settable clock shared by a Mem (file times) and the
// queue's clock (its idea of now, set with internal/queuefs).
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 5, 2, 15, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func newULID(t testing.TB) ulid.ULID {
	t.Helper()
	id, err := ulid.New()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// Spec R25: Open and Recover remove stray .tmp files older than TmpGrace
// (an append that died before its rename) and keep younger ones (an
// append in progress in another process, which must not be disturbed).
func TestRecoverStrayTmpByAge(t *testing.T) {
	t.Parallel()
	for _, grace := range []time.Duration{0, time.Minute} { // 0: defaultTmpGrace
		effective := grace
		if effective == 0 {
			effective = defaultTmpGrace
		}
		ages := []struct {
			age    time.Duration
			remove bool
		}{
			{0, false},
			{effective / 2, false},
			{effective - time.Second, false},
			{effective + time.Second, true},
			{24 * time.Hour, true},
		}
		for _, via := range []string{"Open", "Recover"} {
			clock := newFakeClock()
			t0 := clock.Now()
			m := fsys.NewMem(clock.Now)
			names := make([]string, len(ages))
			for i, a := range ages {
				clock.Set(t0.Add(-a.age))
				names[i] = tmpName(newULID(t).String())
				if err := m.WriteFile(names[i], []byte(`{"half":`), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			clock.Set(t0)
			opts := Options{clock: clock.Now, TmpGrace: grace, SkipRecover: via == "Recover"}
			q := openMem(t, m.FS(), opts)
			var rep RecoverResult
			if via == "Recover" {
				var err error
				if rep, err = q.Recover(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			left := m.Names(".")
			for i, a := range ages {
				gone := !slices.Contains(left, names[i])
				if gone != a.remove {
					t.Errorf("grace %v via %s: tmp aged %v removed = %v, want %v", effective, via, a.age, gone, a.remove)
				}
				if via == "Recover" && slices.Contains(rep.Removed, names[i]) != a.remove {
					t.Errorf("grace %v: Removed %v, tmp aged %v", effective, rep.Removed, a.age)
				}
			}
		}
	}
}

// Spec R25, R22: on the real disk, with the file's own mtime. Only regular
// files are removed: an old symlink or directory under a tmp name is left
// for a human (Verify reports it).
func TestRecoverStrayTmpOnDisk(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	old := time.Now().Add(-time.Hour)
	mk := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("{"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	oldTmp := mk(tmpName(newULID(t).String()))
	youngTmp := mk(tmpName(newULID(t).String()))
	target := mk("outside-target")
	linkTmp := filepath.Join(dir, tmpName(newULID(t).String()))
	if err := os.Symlink(target, linkTmp); err != nil {
		t.Fatal(err)
	}
	dirTmp := filepath.Join(dir, tmpName(newULID(t).String()))
	if err := os.Mkdir(dirTmp, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{oldTmp, target, dirTmp} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chtimes(youngTmp, time.Now(), time.Now()); err != nil {
		t.Fatal(err)
	}
	q, err := Open(dir, Options{TmpGrace: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if exists(t, oldTmp) {
		t.Error("an hour-old tmp file survived Open")
	}
	for _, p := range []string{youngTmp, target, linkTmp, dirTmp} {
		if !exists(t, p) {
			t.Errorf("Open removed %s", filepath.Base(p))
		}
	}
}

// Spec R25, R16: lock files nobody holds are reported in doubt when their
// record is there (a delivery failed or a consumer died), and removed when
// it is gone. A lock that another process holds is never touched, whether
// its record is there or not; once that process dies, the next Recover
// deals with it.
func TestRecoverLocks(t *testing.T) {
	t.Parallel()
	m := fsys.NewMem(nil)
	producer := openMem(t, m.FS(), Options{SkipRecover: true})
	inDoubt := mustAppend(t, producer, sampleRecord(0, ""))
	heldWith := mustAppend(t, producer, sampleRecord(1, ""))
	orphan := newULID(t)
	heldOrphan := newULID(t)
	for _, id := range []ulid.ULID{inDoubt, orphan} {
		if err := m.WriteFile(lockName(id.String()), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	holder := m.FS() // another process, holding two locks
	for _, id := range []ulid.ULID{heldWith, heldOrphan} {
		f, err := holder.OpenFile(lockName(id.String()), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Flock(fsys.LockExclusive | fsys.LockNonBlocking); err != nil {
			t.Fatal(err)
		}
	}
	before := map[string][]byte{}
	for _, id := range []ulid.ULID{inDoubt, heldWith} {
		before[pendingName(id.String())], _ = m.ReadFile(pendingName(id.String()))
	}

	q := openMem(t, m.FS(), Options{SkipRecover: true})
	rep, err := q.Recover(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.InDoubt, []ulid.ULID{inDoubt}) {
		t.Errorf("InDoubt = %v, want [%s]", rep.InDoubt, inDoubt)
	}
	if !slices.Equal(rep.Removed, []string{lockName(orphan.String())}) {
		t.Errorf("Removed = %v, want the orphan's lock %s", rep.Removed, orphan)
	}
	names := m.Names(".")
	for _, want := range []ulid.ULID{inDoubt, heldWith, heldOrphan} {
		if !slices.Contains(names, lockName(want.String())) {
			t.Errorf("Recover removed the lock of %s", want)
		}
	}
	if slices.Contains(names, lockName(orphan.String())) {
		t.Errorf("orphan lock %s kept", orphan)
	}
	for name, data := range before {
		if got, err := m.ReadFile(name); err != nil || string(got) != string(data) {
			t.Errorf("Recover touched the record %s: %v", name, err)
		}
	}
	// The lock removal is durable.
	if slices.Contains(m.SyncedNames("."), lockName(orphan.String())) {
		t.Error("orphan lock removal not fsynced")
	}

	holder.Kill()
	rep, err = q.Recover(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(rep.InDoubt, ulid.ULID.Compare)
	want := []ulid.ULID{inDoubt, heldWith}
	slices.SortFunc(want, ulid.ULID.Compare)
	if !slices.Equal(rep.InDoubt, want) {
		t.Errorf("after the holder died, InDoubt = %v, want %v", rep.InDoubt, want)
	}
	if !slices.Equal(rep.Removed, []string{lockName(heldOrphan.String())}) {
		t.Errorf("after the holder died, Removed = %v", rep.Removed)
	}
	// In-doubt records deliver with Attempt 2.
	var seen []Delivery
	if _, err := q.Ingest(context.Background(), collect(&seen), IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, d := range seen {
		if d.Attempt != 2 {
			t.Errorf("in-doubt %s delivered with Attempt %d, want 2", d.ULID, d.Attempt)
		}
	}
	if len(seen) != 2 {
		t.Errorf("%d deliveries, want 2", len(seen))
	}
}

// Spec R25, R22: a lock name that is a symlink or a directory is never
// removed or followed by Recover, even without its record.
func TestRecoverLeavesUnsafeLocks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(outside, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, lockName(newULID(t).String()))
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, lockName(newULID(t).String()))
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	q, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	rep, err := q.Recover(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Removed)+len(rep.InDoubt) != 0 {
		t.Errorf("Recover acted on unsafe locks: %+v", rep)
	}
	for _, p := range []string{link, sub} {
		if !exists(t, p) {
			t.Errorf("Recover removed %s", filepath.Base(p))
		}
	}
	if data, err := os.ReadFile(outside); err != nil || string(data) != "keep me" {
		t.Errorf("the symlink's target changed: %q, %v", data, err)
	}
}

// Spec R25, R26: the temporary names of fsys.OS.CreateLocked's fallback
// (file systems without O_TMPFILE) are reported by Verify and removed by
// Recover once older than the grace period.
func TestRecoverRemovesStrayLockTmp(t *testing.T) {
	t.Parallel()
	q, dir := openTest(t, Options{SkipRecover: true})
	name := ".pending-01HZQ0000000000000000000AA.lock.0123456789abcdef.locktmp"
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	findings, err := Verify(context.Background(), q.dir, q.opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(findings) != 1 || findings[0].Kind != findingStrayTmp || findings[0].Name != name {
		t.Fatalf("Verify = %+v, want one stray_tmp finding for %s", findings, name)
	}
	if rep, err := q.Recover(t.Context()); err != nil || len(rep.Removed) != 0 || !exists(t, p) {
		t.Fatalf("Recover removed a fresh lock temporary: %+v, %v", rep, err)
	}
	old := time.Now().Add(-2 * defaultTmpGrace)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	rep, err := q.Recover(t.Context())
	if err != nil || len(rep.Removed) != 1 || exists(t, p) {
		t.Fatalf("Recover kept an old lock temporary: %+v, %v", rep, err)
	}
}

// Spec R25: a record a crash left both pending and in dead-letter/ (the
// same file under two names) loses its dead-letter name at recovery; a
// different file of the same name in dead-letter/ is left alone.
func TestRecoverUndoesHalfDoneDeadLetterMove(t *testing.T) {
	t.Parallel()
	q, dir := openTest(t, Options{SkipRecover: true})
	same := mustAppend(t, q, sampleRecord(0, "same"))
	other := mustAppend(t, q, sampleRecord(1, "other"))
	dl := filepath.Join(dir, deadLetterDir)
	if err := os.Mkdir(dl, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(pendingPath(dir, same), filepath.Join(dl, pendingName(same.String()))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dl, "pending-"+same.String()+".history"), []byte("{\"attempt\":1}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(pendingPath(dir, other))
	if err := os.WriteFile(filepath.Join(dl, pendingName(other.String())), data, 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := q.Recover(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{deadLetterDir + "/" + pendingName(same.String())}; !slices.Equal(rep.Removed, want) {
		t.Fatalf("Removed = %v, want %v", rep.Removed, want)
	}
	if !exists(t, pendingPath(dir, same)) || exists(t, filepath.Join(dl, pendingName(same.String()))) ||
		exists(t, filepath.Join(dl, "pending-"+same.String()+".history")) {
		t.Fatal("the half-moved record must stay pending and lose its dead-letter name and history")
	}
	if !exists(t, filepath.Join(dl, pendingName(other.String()))) || !exists(t, pendingPath(dir, other)) {
		t.Fatal("a different file under a dead-letter name must be left alone")
	}
}
