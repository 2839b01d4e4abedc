//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package queue

// Attempt counting and dead letters (spec R16, R17).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/capq/capq/internal/fsys"
	"github.com/capq/capq/ulid"
)

var errBoom = errors.New("boom")

// failing is a handler that fails for the records in fail and records every
// delivery.
func failing(seen *[]Delivery, fail ...ulid.ULID) Handler {
	return func(_ context.Context, d Delivery) error {
		*seen = append(*seen, d)
		if slices.Contains(fail, d.ULID) {
			return errBoom
		}
		return nil
	}
}

// historyAttempts returns the attempt numbers of the history lines in data,
// failing t on a line that is not a JSON object with an attempt.
func historyAttempts(t testing.TB, data []byte) []int {
	t.Helper()
	var out []int
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var h struct {
			Attempt *int `json:"attempt"`
		}
		if err := json.Unmarshal(sc.Bytes(), &h); err != nil || h.Attempt == nil {
			t.Fatalf("history line %q: %v", sc.Text(), err)
		}
		out = append(out, *h.Attempt)
	}
	return out
}

// Spec R16: the first delivery is attempt 1; each failure adds one, and
// the HandlerError says which attempt failed. The lock file keeps the
// history, one JSON line per recorded start and failure.
func TestAttemptCountsFailures(t *testing.T) {
	t.Parallel()
	q, dir := openTest(t, Options{})
	id := mustAppend(t, q, sampleRecord(0, ""))
	for want := 1; want <= 4; want++ {
		var seen []Delivery
		_, err := q.Ingest(context.Background(), failing(&seen, id), IngestOptions{})
		var he *HandlerError
		if !errors.As(err, &he) || !errors.Is(err, errBoom) {
			t.Fatalf("attempt %d: err = %v, want a *HandlerError wrapping the handler's", want, err)
		}
		if len(seen) != 1 || seen[0].Attempt != want || he.Attempt != want || he.ULID != id {
			t.Fatalf("attempt %d: deliveries %+v, HandlerError %+v", want, seen, he)
		}
		data, err := os.ReadFile(lockPath(dir, id))
		if err != nil {
			t.Fatalf("lock file after failure %d: %v", want, err)
		}
		if got := historyAttempts(t, data); len(got) == 0 || got[len(got)-1] != want {
			t.Errorf("history after failure %d: %v (%s)", want, got, data)
		}
	}
	var seen []Delivery
	if _, err := q.Ingest(context.Background(), collect(&seen), IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || seen[0].Attempt != 5 {
		t.Fatalf("fifth delivery: %+v", seen)
	}
	if exists(t, lockPath(dir, id)) || exists(t, pendingPath(dir, id)) {
		t.Error("record or lock left after success")
	}
}

// Spec R16: a lock file left by an earlier attempt that recorded nothing
// counts as one attempt. Such files are left by the reference (which
// writes nothing into its locks), by a capq consumer killed during a first
// attempt, and by a crash that tore the history.
func TestAttemptFromLeftoverLock(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		content string
		want    int
	}{
		{"reference empty lock", "", 2},
		{"torn history line", `{"attempt":`, 2},
		{"foreign bytes", "\x00\x01garbage\n", 2},
		{"history of two", `{"attempt":1,"failed":"x"}` + "\n" + `{"attempt":2,"started":"y"}` + "\n", 3},
		{"history then torn line", `{"attempt":3,"failed":"x"}` + "\n" + `{"attem`, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, dir := openTest(t, Options{SkipRecover: true})
			id := mustAppend(t, q, sampleRecord(0, ""))
			if err := os.WriteFile(lockPath(dir, id), []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			var seen []Delivery
			if _, err := q.Ingest(context.Background(), collect(&seen), IngestOptions{}); err != nil {
				t.Fatal(err)
			}
			if len(seen) != 1 || seen[0].Attempt != tc.want {
				t.Fatalf("deliveries %+v, want one with Attempt %d", seen, tc.want)
			}
		})
	}
}

