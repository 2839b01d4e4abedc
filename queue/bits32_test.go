//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package queue

import (
	"context"
	"math"
	"testing"
)

// Spec R48: limits near the top of int work on 32-bit and 64-bit builds
// alike: the bound on a pending file's size (MaxRecordSize plus room for
// the envelope) saturates instead of wrapping to a negative number that
// would make every record look too large, and MaxSize never overflows in
// the overflow arithmetic.
func TestLimitsNearMaxInt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"MaxRecordSize=MaxInt", Options{MaxRecordSize: math.MaxInt}},
		{"MaxRecordSize=MaxInt-511", Options{MaxRecordSize: math.MaxInt - 511}},
		{"MaxRecordSize=MaxInt32", Options{MaxRecordSize: math.MaxInt32}},
		{"MaxSize=MaxInt", Options{MaxSize: math.MaxInt}},
		{"MaxSize=MaxInt32", Options{MaxSize: math.MaxInt32}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// The bound covers the record limit (up to one below
			// MaxInt) and leaves room for the buffer's extra byte.
			rs := tc.opts.resolved().MaxRecordSize
			if got := tc.opts.resolved().maxFileSize(); got < min(rs, math.MaxInt-1) || got == math.MaxInt {
				t.Errorf("maxFileSize() = %d with MaxRecordSize %d", got, rs)
			}
			q, err := Open(t.TempDir(), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			id := mustAppend(t, q, sampleRecord(0, "near max int"))
			var seen []Delivery
			if _, err := q.Ingest(context.Background(), collect(&seen), IngestOptions{}); err != nil {
				t.Fatalf("Ingest: %v", err)
			}
			if len(seen) != 1 || seen[0].ULID != id {
				t.Fatalf("delivered %v, want %s once", seen, id)
			}
		})
	}
}
