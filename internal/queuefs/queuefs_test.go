package queuefs_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/capq/capq/internal/fsys"
	"github.com/capq/capq/internal/queuefs"
	"github.com/capq/capq/queue"
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
