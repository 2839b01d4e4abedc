//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package queue

// The hostile-environment matrix (spec R38): every name capq uses x every
// kind of entry x every queue operation. Each cell plants one entry in a
// small queue, runs one operation under a deadline, then checks: no hang,
// no panic, nothing outside the queue read or written (a sentinel), no byte
// lost, good records still flow (a drain after the operation delivers
// them), and the problem is reported (by the operation or by Verify).
// `go test -v -run TestHostileMatrix ./queue` prints the table.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/capq/capq/ulid"
	"github.com/capq/capq/verify/hostile"
)

// matrixName is a name capq uses, where the matrix plants an entry.
type matrixName struct {
	label  string
	path   func(fx *fixture) string // relative to the queue directory
	inside func(fx *fixture) string // SymlinkIn target, relative to the entry's folder
	folder bool
	data   func(fx *fixture) []byte // Regular content
}

var matrixNames = []matrixName{
	{label: "pending", path: func(fx *fixture) string { return pendingName(fx.victim) },
		inside: func(fx *fixture) string { return pendingName(fx.good[0]) },
		data:   func(fx *fixture) []byte { return []byte(rawEnvelope(fx.victim, `{"victim":1}`, "1")) }},
	{label: "lock", path: func(fx *fixture) string { return lockName(fx.good[1]) },
		inside: func(fx *fixture) string { return pendingName(fx.good[0]) },
		data:   func(*fixture) []byte { return []byte("not a history\n") }},
	{label: "tmp", path: func(fx *fixture) string { return tmpName(fx.victim) },
		inside: func(fx *fixture) string { return pendingName(fx.good[0]) },
		data:   func(fx *fixture) []byte { return []byte(rawEnvelope(fx.victim, `{}`, "1")) }},
	{label: "locktmp", path: func(fx *fixture) string { return "." + lockName(fx.good[1]) + ".0123456789abcdef" + lockTmpSuffix },
		inside: func(fx *fixture) string { return pendingName(fx.good[0]) },
		data:   func(*fixture) []byte { return nil }},
	{label: "audit", path: func(*fixture) string { return auditLogName },
		inside: func(fx *fixture) string { return pendingName(fx.good[0]) },
		data: func(*fixture) []byte {
			return []byte(`{"ts":"t","reason":"pruned","dropped_ulid":"X","appended_at":""}` + "\n")
		}},
	{label: "audit.1", path: func(*fixture) string { return auditLogRotatedName },
		inside: func(*fixture) string { return auditLogName },
		data:   func(*fixture) []byte { return []byte("torn") }},
	{label: "quarantine/", path: func(*fixture) string { return quarantineDir }, folder: true,
		inside: func(*fixture) string { return deadLetterDir },
		data:   func(*fixture) []byte { return []byte("a file where a folder belongs") }},
	{label: "dead-letter/", path: func(*fixture) string { return deadLetterDir }, folder: true,
		inside: func(*fixture) string { return "." },
		data:   func(*fixture) []byte { return []byte("a file where a folder belongs") }},
	{label: "history", path: func(fx *fixture) string { return deadLetterDir + "/" + pendingPrefix + fx.fail + historySuffix },
		inside: func(fx *fixture) string { return pendingName(fx.dead) },
		data:   func(*fixture) []byte { return []byte("old history\n") }},
	{label: "history.tmp", path: func(fx *fixture) string {
		return deadLetterDir + "/" + pendingPrefix + fx.fail + historySuffix + ".tmp"
	},
		inside: func(fx *fixture) string { return pendingName(fx.dead) },
		data:   func(*fixture) []byte { return nil }},
}

// matrixOps are the queue operations of the matrix.
var matrixOps = []string{"append", "ingest", "ingest-max", "prune", "overflow", "requeue", "requeue-all", "recover", "verify", "stats", "audit", "get"}

