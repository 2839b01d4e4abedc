package conform

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/capq/capq/queue"
	"github.com/capq/capq/ulid"
)

// capq's own queue against the language-neutral vectors of spec/vectors
// (the README there says how any implementation runs them).

func readVectors[T any](t *testing.T, name string) []T {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "spec", "vectors", name))
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Vectors []T }
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(f.Vectors) == 0 {
		t.Fatalf("%s: no vectors", name)
	}
	return f.Vectors
}

// Spec R3, R4, R14, R21: every envelope vector decodes as it says.
func TestEnvelopeVectors(t *testing.T) {
	type vec struct {
		Name, File, Text, Expect, Record string
		Base64                           []byte
	}
	for _, v := range readVectors[vec](t, "envelopes.json") {
		data := []byte(v.Text)
		if v.Base64 != nil {
			data = v.Base64
		}
		env, err := queue.DecodeEnvelope(data)
		// A reader of pending-<ULID>.json also checks the ULID (R3).
		misnamed := err == nil && "pending-"+env.ULID.String()+".json" != v.File
		switch v.Expect {
		case "valid":
			if err != nil || misnamed || string(env.Record) != v.Record {
				t.Errorf("%s: got %q, %v (misnamed %v); want record %s", v.Name, env.Record, err, misnamed, v.Record)
			}
		case "corrupt":
			if !errors.Is(err, queue.ErrCorrupt) && !misnamed {
				t.Errorf("%s: got %v, want ErrCorrupt", v.Name, err)
			}
		case "unsupported":
			if !errors.Is(err, queue.ErrSchemaVersion) {
				t.Errorf("%s: got %v, want ErrSchemaVersion", v.Name, err)
			}
		default:
			t.Errorf("%s: unknown expectation %q", v.Name, v.Expect)
		}
	}
}

// Spec R4, R5: append accepts exactly the valid record vectors, and the
// handler receives the kept bytes.
func TestRecordVectors(t *testing.T) {
	type vec struct {
		Record, Kept string
		Valid        bool
	}
	q, err := queue.Open(t.TempDir(), queue.Options{MaxSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	for _, v := range readVectors[vec](t, "records.json") {
		id, err := q.Append([]byte(v.Record))
		if !v.Valid {
			if !errors.Is(err, queue.ErrInvalidRecord) {
				t.Errorf("append %q: %v, want ErrInvalidRecord", v.Record, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("append %q: %v", v.Record, err)
			continue
		}
		var got string
		if _, err := q.Ingest(context.Background(), func(_ context.Context, d queue.Delivery) error {
			if d.ULID == id {
				got = string(d.Record)
			}
			return nil
		}, queue.IngestOptions{}); err != nil {
			t.Fatal(err)
		}
		if got != v.Kept {
			t.Errorf("record %q delivered as %q, want %q", v.Record, got, v.Kept)
		}
	}
}

// Spec R1, R22, R23: only the names the vectors call pending are listed
// and counted.
func TestNameVectors(t *testing.T) {
	type vec struct {
		Name, Kind string
		Pending    bool
	}
	for _, v := range readVectors[vec](t, "names.json") {
		dir := t.TempDir()
		id := "01M89W077TES8Y8XEAP3E7KMB2"
		if u, ok := strings.CutPrefix(v.Name, "pending-"); ok && len(u) >= 26 && ulid.Valid(u[:26]) {
			id = u[:26]
		}
		env := envelope(id, "2026-05-02T15:00:00+00:00", `{"a":1}`, "1")
		path := filepath.Join(dir, v.Name)
		var err error
		switch v.Kind {
		case "file":
			err = os.WriteFile(path, env, 0o600)
		case "dir":
			err = os.Mkdir(path, 0o700)
		case "symlink":
			target := filepath.Join(t.TempDir(), "elsewhere.json")
			if err = os.WriteFile(target, env, 0o600); err == nil {
				err = os.Symlink(target, path)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		q, err := queue.Open(dir, queue.Options{MaxSize: -1, SkipRecover: true})
		if err != nil {
			t.Fatal(err)
		}
		ids, err := q.List()
		q.Close()
		if err != nil {
			t.Fatal(err)
		}
		listed := slices.ContainsFunc(ids, func(u ulid.ULID) bool { return "pending-"+u.String()+".json" == v.Name })
		if listed != v.Pending || (!v.Pending && len(ids) > 0) {
			t.Errorf("%s (%s): listed %v, want pending %v", v.Name, v.Kind, ids, v.Pending)
		}
	}
}
