//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package queue

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
)

// Spec R5, R24: one bound for nesting. Open refuses a MaxDepth above
// maxDepthLimit; whatever MaxDepth Open accepts, a record Append accepts is
// read back by Get and delivered by Ingest, never quarantined as too deep;
// and no MaxDepth or input makes the scanner overflow the stack (run this
// with GOARCH=386 too, where the stack limit is a quarter of amd64's).
func TestMaxDepthOneBound(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		maxDepth int
		refused  bool
	}{
		{"default", 0, false},
		{"one", 1, false},
		{"limit minus one", maxDepthLimit - 1, false},
		{"limit", maxDepthLimit, false},
		{"limit plus one", maxDepthLimit + 1, true},
		{"twice the limit", 2 * maxDepthLimit, true},
		{"1<<30", 1 << 30, true},
		{"MaxInt", math.MaxInt, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := Options{MaxDepth: tt.maxDepth, MaxRecordSize: 1 << 20}
			q, err := Open(t.TempDir(), opts)
			_, verr := Verify(context.Background(), t.TempDir(), opts)
			if tt.refused {
				if !errors.Is(err, ErrInvalidOptions) || !errors.Is(verr, ErrInvalidOptions) {
					t.Fatalf("Open = %v, Verify = %v; want both ErrInvalidOptions", err, verr)
				}
				return
			}
			if err != nil || verr != nil {
				t.Fatalf("Open = %v, Verify = %v; want both to accept MaxDepth %d", err, verr, tt.maxDepth)
			}
			defer q.Close()
			depth := q.Options().MaxDepth
			// One level over is refused at Append, far over too (without
			// recursing a million levels).
			for _, over := range []int{depth + 1, 1_000_000} {
				if _, err := q.Append([]byte(nest(over))); !errors.Is(err, ErrInvalidRecord) {
					t.Errorf("Append(nesting %d) with MaxDepth %d = %v, want ErrInvalidRecord", over, depth, err)
				}
			}
			rec := nest(depth)
			id, err := q.Append([]byte(rec))
			if err != nil {
				t.Fatalf("Append(nesting %d) with MaxDepth %d: %v", depth, depth, err)
			}
			st, err := q.Get(id)
			if err != nil || string(st.Envelope.Record) != rec {
				t.Fatalf("Get of a record at MaxDepth %d: err %v, want it read back", depth, err)
			}
			var got string
			res, err := q.Ingest(context.Background(), func(_ context.Context, d Delivery) error {
				got = string(d.Record)
				return nil
			}, IngestOptions{})
			if err != nil || res.Delivered != 1 || res.Quarantined != 0 || got != rec {
				t.Fatalf("Ingest of a record at MaxDepth %d = %+v, %v; want it delivered verbatim", depth, res, err)
			}
		})
	}
}

// Spec R24: reading accepts a record nested maxDepthLimit levels, the most
// any queue's Append accepts, and refuses deeper files (however deep) as
// corrupt rather than overflowing the stack.
func TestReadDepthBound(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		depth int
		ok    bool
	}{
		{"limit", maxDepthLimit, true},
		{"limit plus one", maxDepthLimit + 1, false},
		{"a million levels", 1_000_000, false},
		{"four million levels", 4_000_000, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := `{"ulid":"` + noteULID + `","appended_at":"2026-05-02T15:00:00.000000+00:00","record":` + nest(tt.depth) + `,"schema_version":1}`
			_, err := decodeFile(noteName, []byte(data))
			if tt.ok && err != nil {
				t.Fatalf("decodeFile(record nested %d) = %v, want it read", tt.depth, err)
			}
			if !tt.ok && (!errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "nesting")) {
				t.Fatalf("decodeFile(record nested %d) = %v, want ErrCorrupt for nesting", tt.depth, err)
			}
		})
	}
}
