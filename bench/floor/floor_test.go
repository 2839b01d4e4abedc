package floor_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/capq/capq/bench/floor"
)

func id(i int) string { return fmt.Sprintf("01J%023d", i) }

func name(i int) string { return floor.Prefix + id(i) + floor.Suffix }

func open(t *testing.T) (*floor.Dir, string) {
	t.Helper()
	dir := t.TempDir()
	d, err := floor.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, dir
}

func TestAppendPublishesOnlyTheFinalName(t *testing.T) {
	t.Parallel()
	d, dir := open(t)
	if err := d.Append(name(1)+floor.TmpSuffix, name(1), []byte(`{"a":1}`), d.SyncDir); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, name(1)))
	if err != nil || string(got) != `{"a":1}` {
		t.Fatalf("read %q, %v", got, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, name(1)+floor.TmpSuffix)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("tmp file left behind: %v", err)
	}
	// O_EXCL: the same tmp name twice fails.
	if err := d.WriteFile("x", nil); err != nil {
		t.Fatal(err)
	}
	if err := d.WriteFile("x", nil); !errors.Is(err, os.ErrExist) {
		t.Fatalf("second create of x: %v, want EEXIST", err)
	}
}

func TestConcurrentAppendWithGroup(t *testing.T) {
	t.Parallel()
	d, _ := open(t)
	g := floor.NewGroup(d)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Go(func() {
			errs <- d.Append(name(i)+floor.TmpSuffix, name(i), []byte("{}"), g.Sync)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	n, err := d.Count(make([]byte, floor.ListBufSize))
	if err != nil || n != 40 {
		t.Fatalf("Count = %d, %v; want 40", n, err)
	}
}

func TestCountIgnoresOtherNames(t *testing.T) {
	t.Parallel()
	d, dir := open(t)
	for _, n := range []string{name(1), name(2), name(3) + floor.TmpSuffix, floor.Prefix + id(4) + floor.LockSuffix, "pending-.json", "other"} {
		if err := d.WriteFile(n, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, name(5)), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{64, 4096, floor.ListBufSize} { // tiny buffers need many getdents64 calls
		n, err := d.Count(make([]byte, size))
		if err != nil || n != 2 {
			t.Errorf("buffer %d: Count = %d, %v; want 2", size, n, err)
		}
	}
}

func TestOldest(t *testing.T) {
	t.Parallel()
	d, _ := open(t)
	order := []int{7, 3, 9, 1, 5, 8, 2, 6, 4, 0}
	for _, i := range order {
		if err := d.WriteFile(name(i), nil); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, floor.ListBufSize)
	for _, n := range []int{0, 1, 3, 10, 20} {
		ids, err := d.Oldest(buf, n, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, x := range ids {
			got = append(got, string(x[:]))
		}
		var want []string
		for i := range min(n, len(order)) {
			want = append(want, id(i))
		}
		if !slices.Equal(got, want) {
			t.Errorf("Oldest(%d) = %v, want %v", n, got, want)
		}
	}
}

func TestConsume(t *testing.T) {
	t.Parallel()
	d, dir := open(t)
	if err := d.WriteFile(name(1), []byte("record")); err != nil {
		t.Fatal(err)
	}
	lock := floor.Prefix + id(1) + floor.LockSuffix
	got, err := d.Consume(name(1), lock, make([]byte, 64))
	if err != nil || string(got) != "record" {
		t.Fatalf("Consume = %q, %v", got, err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) != 0 {
		t.Fatalf("left %v, %v; want an empty directory", ents, err)
	}
	// A record larger than the buffer is refused, not truncated.
	if err := d.WriteFile(name(2), []byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Consume(name(2), floor.Prefix+id(2)+floor.LockSuffix, make([]byte, 10)); !errors.Is(err, floor.ErrShortBuffer) {
		t.Fatalf("Consume with a short buffer: %v, want ErrShortBuffer", err)
	}
	// A lock held by someone else: O_EXCL fails.
	if err := d.WriteFile(name(3), nil); err != nil {
		t.Fatal(err)
	}
	if err := d.WriteFile(floor.Prefix+id(3)+floor.LockSuffix, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Consume(name(3), floor.Prefix+id(3)+floor.LockSuffix, make([]byte, 10)); !errors.Is(err, os.ErrExist) {
		t.Fatalf("Consume of a locked record: %v, want EEXIST", err)
	}
}

func TestLinkAndSyncFS(t *testing.T) {
	t.Parallel()
	d, dir := open(t)
	if err := d.WriteFile(".template", []byte("t")); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := d.Link(".template", name(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Link(".template", name(0)); !errors.Is(err, os.ErrExist) {
		t.Fatalf("link over an existing name: %v, want EEXIST", err)
	}
	if err := d.SyncFS(); err != nil {
		t.Fatal(err)
	}
	n, err := d.Count(make([]byte, floor.ListBufSize))
	if err != nil || n != 3 {
		t.Fatalf("Count = %d, %v; want 3 links counted", n, err)
	}
	got, err := os.ReadFile(filepath.Join(dir, name(2)))
	if err != nil || string(got) != "t" {
		t.Fatalf("link reads %q, %v", got, err)
	}
}