// fixture is the queue a cell starts from: good records (delivered by the
// handler), one record whose handler fails, a dead letter, a corrupt file,
// and a victim ULID whose names the pending and tmp rows use.
type fixture struct {
	dir     string
	good    []string          // ULIDs of good pending records
	fail    string            // ULID of the record whose handler fails
	dead    string            // ULID of the dead letter
	corrupt string            // ULID of the corrupt pending file
	victim  string            // ULID of no record yet
	bytes   map[string][]byte // envelope bytes by ULID, for the no-byte-lost check
}

func newFixture(dir string) (*fixture, error) {
	q, err := Open(dir, Options{NoSync: true, MaxSize: -1})
	if err != nil {
		return nil, err
	}
	defer q.Close()
	fx := &fixture{dir: dir, bytes: map[string][]byte{}}
	// The victim and the corrupt file sort before every good record, so
	// that an entry that stops a drain keeps the good records waiting.
	gen := ulid.Default()
	v, _ := gen.New()
	fx.victim = v.String()
	c, _ := gen.New()
	fx.corrupt = c.String()
	d, err := q.Append([]byte(`{"dead":true}`))
	if err != nil {
		return nil, err
	}
	fx.dead = d.String()
	if _, err := q.Ingest(context.Background(), func(context.Context, Delivery) error { return errBoom }, IngestOptions{MaxAttempts: 1}); err != nil {
		return nil, err
	}
	for i := range 3 {
		id, err := q.Append(sampleRecord(i, ""))
		if err != nil {
			return nil, err
		}
		fx.good = append(fx.good, id.String())
	}
	f, err := q.Append([]byte(`{"fails":true}`))
	if err != nil {
		return nil, err
	}
	fx.fail = f.String()
	if err := os.WriteFile(filepath.Join(dir, pendingName(fx.corrupt)), []byte("not json"), 0o600); err != nil {
		return nil, err
	}
	for _, id := range append(slices.Clone(fx.good), fx.fail) {
		if fx.bytes[id], err = os.ReadFile(filepath.Join(dir, pendingName(id))); err != nil {
			return nil, err
		}
	}
	if fx.bytes[fx.dead], err = os.ReadFile(filepath.Join(dir, deadLetterDir, pendingName(fx.dead))); err != nil {
		return nil, err
	}
	fx.bytes[fx.corrupt] = []byte("not json")
	return fx, nil
}

// cellResult is what running one operation reported; it crosses a process
// boundary as JSON for the cells run by an unprivileged child.
type cellResult struct {
	Err       string   `json:"err,omitempty"`
	Panic     string   `json:"panic,omitempty"`
	Hang      bool     `json:"hang,omitempty"`
	Mentions  string   `json:"mentions,omitempty"`  // problems, findings, errors: for the report check
	Delivered []string `json:"delivered,omitempty"` // ULIDs the handler accepted
	Appended  []string `json:"appended,omitempty"`  // envelope bytes of records the op appended (JSON strings)
	FlowLeft  []string `json:"flow_left,omitempty"` // good records still pending after the flow drain
	FlowErr   string   `json:"flow_err,omitempty"`
	// ReadOutside is set when bytes of the sentinel outside the queue
	// came back from the queue (a delivery, Get, an audit entry).
	ReadOutside bool `json:"read_outside,omitempty"`
}

const cellDeadline = 10 * time.Second

// runCell opens the queue in dir, runs op, then drains once more (the flow
// check) and runs Verify, all under a deadline.
func runCell(dir, op string, fx *fixture) cellResult {
	done := make(chan cellResult, 1)
	go func() {
		var r cellResult
		defer func() {
			if p := recover(); p != nil {
				r.Panic = fmt.Sprint(p)
			}
			done <- r
		}()
		r = runCellOp(dir, op, fx)
	}()
	select {
	case r := <-done:
		return r
	case <-time.After(cellDeadline):
		return cellResult{Hang: true}
	}
}

