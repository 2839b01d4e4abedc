package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/capq/capq/internal/layout"
	"github.com/capq/capq/queue"
)

// fastBackoff keeps the failure tests short; the schedule itself is tested
// in TestBackoff.
var fastBackoff = Backoff{Min: 5 * time.Millisecond, Max: 100 * time.Millisecond}

// TestForward10000 forwards 10,000 records from two producer hosts (two
// queues, two forwarders running at once) into one stream, and checks that
// the stream holds exactly those records, in order per producer, byte for
// byte, with the capq headers, and that both queues are empty.
func TestForward10000(t *testing.T) { // Spec R4, R11
	s := startServer(t, serverOptions("single", t.TempDir(), 0))
	_, js := connect(t, s.ClientURL())
	createStream(t, js, streamConfig())

	hosts := []string{"host-a", "host-b"}
	want := map[string][]sent{}
	queues := map[string]*queue.Queue{}
	for _, h := range hosts {
		q := openQueue(t, t.TempDir(), queue.Options{MaxSize: -1})
		queues[h] = q
		want["capture."+h] = fill(t, q, h, 0, 5000)
	}

	var wg sync.WaitGroup
	errs := make(chan error, len(hosts))
	fwds := map[string]*Forwarder{}
	for _, h := range hosts {
		_, hjs := connect(t, s.ClientURL()) // one connection per host, as in production
		f, err := New(queues[h], hjs, Config{Subject: "capture." + h, Stream: "CAPTURE", Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		fwds[h] = f
		wg.Go(func() { errs <- f.Run(context.Background()) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	}

	msgs := readStream(t, js, "CAPTURE")
	if len(msgs) != 10000 {
		t.Fatalf("stream holds %d messages, want 10000", len(msgs))
	}
	subjects := bySubject(msgs)
	for _, h := range hosts {
		subj := "capture." + h
		checkExactlyOnce(t, subjects[subj], want[subj])
		if n := queueCount(t, queues[h]); n != 0 {
			t.Errorf("%s: %d records left in the queue", h, n)
		}
		st := fwds[h].State()
		if st.Forwarded != 5000 || st.Duplicates != 0 || st.Phase != PhaseStopped || st.LastError != "" {
			t.Errorf("%s: state %+v", h, st)
		}
		for _, m := range subjects[subj] {
			if m.Header.Get(HeaderAttempt) != "1" {
				t.Fatalf("%s: message %d has attempt %s, want 1 (no failures happened)", h, m.Seq, m.Header.Get(HeaderAttempt))
			}
		}
	}
}

// TestServerDownAtStart starts the forwarder before the server exists: it
// must back off, delete nothing, report that it is not connected, and
// forward everything once the server comes up.
func TestServerDownAtStart(t *testing.T) {
	port := freePort(t)
	url := "nats://127.0.0.1:" + itoa(port)
	nc, js := connect(t, url)
	if nc.IsConnected() {
		t.Fatal("connected to a server that does not exist")
	}
	q := openQueue(t, t.TempDir(), queue.Options{})
	want := fill(t, q, "p", 0, 300)

	f, err := New(q, js, Config{Subject: "capture.p", Stream: "CAPTURE", Follow: true, PollInterval: 10 * time.Millisecond, Backoff: fastBackoff, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	stop := runForwarder(t, f)

	waitFor(t, "three failed passes", func() bool { return f.State().FailedPasses >= 3 })
	st := f.State()
	if st.Connected || st.Forwarded != 0 || st.PublishFailures < 3 || !strings.Contains(st.LastError, ErrNotConnected.Error()) {
		t.Fatalf("state while the server is down: %+v", st)
	}
	if n := queueCount(t, q); n != len(want) {
		t.Fatalf("queue holds %d records while the server is down, want %d (nothing may be deleted)", n, len(want))
	}
	ids, err := q.List()
	if err != nil {
		t.Fatal(err)
	}
	if ids[0] != want[0].ID {
		t.Fatalf("queue head %s, want %s", ids[0], want[0].ID)
	}

	s := startServer(t, serverOptions("late", t.TempDir(), port))
	_, admin := connect(t, s.ClientURL())
	createStream(t, admin, streamConfig())

	waitFor(t, "the queue to drain", func() bool { return queueCount(t, q) == 0 })
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v, want context.Canceled", err)
	}
	checkExactlyOnce(t, readStream(t, admin, "CAPTURE"), want)
	st = f.State()
	if st.Forwarded != uint64(len(want)) || st.ConsecutiveFailures != 0 || st.LastError != "" || st.Phase != PhaseStopped {
		t.Fatalf("state after recovery: %+v", st)
	}
}

// TestServerRestart shuts the server down in the middle of a forward and
// starts it again on the same port and store: nothing is deleted while it
// is down, and the stream ends with every record exactly once.
func TestServerRestart(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, serverOptions("restart", dir, 0))
	port := serverPort(t, s)
	_, js := connect(t, s.ClientURL())
	createStream(t, js, streamConfig())

	q := openQueue(t, t.TempDir(), queue.Options{MaxSize: -1})
	want := fill(t, q, "p", 0, 1500)
	f, err := New(q, js, Config{Subject: "capture.p", Stream: "CAPTURE", Follow: true, PollInterval: 10 * time.Millisecond, Backoff: fastBackoff, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	stop := runForwarder(t, f)

	waitFor(t, "300 records forwarded", func() bool { return f.State().Forwarded >= 300 })
	s.Shutdown()
	s.WaitForShutdown()

	waitFor(t, "two failed passes", func() bool { return f.State().FailedPasses >= 2 })
	down := queueCount(t, q)
	acked := f.State().Forwarded
	if down == 0 || acked >= uint64(len(want)) {
		t.Fatalf("the server stopped after the forward ended (%d left, %d acked): nothing tested", down, acked)
	}
	if int(acked)+down < len(want) {
		t.Fatalf("%d acknowledged + %d left < %d appended: records deleted without acknowledgement", acked, down, len(want))
	}
	n := f.State().FailedPasses
	waitFor(t, "three more failed passes", func() bool { return f.State().FailedPasses >= n+3 })
	if got := queueCount(t, q); got != down {
		t.Fatalf("queue went from %d to %d records while the server was down", down, got)
	}
	if st := f.State(); st.Connected || st.Phase == PhaseIdle {
		t.Fatalf("state while the server is down: %+v", st)
	}

	startServer(t, serverOptions("restart", dir, port))
	waitFor(t, "the queue to drain", func() bool { return queueCount(t, q) == 0 })
	stop()
	checkExactlyOnce(t, readStream(t, js, "CAPTURE"), want)
	st := f.State()
	if st.Forwarded+st.Duplicates < uint64(len(want)) || st.Forwarded > uint64(len(want)) {
		t.Fatalf("state after restart: %+v", st)
	}
	t.Logf("forwarded %d, duplicates acknowledged %d, failed passes %d", st.Forwarded, st.Duplicates, st.FailedPasses)
}

// TestStreamFull forwards into a stream whose limits are hit (DiscardNew):
// forwarding pauses with the record kept, the local queue's overflow rule
// still prunes it, and forwarding resumes when the stream has room.
func TestStreamFull(t *testing.T) { // Spec R18
	s := startServer(t, serverOptions("full", t.TempDir(), 0))
	_, js := connect(t, s.ClientURL())
	cfg := streamConfig()
	cfg.MaxMsgs = 100
	cfg.Discard = natsjs.DiscardNew
	createStream(t, js, cfg)

	const maxSize = 160 // headroom 16: a prune leaves 144
	q := openQueue(t, t.TempDir(), queue.Options{MaxSize: maxSize})
	first := fill(t, q, "p", 0, 150)
	f, err := New(q, js, Config{Subject: "capture.p", Stream: "CAPTURE", Follow: true, PollInterval: 10 * time.Millisecond, Backoff: fastBackoff, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	stop := runForwarder(t, f)
	waitFor(t, "the stream to fill and the forwarder to back off", func() bool {
		st := f.State()
		return st.Forwarded == 100 && st.FailedPasses >= 2
	})
	st := f.State()
	if !strings.Contains(st.LastError, "maximum messages exceeded") {
		t.Fatalf("last error %q, want the stream's limit", st.LastError)
	}
	if n := queueCount(t, q); n != 50 {
		t.Fatalf("queue holds %d records, want the 50 the stream refused", n)
	}
	ids, err := q.List()
	if err != nil {
		t.Fatal(err)
	}
	if ids[0] != first[100].ID {
		t.Fatalf("queue head %s, want %s (the first refused record)", ids[0], first[100].ID)
	}

	// Producers go on; the queue's overflow rule applies as without a
	// forwarder: 50 + 120 = 170 > 160, pruned down to 144 oldest first
	// (a record locked by the forwarder at that moment is skipped).
	more := fill(t, q, "p", 150, 120)
	left, err := q.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > maxSize || len(left) < maxSize-16-1 {
		t.Fatalf("queue holds %d records after overflow, want about %d", len(left), maxSize-16)
	}
	dropped := map[string]bool{}
	for a, err := range q.AuditEntries(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		if a.Reason == queue.ReasonOverflow {
			dropped[a.DroppedULID] = true
		}
	}
	if len(dropped)+len(left) != 170 {
		t.Fatalf("%d dropped + %d left != 170", len(dropped), len(left))
	}

	// Give the stream room: forwarding resumes with what the queue kept.
	cfg.MaxMsgs = 1000
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the queue to drain", func() bool { return queueCount(t, q) == 0 })
	stop()

	var want []sent
	for _, r := range append(first, more...) {
		if !dropped[r.ID.String()] {
			want = append(want, r)
		}
	}
	checkExactlyOnce(t, readStream(t, js, "CAPTURE"), want)
	if st := f.State(); st.LastError != "" || st.ConsecutiveFailures != 0 {
		t.Fatalf("state after the stream got room: %+v", st)
	}
}

// TestRefusedSubject publishes to a subject no stream listens on: no
// responders, so every pass fails and nothing is deleted; and to a stream
// that does not match Config.Stream.
func TestRefusedSubject(t *testing.T) {
	s := startServer(t, serverOptions("refuse", t.TempDir(), 0))
	_, js := connect(t, s.ClientURL())
	createStream(t, js, streamConfig())
	for _, tc := range []struct {
		name, subject, stream string
	}{
		{"no stream", "elsewhere.p", ""},
		{"wrong stream", "capture.p", "OTHER"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := openQueue(t, t.TempDir(), queue.Options{})
			fill(t, q, "p", 0, 3)
			f, err := New(q, js, Config{Subject: tc.subject, Stream: tc.stream, PublishTimeout: time.Second, Backoff: fastBackoff})
			if err != nil {
				t.Fatal(err)
			}
			stop := runForwarder(t, f)
			waitFor(t, "two failed passes", func() bool { return f.State().FailedPasses >= 2 })
			stop()
			if n := queueCount(t, q); n != 3 {
				t.Fatalf("queue holds %d records, want 3", n)
			}
			if st := f.State(); st.Forwarded != 0 || st.LastError == "" {
				t.Fatalf("state: %+v", st)
			}
		})
	}
	if n := streamMsgs(js, "CAPTURE"); n != 0 {
		t.Fatalf("stream holds %d messages, want 0", n)
	}
}

// TestSchemaErrorStops checks that a record of another schema version stops
// Run with the queue's ErrSchemaVersion instead of backing off forever or
// forwarding records out of order.
func TestSchemaErrorStops(t *testing.T) { // Spec R14
	s := startServer(t, serverOptions("schema", t.TempDir(), 0))
	_, js := connect(t, s.ClientURL())
	createStream(t, js, streamConfig())
	dir := t.TempDir()
	q := openQueue(t, dir, queue.Options{})
	recs := fill(t, q, "p", 0, 3)
	// Rewrite the second record as a newer writer would have.
	path := filepath.Join(dir, layout.PendingName(recs[1].ID.String()))
	data := []byte(`{"ulid":"` + recs[1].ID.String() + `","appended_at":"2026-01-01T00:00:00+00:00","record":{},"schema_version":2}`)
	if err := writeFile(path, data); err != nil {
		t.Fatal(err)
	}
	f, err := New(q, js, Config{Subject: "capture.p", Follow: true, Backoff: fastBackoff})
	if err != nil {
		t.Fatal(err)
	}
	err = f.Run(context.Background())
	if !errors.Is(err, queue.ErrSchemaVersion) {
		t.Fatalf("Run: %v, want queue.ErrSchemaVersion", err)
	}
	if st := f.State(); st.Forwarded != 1 || st.Phase != PhaseStopped || st.LastError == "" {
		t.Fatalf("state: %+v", st)
	}
	if n := queueCount(t, q); n != 2 {
		t.Fatalf("queue holds %d records, want 2", n)
	}
}

// TestServeHTTP checks the status endpoint's JSON and status codes.
func TestServeHTTP(t *testing.T) {
	_, js := connect(t, "nats://127.0.0.1:"+itoa(freePort(t)))
	q := openQueue(t, t.TempDir(), queue.Options{})
	fill(t, q, "p", 0, 1)
	f, err := New(q, js, Config{Subject: "capture.p", Follow: true, Backoff: Backoff{Min: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	get := func() (int, State) {
		rec := httptest.NewRecorder()
		f.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		var st State
		if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
			t.Fatalf("body %q: %v", rec.Body.String(), err)
		}
		return rec.Code, st
	}
	if code, st := get(); code != http.StatusOK || st.Phase != PhaseNew {
		t.Fatalf("before Run: %d %+v", code, st)
	}
	stop := runForwarder(t, f)
	waitFor(t, "a failed pass", func() bool { return f.State().Phase == PhaseBackingOff })
	code, st := get()
	if code != http.StatusServiceUnavailable || st.Phase != PhaseBackingOff || st.Connected || st.RetryAt.IsZero() || st.LastError == "" {
		t.Fatalf("backing off: %d %+v", code, st)
	}
	if err := f.Run(context.Background()); !errors.Is(err, ErrRunning) {
		t.Fatalf("second Run: %v, want ErrRunning", err)
	}
	stop()
}