// Spec R16: a consumer process killed inside its handler (simulated by
// Kill of its view of the in-memory file system, which releases its flocks
// as SIGKILL does) leaves the lock file behind, and another consumer's
// next delivery of the record says so. Killing it again during that second
// attempt makes the third delivery attempt 3: exact across process
// crashes.
func TestAttemptAfterKilledConsumer(t *testing.T) {
	t.Parallel()
	m := fsys.NewMem(nil)
	producer := openMem(t, m.FS(), Options{})
	id := mustAppend(t, producer, sampleRecord(0, ""))
	other := mustAppend(t, producer, sampleRecord(1, ""))

	for want := 1; want <= 3; want++ {
		view := m.FS()
		consumer := openMem(t, view, Options{SkipRecover: true})
		var seen []Delivery
		_, err := consumer.Ingest(context.Background(), func(_ context.Context, d Delivery) error {
			seen = append(seen, d)
			view.Kill() // SIGKILL in the middle of the handler
			return nil
		}, IngestOptions{})
		if err == nil {
			t.Fatal("Ingest of a killed process succeeded")
		}
		if len(seen) != 1 || seen[0].ULID != id || seen[0].Attempt != want {
			t.Fatalf("kill %d: deliveries %+v, want %s with Attempt %d", want, seen, id, want)
		}
	}
	// A healthy consumer finishes both; the untouched record is a first
	// attempt.
	q := openMem(t, m.FS(), Options{})
	var seen []Delivery
	if _, err := q.Ingest(context.Background(), collect(&seen), IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	got := map[ulid.ULID]int{}
	for _, d := range seen {
		got[d.ULID] = d.Attempt
	}
	if got[id] != 4 || got[other] != 1 || len(seen) != 2 {
		t.Errorf("final deliveries %+v, want %s at attempt 4 and %s at attempt 1", seen, id, other)
	}
}

// Spec R16: the history is not fsynced, so after a power cut the count may
// fall behind the truth, never run ahead of it.
func TestAttemptLowerBoundAfterPowerCut(t *testing.T) {
	t.Parallel()
	for seed := range uint64(seeds(20)) {
		m := fsys.NewMem(nil)
		q := openMem(t, m.FS(), Options{})
		id := mustAppend(t, q, sampleRecord(0, ""))
		failures := 1 + int(seed%3)
		for range failures {
			var seen []Delivery
			q.Ingest(context.Background(), failing(&seen, id), IngestOptions{})
		}
		o := m.Crash(rand.New(rand.NewPCG(seed, 1)))
		q2 := openMem(t, o.FS(), Options{})
		var seen []Delivery
		if _, err := q2.Ingest(context.Background(), collect(&seen), IngestOptions{}); err != nil {
			t.Fatal(err)
		}
		if len(seen) != 1 {
			t.Fatalf("seed %d: the acknowledged record was not delivered after the cut: %+v", seed, seen)
		}
		if a := seen[0].Attempt; a < 1 || a > failures+1 {
			t.Errorf("seed %d: after %d failures and a power cut, Attempt = %d, want 1..%d", seed, failures, a, failures+1)
		}
	}
}

// Spec R17, R20: with MaxAttempts 3, the third failure moves the record and
// its history to dead-letter/, writes an audit line, and the drain goes on
// to the next record in the same call.
func TestDeadLetterAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	q, dir := openTest(t, Options{})
	bad := mustAppend(t, q, sampleRecord(0, "bad"))
	good := mustAppend(t, q, sampleRecord(1, "good"))
	badBytes, err := os.ReadFile(pendingPath(dir, bad))
	if err != nil {
		t.Fatal(err)
	}
	opts := IngestOptions{MaxAttempts: 3}
	for attempt := 1; attempt <= 3; attempt++ {
		later := mustAppend(t, q, sampleRecord(attempt+1, fmt.Sprint("later ", attempt)))
		var seen []Delivery
		res, err := q.Ingest(context.Background(), failing(&seen, bad), opts)
		if err != nil {
			t.Fatalf("attempt %d: Ingest with MaxAttempts: %v", attempt, err)
		}
		if len(seen) == 0 || seen[0].ULID != bad || seen[0].Attempt != attempt {
			t.Fatalf("attempt %d: deliveries %+v", attempt, seen)
		}
		// The drain went past the failing record.
		if !slices.ContainsFunc(seen, func(d Delivery) bool { return d.ULID == later }) {
			t.Errorf("attempt %d: the drain stopped at the failing record: %+v", attempt, seen)
		}
		if attempt == 1 && !slices.ContainsFunc(seen, func(d Delivery) bool { return d.ULID == good }) {
			t.Errorf("the good record was not delivered")
		}
		if res.Failed != 1 || res.DeadLettered != b2i(attempt == 3) {
			t.Errorf("attempt %d: result %+v", attempt, res)
		}
	}
	if exists(t, pendingPath(dir, bad)) || exists(t, lockPath(dir, bad)) {
		t.Error("dead letter still pending, or its lock left")
	}
	dl := filepath.Join(dir, deadLetterDir, "pending-"+bad.String()+".json")
	got, err := os.ReadFile(dl)
	if err != nil || !bytes.Equal(got, badBytes) {
		t.Errorf("dead letter %s: %v; bytes equal: %v", dl, err, bytes.Equal(got, badBytes))
	}
	if ids, err := q.DeadLetters(); err != nil || !slices.Equal(ids, []ulid.ULID{bad}) {
		t.Errorf("DeadLetters = %v, %v", ids, err)
	}
	hist, err := q.DeadLetterHistory(bad)
	if err != nil {
		t.Fatal(err)
	}
	if a := historyAttempts(t, hist); len(a) == 0 || a[len(a)-1] != 3 || !slices.IsSorted(a) {
		t.Errorf("history attempts %v:\n%s", a, hist)
	}
	if !bytes.Contains(hist, []byte("boom")) {
		t.Errorf("history does not carry the handler's error:\n%s", hist)
	}
	audit, err := auditAll(q)
	if err != nil {
		t.Fatal(err)
	}
	var dead []AuditEntry
	for _, e := range audit {
		if e.Reason == ReasonDeadLetter {
			dead = append(dead, e)
		}
	}
	if len(dead) != 1 || dead[0].ULID != bad.String() || dead[0].Attempts != 3 || dead[0].AppendedAt == "" {
		t.Errorf("dead_letter audit lines: %+v", dead)
	}
	if n := mustCount(t, q); n != 0 {
		t.Errorf("Count = %d after the drains", n)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// deadLetterN dead-letters n records with MaxAttempts 1 and returns them.
func deadLetterN(t *testing.T, q *Queue, n int) []ulid.ULID {
	t.Helper()
	var ids []ulid.ULID
	for i := range n {
		ids = append(ids, mustAppend(t, q, sampleRecord(i, "")))
	}
	var seen []Delivery
	res, err := q.Ingest(context.Background(), failing(&seen, ids...), IngestOptions{MaxAttempts: 1})
	if err != nil || res.DeadLettered != n {
		t.Fatalf("dead-lettering %d: %+v, %v", n, res, err)
	}
	return ids
}

// Spec R17: Requeue puts a dead letter back under its own ULID, byte for
// byte, with a fresh attempt count and an audit line; the history goes.
func TestRequeue(t *testing.T) {
	t.Parallel()
	q, dir := openTest(t, Options{})
	ids := deadLetterN(t, q, 1)
	id := ids[0]
	before, err := os.ReadFile(filepath.Join(dir, deadLetterDir, "pending-"+id.String()+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Requeue(id); err != nil {
		t.Fatal(err)
	}
	after, err := os.ReadFile(pendingPath(dir, id))
	if err != nil || !bytes.Equal(before, after) {
		t.Fatalf("requeued file: %v; bytes kept: %v", err, bytes.Equal(before, after))
	}
	if dl, _ := q.DeadLetters(); len(dl) != 0 {
		t.Errorf("DeadLetters after Requeue = %v", dl)
	}
	if _, err := q.DeadLetterHistory(id); !errors.Is(err, ErrNotFound) {
		t.Errorf("history after Requeue: %v, want ErrNotFound", err)
	}
	audit, _ := auditAll(q)
	if !slices.ContainsFunc(audit, func(e AuditEntry) bool { return e.Reason == ReasonRequeued && e.ULID == id.String() }) {
		t.Errorf("no requeued audit line: %+v", audit)
	}
	var seen []Delivery
	if _, err := q.Ingest(context.Background(), collect(&seen), IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || seen[0].ULID != id || seen[0].Attempt != 1 {
		t.Errorf("delivery after Requeue: %+v, want %s at attempt 1", seen, id)
	}
}

// Spec R17: unknown ULIDs give ErrNotFound; RequeueAll brings every dead
// letter back in order.
func TestRequeueAllAndNotFound(t *testing.T) {
	t.Parallel()
	q, _ := openTest(t, Options{})
	unknown := ulid.MustParse("01ARZ3NDEKTSV4RRFFQ69G5FAV")
	if err := q.Requeue(unknown); !errors.Is(err, ErrNotFound) {
		t.Errorf("Requeue(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := q.DeadLetterHistory(unknown); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeadLetterHistory(unknown) = %v, want ErrNotFound", err)
	}
	if ids, err := q.DeadLetters(); err != nil || len(ids) != 0 {
		t.Errorf("DeadLetters of a fresh queue = %v, %v", ids, err)
	}
	ids := deadLetterN(t, q, 3)
	if n, err := q.RequeueAll(context.Background()); err != nil || n != 3 {
		t.Fatalf("RequeueAll = %d, %v", n, err)
	}
	if got, _ := q.List(); !slices.Equal(got, ids) {
		t.Errorf("List after RequeueAll = %v, want %v", got, ids)
	}
	if err := q.Requeue(ids[0]); !errors.Is(err, ErrNotFound) {
		t.Errorf("Requeue of a record already back = %v, want ErrNotFound", err)
	}
	if n, err := q.RequeueAll(context.Background()); err != nil || n != 0 {
		t.Errorf("second RequeueAll = %d, %v", n, err)
	}
}

// Spec R17, R20: a Requeue that cannot take the record's lock (another
// consumer holds it) fails, leaves the dead letter where it is, and does
// not claim in the audit log that it was requeued.
func TestRequeueBusyLock(t *testing.T) {
	t.Parallel()
	m := fsys.NewMem(nil)
	q := openMem(t, m.FS(), Options{})
	id := deadLetterN(t, q, 1)[0]
	holder := m.FS()
	f, err := holder.OpenFile(lockName(id.String()), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Flock(fsys.LockExclusive | fsys.LockNonBlocking); err != nil {
		t.Fatal(err)
	}
	if err := q.Requeue(id); err == nil {
		t.Fatal("Requeue succeeded under another holder's lock")
	}
	if dl, _ := q.DeadLetters(); !slices.Equal(dl, []ulid.ULID{id}) {
		t.Errorf("DeadLetters = %v, want the record still there", dl)
	}
	for _, e := range auditFor(t, q, ReasonRequeued, id.String()) {
		t.Errorf("audit line for a Requeue that did not happen: %+v", e)
	}
}
