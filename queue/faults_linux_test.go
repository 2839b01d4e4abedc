package queue

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A Linux-only test: it mounts a tmpfs.

// Spec R10: a real full disk. A 64 KiB tmpfs is filled to the last block;
// Append fails with ENOSPC as an *OpError and leaves no partial file; once
// space is freed, appends and drains work again.
func TestAppendDiskFull(t *testing.T) {
	t.Parallel()
	mnt := tmpfsMount(t, "size=64k,mode=0700")
	dir := filepath.Join(mnt, "q")
	q, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	before := mustAppend(t, q, sampleRecord(0, "before"))

	filler := filepath.Join(mnt, "filler")
	fillDisk(t, filler)

	_, err = q.Append(sampleRecord(1, strings.Repeat("full ", 200)))
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Append on a full disk: %v, want ENOSPC", err)
	}
	var oe *OpError
	if !errors.As(err, &oe) {
		t.Errorf("err = %v, want an *OpError", err)
	}
	assertClean(t, q, dir, before)

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	after := mustAppend(t, q, sampleRecord(2, "after"))
	assertClean(t, q, dir, before, after)
	var seen []Delivery
	if _, err := q.Ingest(context.Background(), collect(&seen), IngestOptions{}); err != nil || len(seen) != 2 {
		t.Fatalf("drain after freeing space: %d delivered, %v", len(seen), err)
	}
}