func runCellOp(dir, op string, fx *fixture) cellResult {
	var r cellResult
	var mentions []string
	note := func(v ...any) {
		for _, x := range v {
			if x != nil && fmt.Sprint(x) != "" && fmt.Sprint(x) != "<nil>" {
				mentions = append(mentions, fmt.Sprint(x))
			}
		}
	}
	opts := Options{NoSync: true, MaxSize: -1}
	if op == "overflow" {
		opts.MaxSize = 3
	}
	q, err := Open(dir, opts)
	if err != nil {
		r.Err = "open: " + err.Error()
		return r
	}
	defer q.Close()
	ctx := context.Background()
	sentinel := []byte(strings.TrimSpace(hostile.SentinelData))
	seen := func(b []byte) {
		if bytes.Contains(b, sentinel) {
			r.ReadOutside = true
		}
	}
	handler := func(_ context.Context, d Delivery) error {
		seen(d.Record)
		if d.ULID.String() == fx.fail {
			return errBoom
		}
		r.Delivered = append(r.Delivered, d.ULID.String())
		return nil
	}
	appendOne := func() {
		id, err := q.Append([]byte(`{"appended":"` + op + `"}`))
		note(err)
		if err == nil {
			r.Appended = append(r.Appended, id.String())
		}
	}
	var opErr error
	switch op {
	case "append":
		appendOne()
	case "ingest", "ingest-max":
		io := IngestOptions{}
		if op == "ingest-max" {
			io.MaxAttempts = 1
		}
		res, err := q.Ingest(ctx, handler, io)
		opErr = err
		note(fmt.Sprint(res.Problems))
	case "prune":
		res, err := q.Prune(ctx, 1)
		opErr = err
		note(fmt.Sprint(res.Problems))
	case "overflow":
		for range 3 {
			appendOne()
		}
	case "requeue":
		opErr = q.Requeue(ulid.MustParse(fx.dead))
	case "requeue-all":
		_, opErr = q.RequeueAll(context.Background())
	case "recover":
		rep, err := q.Recover(ctx)
		opErr = err
		note(fmt.Sprint(rep))
	case "verify":
		fs, err := Verify(context.Background(), dir, Options{})
		opErr = err
		note(fmt.Sprint(fs))
	case "stats":
		st, err := q.Stats(ctx)
		opErr = err
		note(fmt.Sprint(st.Problems))
	case "audit":
		for e, err := range q.AuditEntries(ctx) {
			seen([]byte(fmt.Sprint(e)))
			note(err)
		}
	case "get":
		for _, id := range []string{fx.good[0], fx.victim, fx.dead} {
			st, err := q.Get(ulid.MustParse(id))
			seen(st.Data)
			if !errors.Is(err, ErrNotFound) {
				note(err)
			}
		}
	}
	note(opErr)
	seen([]byte(strings.Join(mentions, "\n")))
	if opErr != nil {
		r.Err = opErr.Error()
	}
	// Flow: a drain after the operation delivers every good record still
	// pending (MaxAttempts 1, so the failing record does not stop it).
	res, err := q.Ingest(ctx, handler, IngestOptions{MaxAttempts: 1})
	note(fmt.Sprint(res.Problems))
	if err != nil {
		r.FlowErr = err.Error()
	}
	for _, id := range fx.good {
		if fi, err := os.Lstat(filepath.Join(dir, pendingName(id))); err == nil && fi.Mode().IsRegular() {
			r.FlowLeft = append(r.FlowLeft, id)
		}
	}
	findings, err := Verify(context.Background(), dir, Options{})
	note(fmt.Sprint(findings), err)
	r.Mentions = strings.Join(mentions, "\n")
	return r
}

// accounted reports the records whose bytes are neither delivered, nor in a
// regular file of the queue, nor named as dropped in an audit file.
func lostRecords(dir string, fx *fixture, r cellResult, extra map[string][]byte) []string {
	var blobs [][]byte
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil {
			blobs = append(blobs, b)
		}
		return nil
	})
	delivered := map[string]bool{}
	for _, id := range r.Delivered {
		delivered[id] = true
	}
	want := map[string][]byte{}
	for id, b := range fx.bytes {
		want[id] = b
	}
	for id, b := range extra {
		want[id] = b
	}
	var lost []string
	for id, b := range want {
		if delivered[id] {
			continue
		}
		found := false
		for _, blob := range blobs {
			if bytes.Contains(blob, b) || bytes.Contains(blob, []byte(`"dropped_ulid":"`+id+`"`)) {
				found = true
				break
			}
		}
		if !found {
			lost = append(lost, id)
		}
	}
	sort.Strings(lost)
	return lost
}

