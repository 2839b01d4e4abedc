//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package queue

import (
	"fmt"
	"math"
	"testing"

	"github.com/capq/capq/internal/fsys"
)

// Spec R19: AppendRoom is MaxSize minus the process's estimate of the
// count, no more than its appends left before its next listing, at least
// 1, and unlimited with a negative MaxSize; a batch of that size keeps the
// count within MaxSize.
func TestAppendRoom(t *testing.T) {
	for _, tc := range []struct {
		maxSize, before int
		want            int
	}{
		{-1, 0, math.MaxInt},
		{1, 0, 1},
		{1, 1, 1},
		{5, 0, 1},      // headroom 1: a listing after every append
		{1000, 0, 100}, // headroom 100
		{1000, 30, 70}, // 70 appends left before the next listing
		{150, 100, 5},  // headroom 15: listed at 90, room 50, 5 left
		{120, 110, 10}, // headroom 12: listed at 108, room 10, 10 left
	} {
		t.Run(fmt.Sprint(tc.maxSize, "/", tc.before), func(t *testing.T) {
			q, err := Open("mem", Options{SkipRecover: true, MaxSize: tc.maxSize, fileSystem: fsys.NewMem(nil).FS()})
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			for i := range tc.before {
				mustAppend(t, q, sampleRecord(i, "plain"))
			}
			room := q.AppendRoom()
			if room != tc.want {
				t.Errorf("AppendRoom = %d, want %d", room, tc.want)
			}
			if tc.maxSize < 0 {
				if room != math.MaxInt {
					t.Fatalf("AppendRoom = %d, want MaxInt", room)
				}
				return
			}
			n := mustCount(t, q)
			recs := make([][]byte, room)
			for i := range recs {
				recs[i] = sampleRecord(i, "plain")
			}
			if _, err := q.AppendBatch(recs); err != nil {
				t.Fatal(err)
			}
			after := mustCount(t, q)
			if room < 1 || (n+room <= tc.maxSize) != (after == n+room) || after > tc.maxSize {
				t.Errorf("AppendRoom = %d at %d pending: a batch of it left %d (MaxSize %d)", room, n, after, tc.maxSize)
			}
		})
	}
}
