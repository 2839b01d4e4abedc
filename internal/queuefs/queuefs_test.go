package queuefs_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/capq/capq/internal/fsys"
	"github.com/capq/capq/internal/queuefs"
	"github.com/capq/capq/queue"
	"github.com/capq/capq/ulid"
)

// A queue opened with With works on the given file system and never
// touches the disk; any other type than queue.Options is refused loudly.
func TestWith(t *testing.T) {
	t.Parallel()
	mem := fsys.NewMem(nil)
	dir := filepath.Join(t.TempDir(), "not-created")
	q, err := queue.Open(dir, queuefs.With(queue.Options{}, mem.FS()))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if _, err := q.Append([]byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if n, err := q.Count(); err != nil || n != 1 {
		t.Fatalf("Count = %d, %v; want 1", n, err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("the queue touched the disk: %v", err)
	}

	defer func() {
		if recover() == nil {
			t.Fatal("With on a struct that is not queue.Options did not panic")
		}
	}()
	queuefs.With(struct{}{}, mem.FS())
}

// A queue opened WithClock writes that clock's time as appended_at, and one
// opened WithULIDs takes its ULIDs from that generator; any other type than
// queue.Options is refused loudly.
func TestWithClockAndULIDs(t *testing.T) {
	t.Parallel()
	at := time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC)
	clock := func() time.Time { return at }
	gen := ulid.NewGenerator(ulid.GeneratorOptions{Clock: clock})
	opts := queuefs.WithULIDs(queuefs.WithClock(queuefs.With(queue.Options{}, fsys.NewMem(nil).FS()), clock), gen)
	q, err := queue.Open("mem", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	id, err := q.Append([]byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	st, err := q.Get(id)
	if err != nil || !st.AppendedAt.Equal(at) || !id.Time().Equal(at) {
		t.Fatalf("appended %s at %v (%v), want the clock's %v and a ULID of that time", id, st.AppendedAt, err, at)
	}
	for name, f := range map[string]func(){
		"WithClock": func() { queuefs.WithClock(struct{}{}, clock) },
		"WithULIDs": func() { queuefs.WithULIDs(struct{}{}, gen) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s on a struct that is not queue.Options did not panic", name)
				}
			}()
			f()
		}()
	}
}