// expectReport says whether the entry is wrong for its name, so that the
// operation or Verify must say so.
func expectReport(n matrixName, k hostile.Kind) bool {
	switch k {
	case hostile.Regular, hostile.Empty:
		return n.folder
	case hostile.Dir:
		return !n.folder
	case hostile.SymlinkIn, hostile.SymlinkOut, hostile.FIFO, hostile.Socket:
		return true
	case hostile.Mode000, hostile.OtherOwner:
		// Only checked where it matters: run unprivileged (as root the
		// entry is readable, and nothing is wrong). A regular file at a
		// history name is a crashed writer's, which the next dead letter
		// replaces (R36): nothing to report.
		return os.Geteuid() == 0 && !strings.HasPrefix(n.label, "history")
	}
	// ReadOnly: reported when the operation needs to write it (a lock
	// file); reading it is fine, so Verify has nothing to say.
	return false
}

type matrixCell struct {
	name   matrixName
	kind   hostile.Kind
	op     string
	base   string // temporary folder holding queue/ and outside/
	fx     *fixture
	check  func() error // the sentinel
	res    cellResult
	failed []string
	skip   string
}

// prepareCell builds the fixture and plants the entry.
func prepareCell(t *testing.T, c *matrixCell) {
	dir := filepath.Join(c.base, "q")
	outside := filepath.Join(c.base, "outside")
	for _, d := range []string{dir, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	fx, err := newFixture(dir)
	if err != nil {
		t.Fatalf("%s/%s/%s: fixture: %v", c.name.label, c.kind, c.op, err)
	}
	c.fx = fx
	if c.check, err = hostile.Sentinel(outside); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, c.name.path(fx))
	if err := os.RemoveAll(p); err != nil { // the fixture's own dead-letter folder, audit log, history
		t.Fatal(err)
	}
	if c.name.label == "dead-letter/" {
		delete(fx.bytes, fx.dead) // the planted entry replaced it
	}
	if c.name.label == "history" || c.name.label == "history.tmp" {
		os.MkdirAll(filepath.Dir(p), 0o700)
	}
	err = hostile.Plant(p, c.kind, c.name.folder, outside, c.name.inside(fx), c.name.data(fx))
	if errors.Is(err, hostile.ErrSkip) {
		c.skip = "cannot plant"
		return
	}
	if err != nil {
		t.Fatalf("%s/%s: plant: %v", c.name.label, c.kind, err)
	}
	if c.kind == hostile.Regular && c.name.label == "pending" {
		fx.bytes[fx.victim] = c.name.data(fx)
	}
}

// judge checks a cell's invariants after its operation ran.
func judge(c *matrixCell) {
	r := c.res
	fail := func(f string, a ...any) { c.failed = append(c.failed, fmt.Sprintf(f, a...)) }
	switch {
	case r.Hang:
		fail("did not finish within %v", cellDeadline)
		return
	case r.Panic != "":
		fail("panic: %s", r.Panic)
		return
	}
	if strings.HasPrefix(r.Err, "open: ") {
		fail("%s", r.Err)
		return
	}
	if err := c.check(); err != nil {
		fail("%v", err)
	}
	if r.ReadOutside {
		fail("bytes of the sentinel outside the queue came back from the queue")
	}
	dir := filepath.Join(c.base, "q")
	extra := map[string][]byte{}
	for _, id := range r.Appended {
		extra[id] = []byte(`{"appended":"` + c.op + `"}`)
	}
	if lost := lostRecords(dir, c.fx, r, extra); len(lost) > 0 {
		fail("bytes lost: %v", lost)
	}
	for _, id := range r.FlowLeft {
		// The record whose lock is the planted entry may wait for a
		// human; every other good record flows.
		if !(c.name.label == "lock" && id == c.fx.good[1]) {
			fail("good record %s still pending after a drain (flow error %q)", id, r.FlowErr)
		}
	}
	if expectReport(c.name, c.kind) && !strings.Contains(r.Mentions, filepath.Base(c.name.path(c.fx))) {
		fail("the %s at %s is not reported", c.kind, c.name.label)
	}
}

// Spec R38 (and R29 to R36 through it): the hostile-environment matrix.
func TestHostileMatrix(t *testing.T) {
	if os.Getenv(matrixChildEnv) != "" {
		matrixChild(t)
		return
	}
	ops := matrixOps
	if testing.Short() {
		// Every name and kind, with the operations that touch the most
		// names: the full matrix takes some 20 s on two busy cores.
		ops = []string{"ingest-max", "prune", "requeue-all", "stats", "audit", "get"}
	}
	var cells []*matrixCell
	for _, n := range matrixNames {
		for _, k := range hostile.Kinds {
			for _, op := range ops {
				cells = append(cells, &matrixCell{name: n, kind: k, op: op})
			}
		}
	}
	t0 := time.Now()
	root := worldTempDir(t)
	unpriv := os.Geteuid() == 0
	var childCells []*matrixCell
	var mu sync.Mutex
	sem := make(chan struct{}, 4*runtime.GOMAXPROCS(0)) // cells wait on the disk more than on the CPU
	var wg sync.WaitGroup
	for i, c := range cells {
		c.base = filepath.Join(root, fmt.Sprint(i))
		if err := os.Mkdir(c.base, 0o755); err != nil {
			t.Fatal(err)
		}
		if c.kind.NeedsUnprivileged() && !unpriv {
			// Not root: the test itself is unprivileged, so the kinds
			// matter in-process too (except another owner).
			if c.kind == hostile.OtherOwner {
				c.skip = "not root: cannot make another user's file"
				continue
			}
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			prepareCell(t, c)
			if c.skip != "" {
				return
			}
			if c.kind.NeedsUnprivileged() && unpriv {
				mu.Lock()
				childCells = append(childCells, c)
				mu.Unlock()
				return
			}
			c.res = runCell(filepath.Join(c.base, "q"), c.op, c.fx)
			judge(c)
			// Judged: its files are of no more use. Removed here, side
			// by side with the other cells, rather than all at the end
			// by one RemoveAll.
			os.RemoveAll(c.base)
		}()
	}
	wg.Wait()
	if len(childCells) > 0 {
		runChildCells(t, childCells)
	}
	t.Logf("%d cells in %v", len(cells), time.Since(t0).Round(time.Millisecond))
	printMatrix(t, cells, ops)
}

const matrixChildEnv = "CAPQ_MATRIX_CHILD"

// childJob is one cell for the unprivileged child.
type childJob struct {
	Dir string   `json:"dir"`
	Op  string   `json:"op"`
	Fx  *fixture `json:"-"`
	// The fixture's ULIDs, which the child needs to run the operation.
	Good                       []string
	Fail, Dead, Victim, Corrup string
}

// runChildCells gives each cell's queue to an unprivileged user (nobody),
// keeping the planted entry of the other-owner kind root's, and runs their
// operations in one child process of this test binary as that user.
func runChildCells(t *testing.T, cells []*matrixCell) {
	const nobody = 65534
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The test binary lives in a folder only root may enter: copy it.
	exe := filepath.Join(worldTempDir(t), "matrix.test")
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	var jobs []childJob
	for _, c := range cells {
		dir := filepath.Join(c.base, "q")
		planted := filepath.Join(dir, c.name.path(c.fx))
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if p != planted || c.kind != hostile.OtherOwner {
				os.Lchown(p, nobody, nobody)
			}
			return nil
		})
		jobs = append(jobs, childJob{Dir: dir, Op: c.op, Good: c.fx.good, Fail: c.fx.fail, Dead: c.fx.dead, Victim: c.fx.victim, Corrup: c.fx.corrupt})
	}
	jobFile := filepath.Join(filepath.Dir(exe), "jobs.json")
	b, _ := json.Marshal(jobs)
	if err := os.WriteFile(jobFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	outFile := filepath.Join(filepath.Dir(exe), "results.json")
	if err := os.WriteFile(outFile, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	os.Chmod(outFile, 0o666)
	cmd := exec.Command(exe, "-test.run=^TestHostileMatrix$", "-test.count=1")
	cmd.Env = append(os.Environ(), matrixChildEnv+"="+jobFile+":"+outFile, "HOME=/", "GOCOVERDIR=")
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	if out, err := cmd.CombinedOutput(); err != nil {
		for _, c := range cells {
			c.skip = "unprivileged child failed"
		}
		t.Logf("unprivileged child: %v\n%s", err, out)
		return
	}
	var results []cellResult
	b, err = os.ReadFile(outFile)
	if err == nil {
		err = json.Unmarshal(b, &results)
	}
	if err != nil || len(results) != len(cells) {
		t.Fatalf("unprivileged child results: %v (%d for %d cells)", err, len(results), len(cells))
	}
	for i, c := range cells {
		c.res = results[i]
		judge(c)
	}
}

// matrixChild runs the jobs of runChildCells, as the unprivileged user.
func matrixChild(t *testing.T) {
	jobFile, outFile, _ := strings.Cut(os.Getenv(matrixChildEnv), ":")
	b, err := os.ReadFile(jobFile)
	if err != nil {
		t.Fatal(err)
	}
	var jobs []childJob
	if err := json.Unmarshal(b, &jobs); err != nil {
		t.Fatal(err)
	}
	results := make([]cellResult, len(jobs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4*runtime.GOMAXPROCS(0)) // cells wait on the disk more than on the CPU
	for i, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fx := &fixture{dir: j.Dir, good: j.Good, fail: j.Fail, dead: j.Dead, victim: j.Victim, corrupt: j.Corrup}
			results[i] = runCell(j.Dir, j.Op, fx)
		}()
	}
	wg.Wait()
	out, _ := json.Marshal(results)
	if err := os.WriteFile(outFile, out, 0o666); err != nil {
		t.Fatal(err)
	}
}

// printMatrix logs the table (rows: name x kind; columns: operations) and
// fails t for each failed cell.
func printMatrix(t *testing.T, cells []*matrixCell, ops []string) {
	var b strings.Builder
	fmt.Fprintf(&b, "%-13s %-11s", "name", "kind")
	for _, op := range ops {
		fmt.Fprintf(&b, " %-11s", op)
	}
	b.WriteString("\n")
	by := map[string]*matrixCell{}
	for _, c := range cells {
		by[c.name.label+"|"+string(c.kind)+"|"+c.op] = c
	}
	fails, skips := 0, 0
	for _, n := range matrixNames {
		for _, k := range hostile.Kinds {
			fmt.Fprintf(&b, "%-13s %-11s", n.label, k)
			for _, op := range ops {
				c := by[n.label+"|"+string(k)+"|"+op]
				mark := "ok"
				switch {
				case c.skip != "":
					mark, skips = "skip", skips+1
				case len(c.failed) > 0:
					mark, fails = "FAIL", fails+1
				case expectReport(n, k):
					mark = "ok,reported"
				}
				fmt.Fprintf(&b, " %-11s", mark)
			}
			b.WriteString("\n")
		}
	}
	fmt.Fprintf(&b, "%d cells, %d failed, %d skipped\n", len(cells), fails, skips)
	t.Log("\n" + b.String())
	for _, c := range cells {
		for _, f := range c.failed {
			t.Errorf("%s x %s x %s: %s", c.name.label, c.kind, c.op, f)
		}
		if c.skip != "" && c.skip != "cannot plant" {
			t.Logf("%s x %s x %s skipped: %s", c.name.label, c.kind, c.op, c.skip)
		}
	}
}

// worldTempDir returns a new temporary folder that every user may enter
// (t.TempDir's parent is root's alone), removed after the test.
func worldTempDir(t *testing.T) string {
	d, err := os.MkdirTemp("", "capq-matrix-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}
