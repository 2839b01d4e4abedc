//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package queue

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// Spec R45, R31: a lock file that the portable CreateLocked left with two
// links (killed between its link and its unlink) is a stale lock, not a
// hard link from outside: the claim removes the temporary name and
// delivers the record. A second link under any other name is still
// refused as unsafe.
func TestLockLeftLinkedByCreateLocked(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		other     func(lock string) string // the second name of the lock file
		delivered bool
	}{
		{"locktmp of the lock", func(lock string) string {
			return "." + lock + ".0123456789abcdef" + lockTmpSuffix
		}, true},
		{"locktmp of another lock", func(string) string {
			return ".pending-01ARZ3NDEKTSV4RRFFQ69G5FAV.lock.0123456789abcdef" + lockTmpSuffix
		}, false},
		{"any other name", func(string) string { return "elsewhere" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q, dir := openTest(t, Options{})
			id := mustAppend(t, q, sampleRecord(0, "left linked"))
			lock := lockPath(dir, id)
			writeRaw(t, lock, "")
			other := filepath.Join(dir, tc.other(filepath.Base(lock)))
			if err := os.Link(lock, other); err != nil {
				t.Fatal(err)
			}
			var seen []Delivery
			res, _ := q.Ingest(context.Background(), collect(&seen), IngestOptions{})
			got := len(seen) == 1 && seen[0].ULID == id
			if got != tc.delivered {
				t.Fatalf("delivered %v (result %+v), want delivered = %v", seen, res, tc.delivered)
			}
			_, err := os.Lstat(other)
			if tc.delivered && !os.IsNotExist(err) {
				t.Errorf("the temporary name %s is still there (%v)", filepath.Base(other), err)
			}
			if !tc.delivered && err != nil {
				t.Errorf("a name that is not the lock's temporary name was removed: %v", err)
			}
			if tc.delivered && slices.Contains(dirNames(t, dir), quarantineDir) {
				if ents, _ := os.ReadDir(filepath.Join(dir, quarantineDir)); len(ents) > 0 {
					t.Errorf("quarantined %v", ents)
				}
			}
		})
	}
}
