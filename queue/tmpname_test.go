//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package queue

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/capq/capq/ulid"
)

// Spec R21, R36: a file capq did not create at a name near the
// temporary names of a dead letter's history (the fixed names older
// versions used, or the very name a write draws) is never removed, read
// or written: the history goes through a fresh name, the record is dead
// lettered, and Verify reports the look-alike.
func TestDeadLetterTmpNeverRemovesForeignFile(t *testing.T) {
	cases := []struct {
		name   string
		plant  func(id string) string // the foreign file's name in dead-letter/
		taken  bool                   // an earlier dead letter holds the unnumbered pair
		draw   bool                   // the first name drawn is the planted one
		report string                 // Verify's finding for the planted name
	}{
		{name: "unnumbered fixed tmp", plant: func(id string) string { return pendingPrefix + id + historySuffix + ".tmp" }, report: findingLookalike},
		{name: "numbered fixed tmp", taken: true, plant: func(id string) string { return pendingPrefix + id + historySuffix + ".1.tmp" }, report: findingLookalike},
		{name: "drawn name taken", draw: true, plant: func(id string) string {
			return pendingPrefix + id + historySuffix + ".0000000000000000.tmp"
		}, report: findingStrayTmp},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q, dir := openTest(t, Options{})
			bad := mustAppend(t, q, sampleRecord(0, ""))
			id := bad.String()
			dl := filepath.Join(dir, deadLetterDir)
			if err := os.Mkdir(dl, 0o700); err != nil {
				t.Fatal(err)
			}
			if tc.taken {
				for _, n := range []string{pendingPrefix + id + pendingSuffix, pendingPrefix + id + historySuffix} {
					if err := os.WriteFile(filepath.Join(dl, n), []byte("{\"attempt\":1}\n"), 0o600); err != nil {
						t.Fatal(err)
					}
				}
			}
			planted := filepath.Join(dl, tc.plant(id))
			if err := os.WriteFile(planted, []byte("notes\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if tc.draw {
				draws := 0
				old := durableTmpRand
				durableTmpRand = func(b []byte) (int, error) {
					draws++
					for i := range b {
						b[i] = byte(draws - 1) // all zeros first, then ones
					}
					return len(b), nil
				}
				t.Cleanup(func() { durableTmpRand = old })
			}
			var seen []Delivery
			res, err := q.Ingest(context.Background(), failing(&seen, bad), IngestOptions{MaxAttempts: 1})
			if err != nil || res.DeadLettered != 1 {
				t.Fatalf("Ingest = %+v, %v; want the record dead lettered", res, err)
			}
			if b, err := os.ReadFile(planted); err != nil || string(b) != "notes\n" {
				t.Fatalf("the foreign file at %s: %q, %v; want it untouched", tc.plant(id), b, err)
			}
			hist := pendingPrefix + id + historySuffix
			if tc.taken {
				hist += ".1"
			}
			if b, err := os.ReadFile(filepath.Join(dl, hist)); err != nil || len(historyAttempts(t, b)) != 1 {
				t.Errorf("history %s: %q, %v; want one attempt", hist, b, err)
			}
			findings, err := Verify(context.Background(), dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var kinds []string
			for _, f := range findings {
				if strings.HasSuffix(f.Name, tc.plant(id)) {
					kinds = append(kinds, f.Kind)
				}
			}
			if !slices.Equal(kinds, []string{tc.report}) {
				t.Errorf("Verify on the planted file: %v, want [%s]", kinds, tc.report)
			}
		})
	}
}

// Spec R21: the durable-write helper gives up, removing nothing, when
// every name it draws is taken.
func TestWriteDurableAllNamesTaken(t *testing.T) {
	q, dir := openTest(t, Options{})
	old := durableTmpRand
	durableTmpRand = func(b []byte) (int, error) { clear(b); return len(b), nil }
	t.Cleanup(func() { durableTmpRand = old })
	tmp := filepath.Join(dir, "x.0000000000000000.tmp")
	if err := os.WriteFile(tmp, []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := q.writeDurable("test", "x", []byte("data")); !errors.Is(err, fs.ErrExist) {
		t.Errorf("writeDurable = %v, want fs.ErrExist", err)
	}
	if b, err := os.ReadFile(tmp); err != nil || string(b) != "mine" {
		t.Errorf("the file at the drawn name: %q, %v; want it untouched", b, err)
	}
	if exists(t, filepath.Join(dir, "x")) {
		t.Error("x was written")
	}
}

// The names durableTmpBase accepts are exactly those durableTmpName makes.
func TestDurableTmpBase(t *testing.T) {
	made, err := durableTmpName("dead-letter/pending-X.history.2")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		in   string
		base string
		ok   bool
	}{
		{made, "dead-letter/pending-X.history.2", true},
		{"a.history.0123456789abcdef.tmp", "a.history", true},
		{"a.history.tmp", "", false},
		{"a.history.0123456789ABCDEF.tmp", "", false},
		{"a.history.0123456789abcde.tmp", "", false},
		{"a.history-0123456789abcdef.tmp", "", false},
		{"0123456789abcdef.tmp", "", false},
	}
	for _, tc := range cases {
		base, ok := durableTmpBase(tc.in)
		if base != tc.base || ok != tc.ok {
			t.Errorf("durableTmpBase(%q) = %q, %v; want %q, %v", tc.in, base, ok, tc.base, tc.ok)
		}
	}
}

// Spec R21: an append whose tmp name is taken (a file somebody planted at
// the name of the ULID it drew) leaves that file alone and takes the next
// ULID.
func TestAppendTmpNameTaken(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	gen := func() *ulid.Generator {
		return ulid.NewGenerator(ulid.GeneratorOptions{Clock: func() time.Time { return at }, Entropy: zeroReader{}})
	}
	first, err := gen().New()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	planted := filepath.Join(dir, tmpName(first.String()))
	if err := os.WriteFile(planted, []byte("notes\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	q, err := Open(dir, Options{ulids: gen(), SkipRecover: true})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	id, err := q.Append(sampleRecord(0, ""))
	if err != nil || id == first {
		t.Fatalf("Append = %s, %v; want a ULID other than the taken %s", id, err, first)
	}
	if b, err := os.ReadFile(planted); err != nil || string(b) != "notes\n" {
		t.Errorf("the file at the taken tmp name: %q, %v; want it untouched", b, err)
	}
	if !exists(t, pendingPath(dir, id)) {
		t.Errorf("record %s not pending", id)
	}
}

// zeroReader is entropy of zeros, so two generators agree.
type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }
