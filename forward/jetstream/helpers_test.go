package jetstream

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/capq/capq/queue"
	"github.com/capq/capq/ulid"
)

// waitLimit bounds every event-driven wait in the tests. It is generous on
// purpose: the tests share two cores with other work, and a wait that
// times out is a failure, never a measurement.
const waitLimit = 2 * time.Minute

// waitFor polls cond until it holds, failing the test after waitLimit.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", waitLimit, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// serverOptions returns the options of a single JetStream server on
// loopback, on a random port unless port is set, storing in dir.
func serverOptions(name, dir string, port int) *server.Options {
	if port == 0 {
		port = -1
	}
	return &server.Options{
		ServerName: name,
		Host:       "127.0.0.1",
		Port:       port,
		JetStream:  true,
		StoreDir:   dir,
		NoLog:      true,
		NoSigs:     true,
		// Keep JetStream from sizing itself on the machine's memory and
		// disk: the tests store a few megabytes.
		JetStreamMaxMemory: 64 << 20,
		JetStreamMaxStore:  1 << 30,
	}
}

// startServer starts a server with o and waits until it accepts clients.
// The test shuts it down at the end unless it was shut down before.
func startServer(t testing.TB, o *server.Options) *server.Server {
	t.Helper()
	s, err := server.NewServer(o)
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	s.Start()
	if !s.ReadyForConnections(waitLimit) {
		s.Shutdown()
		t.Fatalf("nats server %s not ready", o.ServerName)
	}
	t.Cleanup(s.Shutdown)
	return s
}

// serverPort returns the client port a running server listens on.
func serverPort(t testing.TB, s *server.Server) int {
	t.Helper()
	a, ok := s.Addr().(*net.TCPAddr)
	if !ok {
		t.Fatalf("server address %v is not TCP", s.Addr())
	}
	return a.Port
}

// freePort returns a loopback port nobody listened on a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// connect connects to url with the options the forwarder recommends, which
// also work when the server is not up yet.
func connect(t testing.TB, url string) (*nats.Conn, natsjs.JetStream) {
	t.Helper()
	opts := append(ConnOptions(), nats.ReconnectWait(20*time.Millisecond), nats.Name("capq-test"))
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := natsjs.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// streamConfig is the stream the tests forward into.
func streamConfig() natsjs.StreamConfig {
	return natsjs.StreamConfig{
		Name:       "CAPTURE",
		Subjects:   []string{"capture.>"},
		Storage:    natsjs.FileStorage,
		Duplicates: 10 * time.Minute, // longer than any test
	}
}

func createStream(t testing.TB, js natsjs.JetStream, cfg natsjs.StreamConfig) natsjs.Stream {
	t.Helper()
	var (
		st  natsjs.Stream
		err error
	)
	// A fresh cluster may not have elected its meta leader yet.
	waitFor(t, "stream creation", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		st, err = js.CreateStream(ctx, cfg)
		return err == nil
	})
	return st
}

// streamMsgs returns the number of messages the stream holds, or -1 when
// it cannot be asked.
func streamMsgs(js natsjs.JetStream, name string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, name)
	if err != nil {
		return -1
	}
	info, err := st.Info(ctx)
	if err != nil {
		return -1
	}
	return int(info.State.Msgs)
}

// storedMsg is one message read back from the stream.
type storedMsg struct {
	Seq     uint64
	Subject string
	Header  nats.Header
	Data    []byte
}

// readStream reads every message of the stream, in stream order, with an
// ordered consumer.
func readStream(t testing.TB, js natsjs.JetStream, name string) []storedMsg {
	t.Helper()
	n := -1
	waitFor(t, "stream info", func() bool { n = streamMsgs(js, name); return n >= 0 })
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, name, natsjs.OrderedConsumerConfig{})
	if err != nil {
		t.Fatalf("ordered consumer: %v", err)
	}
	out := make([]storedMsg, 0, n)
	for len(out) < n {
		batch, err := cons.Fetch(min(1000, n-len(out)), natsjs.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatalf("fetch: %v", err)
		}
		for m := range batch.Messages() {
			md, err := m.Metadata()
			if err != nil {
				t.Fatalf("metadata: %v", err)
			}
			out = append(out, storedMsg{Seq: md.Sequence.Stream, Subject: m.Subject(), Header: m.Headers(), Data: m.Data()})
		}
		if err := batch.Error(); err != nil && ctx.Err() != nil {
			t.Fatalf("fetch: %v", err)
		}
	}
	return out
}

// sent is a record appended to a test queue: what the stream must hold.
type sent struct {
	ID     ulid.ULID
	Record []byte
}

// openQueue opens a queue in dir for a test; NoSync because these tests
// are about process crashes and the network, not power loss.
func openQueue(t testing.TB, dir string, opts queue.Options) *queue.Queue {
	t.Helper()
	opts.NoSync = true
	q, err := queue.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

// record returns the i-th test record of producer p. The records use the
// spellings a JSON round trip would change (1.0, -0.0, a 2^70 integer,
// escapes, raw non-ASCII, key order), so that byte identity is meaningful.
func record(p string, i int) []byte {
	return fmt.Appendf(nil, `{"producer":%q,"n":%d,"f":1.0,"neg":-0.0,"big":1180591620717411303424,"esc":"\u00e9\n","raw":"é – %s","z":{"b":1,"a":[%d,true,null]}}`,
		p, i, strings.Repeat("x", i%50), i)
}

// fill appends n records of producer p, in batches, and returns them.
func fill(t testing.TB, q *queue.Queue, p string, from, n int) []sent {
	t.Helper()
	out, err := appendRecords(q, p, from, n)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// appendRecords is fill for goroutines other than the test's.
func appendRecords(q *queue.Queue, p string, from, n int) ([]sent, error) {
	out := make([]sent, 0, n)
	for i := from; i < from+n; {
		k := min(500, from+n-i)
		recs := make([][]byte, k)
		for j := range recs {
			recs[j] = record(p, i+j)
		}
		ids, err := q.AppendBatch(recs)
		if err != nil {
			return out, err
		}
		for j, id := range ids {
			out = append(out, sent{ID: id, Record: recs[j]})
		}
		i += k
	}
	return out, nil
}

// checkExactlyOnce checks that msgs (one subject's messages, in stream
// order) are exactly want, in order, byte for byte, with the capq headers.
func checkExactlyOnce(t testing.TB, msgs []storedMsg, want []sent) {
	t.Helper()
	seen := make(map[string]int, len(msgs))
	for _, m := range msgs {
		seen[m.Header.Get(HeaderULID)]++
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("record %s stored %d times", id, n)
		}
	}
	if len(msgs) != len(want) {
		missing := 0
		for _, w := range want {
			if seen[w.ID.String()] == 0 {
				missing++
			}
		}
		t.Fatalf("stream holds %d messages, want %d (%d records missing)", len(msgs), len(want), missing)
	}
	for i, w := range want {
		m := msgs[i]
		id := w.ID.String()
		if got := m.Header.Get(HeaderMsgID); got != id {
			t.Fatalf("message %d (seq %d): Nats-Msg-Id %s, want %s (out of order or missing)", i, m.Seq, got, id)
		}
		if got := m.Header.Get(HeaderULID); got != id {
			t.Fatalf("message %d: %s = %q, want %s", i, HeaderULID, got, id)
		}
		if !bytes.Equal(m.Data, w.Record) {
			t.Fatalf("message %d (%s): payload\n%s\nwant\n%s", i, id, m.Data, w.Record)
		}
		if got := m.Header.Get(HeaderSchemaVersion); got != "1" {
			t.Fatalf("message %d: %s = %q, want 1", i, HeaderSchemaVersion, got)
		}
		at, err := queue.ParseAppendedAt(m.Header.Get(HeaderAppendedAt))
		if err != nil {
			t.Fatalf("message %d: %s: %v", i, HeaderAppendedAt, err)
		}
		// The ULID's timestamp is the append's clock reading, in ms.
		if d := at.Sub(w.ID.Time()); d < -time.Millisecond || d > time.Second {
			t.Fatalf("message %d: appended_at %v far from the ULID's time %v", i, at, w.ID.Time())
		}
		if a, err := strconv.Atoi(m.Header.Get(HeaderAttempt)); err != nil || a < 1 {
			t.Fatalf("message %d: %s = %q", i, HeaderAttempt, m.Header.Get(HeaderAttempt))
		}
	}
}

// bySubject splits msgs by subject, keeping stream order.
func bySubject(msgs []storedMsg) map[string][]storedMsg {
	out := map[string][]storedMsg{}
	for _, m := range msgs {
		out[m.Subject] = append(out[m.Subject], m)
	}
	return out
}

func queueCount(t testing.TB, q *queue.Queue) int {
	t.Helper()
	n, err := q.Count()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// testLogger logs to the test's output when -v is given.
func testLogger(t testing.TB) *slog.Logger {
	if !testing.Verbose() {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
}

// runForwarder runs f in the background; the returned function cancels it
// and returns Run's error.
func runForwarder(t testing.TB, f *Forwarder) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	var (
		stopped bool
		err     error
	)
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			err = <-done
		}
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

func itoa(i int) string { return strconv.Itoa(i) }

func writeFile(path string, data []byte) error { return os.WriteFile(path, data, 0o600) }
