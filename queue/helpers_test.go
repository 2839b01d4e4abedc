//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capq/capq/internal/fsys"
	"github.com/capq/capq/ulid"
)

// sampleRecord is the reference suite's _sample_record (spec/REFERENCE.md): a minimally valid record.
func sampleRecord(i int, surface string) []byte {
	if surface == "" {
		surface = fmt.Sprintf("sample text %d", i)
	}
	b, err := json.Marshal(map[string]string{
		"surface": surface, "cue": fmt.Sprintf("cue %d", i),
		"tier": "episodic", "session_id": "test-session", "role": "user",
	})
	if err != nil {
		panic(err)
	}
	return b
}

// openTest opens a queue on a fresh temporary directory of the real disk.
func openTest(t testing.TB, opts Options) (*Queue, string) {
	t.Helper()
	dir := t.TempDir()
	q, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { q.Close() })
	return q, dir
}

// openFault opens a queue on a temporary directory of the real disk behind
// the fault-injecting seam.
func openFault(t testing.TB, opts Options) (*Queue, string, *fsys.Fault) {
	t.Helper()
	dir := t.TempDir()
	osfs, err := fsys.OpenOS(dir)
	if err != nil {
		t.Fatal(err)
	}
	f := fsys.NewFault(osfs)
	opts.fileSystem = f
	q, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { q.Close(); osfs.Close() })
	return q, dir, f
}

// writeEnvelopeDirectly is the reference suite's _write_envelope_directly: it seeds a
// pending file the way the reference writes it (json.dumps with
// ensure_ascii=False and compact separators), bypassing Append.
func writeEnvelopeDirectly(t testing.TB, dir, id string, record []byte, schemaVersion int, appendedAt string) string {
	t.Helper()
	if appendedAt == "" {
		appendedAt = "2026-05-02T15:00:00+00:00"
	}
	data := fmt.Sprintf(`{"ulid":%q,"appended_at":%q,"record":%s,"schema_version":%d}`, id, appendedAt, record, schemaVersion)
	p := filepath.Join(dir, "pending-"+id+".json")
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func exists(t testing.TB, p string) bool {
	t.Helper()
	_, err := os.Lstat(p)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return err == nil
}

func mustCount(t testing.TB, q *Queue) int {
	t.Helper()
	n, err := q.Count()
	if err != nil {
		t.Fatalf("Count: %v", err)
	}
	return n
}

func mustAppend(t testing.TB, q *Queue, rec []byte) ulid.ULID {
	t.Helper()
	id, err := q.Append(rec)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return id
}

// collect returns a handler that records every delivery.
func collect(seen *[]Delivery) Handler {
	return func(_ context.Context, d Delivery) error {
		*seen = append(*seen, d)
		return nil
	}
}

// surface extracts the "surface" field of a delivered record.
func surface(t testing.TB, d Delivery) string {
	t.Helper()
	var r struct {
		Surface string `json:"surface"`
	}
	if err := json.Unmarshal(d.Record, &r); err != nil {
		t.Fatal(err)
	}
	return r.Surface
}

func pendingPath(dir string, id ulid.ULID) string {
	return filepath.Join(dir, "pending-"+id.String()+".json")
}

func lockPath(dir string, id ulid.ULID) string {
	return filepath.Join(dir, "pending-"+id.String()+".lock")
}

// auditAll collects the audit log's entries through AuditEntries, skipping
// unreadable lines (a torn last line) and returning any other error. It is
// model.AuditAll's twin on purpose: model imports queue, so queue's own
// tests cannot import it.
func auditAll(q *Queue) ([]AuditEntry, error) {
	var out []AuditEntry
	for e, err := range q.AuditEntries(context.Background()) {
		if errors.Is(err, ErrAuditLine) {
			continue
		}
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
	return out, nil
}

// tmpfsMount mounts a fresh tmpfs with opts for the test (unmounted when
// it ends) and returns its path. It skips the test where that cannot be
// done: not root, not Linux, or a restricted container.
func tmpfsMount(t *testing.T, opts string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	mnt := t.TempDir()
	if err := mountTmpfs(t, mnt, opts); err != nil {
		t.Skipf("cannot mount a tmpfs (%v): run as root outside a restricted container", err)
	}
	return mnt
}

// skipWithoutNoReplace skips a test of the reserve of spare files (spec
// R32) on the real disk where its backend cannot rename without replacing:
// with the portable paths forced (-tags capq_portable), as on the BSDs,
// capq keeps no usable reserve (spec R45).
func skipWithoutNoReplace(t *testing.T) {
	t.Helper()
	o, err := fsys.OpenOS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if _, ok := any(o).(fsys.NoReplaceRenamer); !ok || o.Portable() {
		t.Skip("no rename without replacing on this backend: no reserve of spare files (spec R32, R45)")
	}
}

// fillDisk writes a new file at path until its file system has no free
// block left (ENOSPC or EDQUOT); any other error fails the test. It then
// checks that a second file cannot take a block either, so that a test
// built on a full disk cannot pass on one that is not full.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	block := make([]byte, 4096)
	for i, p := range []string{path, path + ".probe"} {
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for {
			if _, err = f.Write(block); err != nil {
				break
			}
			n++
		}
		f.Close()
		if !isNoSpace(err) {
			t.Fatalf("filling %s: %v", p, err)
		}
		if i == 1 {
			if n != 0 {
				t.Fatalf("the disk of %s is not full: a second file took %d more blocks", path, n)
			}
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// found is the schema_version value a *DataError wrapping ErrSchemaVersion
// found: its Detail up to the first space.
func found(e *DataError) string {
	v, _, _ := strings.Cut(e.Detail, " ")
	return v
}

// tooLong reports whether a *DataError wrapping ErrAuditLine is about a line
// too long to keep.
func tooLong(e *DataError) bool { return strings.HasPrefix(e.Detail, "line longer than") }

// countSpares counts the spare files (.capq-spare-<n>) in the queue
// directory dir on the real disk.
func countSpares(t *testing.T, dir string) int {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), spareNamePrefix) {
			n++
		}
	}
	return n
}
