package benchsuite

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/capq/capq/bench/floor"
	"github.com/capq/capq/queue"
	"github.com/capq/capq/ulid"
)

func TestParseMountinfo(t *testing.T) {
	t.Parallel()
	const info = `22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,resv_strict
30 25 0:27 / /dev/shm rw,relatime shared:5 - tmpfs tmpfs rw,size=24684096k
31 27 0:40 / /mnt/with\040space rw,noatime master:1 propagation:2 - xfs /dev/sdb1 rw,attr2
bad line
32 27 0:41 / /var rw - ext4 /dev/vdb
`
	mounts, err := parseMountinfo(strings.NewReader(info))
	if err != nil {
		t.Fatal(err)
	}
	if len(mounts) != 5 {
		t.Fatalf("parsed %d mounts, want 5: %+v", len(mounts), mounts)
	}
	tests := []struct {
		path                      string
		point, fstype, opts, supr string
	}{
		{"/work/main", "/", "ext4", "rw,relatime", "rw,discard,resv_strict"},
		{"/dev/shm/x", "/dev/shm", "tmpfs", "rw,relatime", "rw,size=24684096k"},
		{"/dev/shmem", "/", "ext4", "rw,relatime", "rw,discard,resv_strict"}, // a prefix of the name is not a parent
		{"/mnt/with space/q", "/mnt/with space", "xfs", "rw,noatime", "rw,attr2"},
		{"/var", "/var", "ext4", "rw", ""},
	}
	for _, tt := range tests {
		m, ok := mountOf(mounts, tt.path)
		if !ok || m.point != tt.point || m.fstype != tt.fstype || m.options != tt.opts || m.super != tt.supr {
			t.Errorf("mountOf(%q) = %+v, %v; want %s %s %s %s", tt.path, m, ok, tt.point, tt.fstype, tt.opts, tt.supr)
		}
	}
}

func TestUnescapeOctal(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`/a\040b`:   "/a b",
		`/tab\011x`: "/tab\tx",
		`/back\134`: `/back\`,
		`/plain`:    "/plain",
		`/short\04`: `/short\04`,
		`/nonoct\8`: `/nonoct\8`,
	} {
		if got := unescapeOctal(in); got != want {
			t.Errorf("unescapeOctal(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFileSystemOf(t *testing.T) {
	t.Parallel()
	fsi, err := FileSystemOf(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if fsi.Type == "" || !strings.Contains(fsi.String(), "statfs ") {
		t.Fatalf("FileSystemOf = %+v", fsi)
	}
	if _, err := FileSystemOf("/nonexistent/capq"); err == nil {
		t.Fatal("FileSystemOf of a missing directory: no error")
	}
}

// On a tmpfs the probe must say that fsync is not real, whatever it
// measures.
func TestProbeFsyncOnTmpfs(t *testing.T) {
	t.Parallel()
	fsi, err := FileSystemOf("/dev/shm")
	if err != nil || fsi.Type != "tmpfs" {
		t.Skip("no tmpfs at /dev/shm")
	}
	dir, err := os.MkdirTemp("/dev/shm", "capq-probe-")
	if err != nil {
		t.Skip(err)
	}
	defer os.RemoveAll(dir)
	p, err := ProbeFsync(dir, fsi.Type, 8)
	if err != nil {
		t.Fatal(err)
	}
	if p.Real || !strings.Contains(p.Note, "meaningless") {
		t.Fatalf("probe on tmpfs = %+v, want not real", p)
	}
}

// The fill writes envelopes that capq reads back as valid records.
func TestFillIsValidQueue(t *testing.T) {
	t.Parallel()
	e := NewTestEnv(t, Config{Dir: t.TempDir()})
	dir := e.fill(t, "depth", 30, false)
	if again := e.fill(t, "depth", 30, false); again != dir {
		t.Fatalf("second fill of the same key made %s, want %s reused", again, dir)
	}
	q, err := queue.Open(dir, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if n, err := q.Count(); err != nil || n != 30 {
		t.Fatalf("Count = %d, %v; want 30", n, err)
	}
	var got [][]byte
	res, err := q.Ingest(context.Background(), func(_ context.Context, d queue.Delivery) error {
		got = append(got, bytes.Clone(d.Record))
		return nil
	}, queue.IngestOptions{})
	if err != nil || res.Delivered != 30 || res.Quarantined != 0 {
		t.Fatalf("Ingest = %+v, %v; want 30 delivered", res, err)
	}
	for _, r := range got {
		if !bytes.Equal(r, Record) {
			t.Fatalf("record %s, want %s", r, Record)
		}
	}
	name, data, err := envelope(nil)
	if err != nil {
		t.Fatal(err)
	}
	env, err := queue.DecodeEnvelope(data)
	if err != nil {
		t.Fatal(err)
	}
	if want := "pending-" + env.ULID.String() + ".json"; name != want {
		t.Fatalf("envelope file %s holds ulid %s", name, env.ULID)
	}
	if len(data) < 180 || len(data) > 240 {
		t.Errorf("envelope of %d bytes, want about 200", len(data))
	}
}

func TestFloorCountsWhatCapqCounts(t *testing.T) {
	t.Parallel()
	e := NewTestEnv(t, Config{Dir: t.TempDir()})
	dir := e.fill(t, "list", 25, true)
	d, err := floor.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	q, err := queue.Open(dir, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	fn, ferr := d.Count(make([]byte, floor.ListBufSize))
	cn, cerr := q.Count()
	if ferr != nil || cerr != nil || fn != 25 || cn != 25 {
		t.Fatalf("floor %d (%v), capq %d (%v); want 25", fn, ferr, cn, cerr)
	}
}

func TestRun(t *testing.T) {
	var out bytes.Buffer
	cfg := Config{Dir: t.TempDir(), Quick: true, BenchTime: "3x", Filter: "^(ULID generation|durable append, 1 writer)$"}
	if err := Run(context.Background(), &out, cfg); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"File system: statfs ", "fsync", "| durable append, 1 writer |", "| append allocations |", "| ULID generation |", "| figure | capq |"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "ingest") {
		t.Errorf("filter let another figure run:\n%s", s)
	}
	entries, err := os.ReadDir(cfg.Dir)
	if err != nil || len(entries) != 0 {
		t.Errorf("Run left %v behind (%v)", entries, err)
	}
}

func TestRunErrors(t *testing.T) {
	if err := Run(context.Background(), new(bytes.Buffer), Config{Dir: t.TempDir(), Filter: "("}); err == nil {
		t.Error("bad filter: no error")
	}
	if err := Run(context.Background(), new(bytes.Buffer), Config{Dir: "/nonexistent/capq"}); err == nil {
		t.Error("missing directory: no error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Run(ctx, new(bytes.Buffer), Config{Dir: t.TempDir()}); err == nil {
		t.Error("cancelled context: no error")
	}
}

// Refills go to the old end: every ULID of a later oldIDs call sorts
// before every earlier one, and all before a new ULID.
func TestOldIDsSortFirst(t *testing.T) {
	t.Parallel()
	e := NewTestEnv(t, Config{Dir: t.TempDir()})
	first, second := e.oldIDs(3), e.oldIDs(3)
	fresh, err := ulid.Default().New()
	if err != nil {
		t.Fatal(err)
	}
	all := append(append(append([]ulid.ULID(nil), second...), first...), fresh)
	if !slices.IsSortedFunc(all, ulid.ULID.Compare) {
		t.Fatalf("not ascending: %v", all)
	}
	if len(slices.Compact(slices.Clone(all))) != len(all) {
		t.Fatalf("duplicates: %v", all)
	}
}
