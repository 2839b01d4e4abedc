//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/capq/capq/queue"
	"github.com/capq/capq/ulid"
)

// Spec R2: drain writes the envelope as stored, on one line, keeping the
// record's bytes except white space between tokens.
func TestEnvelopeLine(t *testing.T) {
	t.Parallel()
	id := ulid.MustParse("01M89W077TES8Y8XEAP3E7KMB2")
	at := time.Date(2026, 11, 25, 17, 28, 7, 162144000, time.UTC)
	tests := []struct {
		record, want string
	}{
		{`{"a":1.0,"z":-0.0}`, `{"a":1.0,"z":-0.0}`},
		{`{"s":"Привет <a&b>"}`, `{"s":"Привет <a&b>"}`},
		{"{\"a\":\n  [1, 2]}", `{"a":[1,2]}`},
		{"{\"a\":\"x y\"\r\n}", `{"a":"x y"}`},
	}
	for _, tt := range tests {
		got, err := envelopeLine(queue.Envelope{ULID: id, AppendedAt: at, Record: []byte(tt.record)})
		if err != nil {
			t.Fatal(err)
		}
		want := `{"ulid":"01M89W077TES8Y8XEAP3E7KMB2","appended_at":"2026-11-25T17:28:07.162144+00:00","record":` + tt.want + `,"schema_version":1}` + "\n"
		if string(got) != want {
			t.Errorf("envelopeLine(%q) = %s, want %s", tt.record, got, want)
		}
		if _, err := queue.DecodeEnvelope(bytes.TrimSpace(got)); err != nil {
			t.Errorf("envelopeLine(%q) does not decode: %v", tt.record, err)
		}
	}
}

// Spec R8, R9, R15: the power-cut runs pass for capq's queue (they are
// deterministic for a seed: the in-memory file system has no timing).
func TestPowerCutRuns(t *testing.T) {
	t.Parallel()
	for run := range uint64(50) {
		if _, err := powerCutRun(1, run); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
	}
}

// The fuzz properties hold for a few thousand inputs, and mutate changes
// its input.
func TestFuzzSmoke(t *testing.T) {
	t.Parallel()
	res := fuzzPhase(&phaseRun{ctx: t.Context(), seed: 3, budget: 200 * time.Millisecond, progress: func(float64, string) {}})
	if res.Failed || res.Steps == 0 {
		t.Fatalf("%+v", res)
	}
}
