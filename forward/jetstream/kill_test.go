package jetstream

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/capq/capq/internal/layout"
	"github.com/capq/capq/queue"
)

// Environment of a child forwarder process (see TestMain).
const (
	envChild = "CAPQ_FORWARD_TEST_CHILD" // "1" makes the test binary a forwarder
	envDir   = "CAPQ_FORWARD_TEST_DIR"   // queue directory
	envURL   = "CAPQ_FORWARD_TEST_URL"   // NATS URL
	envStall = "CAPQ_FORWARD_TEST_STALL" // n > 0: after the n-th acknowledgement, print and hang before the delete

	// envKillRounds sets how many SIGKILL rounds TestKillForwarder runs
	// (default 10), for longer campaigns.
	envKillRounds = "CAPQ_FORWARD_KILL_ROUNDS"
	// envSeed fixes the random seed of TestKillForwarder.
	envSeed = "CAPQ_FORWARD_SEED"
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) == "1" {
		os.Exit(childForwarder())
	}
	os.Exit(m.Run())
}

// childForwarder is the forwarder process TestKillForwarder kills: it
// forwards the queue in $CAPQ_FORWARD_TEST_DIR once and exits 0 when the
// pass succeeded. With $CAPQ_FORWARD_TEST_STALL=n it keeps forwarding until
// the n-th acknowledgement, prints "STALLED <ulid>" and hangs before
// returning from the handler: a crash between the stream's acknowledgement
// and the local delete once the parent kills it.
func childForwarder() int {
	q, err := queue.Open(os.Getenv(envDir), queue.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: open:", err)
		return 2
	}
	nc, err := nats.Connect(os.Getenv(envURL), append(ConnOptions(), nats.ReconnectWait(20*time.Millisecond))...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: connect:", err)
		return 2
	}
	js, err := natsjs.New(nc)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	f, err := New(q, js, Config{Subject: "capture.p", Stream: "CAPTURE", Backoff: Backoff{Min: 5 * time.Millisecond, Max: 50 * time.Millisecond}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	stall, _ := strconv.Atoi(os.Getenv(envStall))
	if stall <= 0 {
		if err := f.Run(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "child: run:", err)
			return 1
		}
		return 0
	}
	acked := 0
	h := func(ctx context.Context, d queue.Delivery) error {
		if err := f.Handle(ctx, d); err != nil {
			return err
		}
		if acked++; acked == stall {
			fmt.Printf("STALLED %s\n", d.ULID)
			time.Sleep(time.Hour) // until the parent's SIGKILL
		}
		return nil
	}
	// Keep forwarding, records arriving as the parent appends, until the
	// stall and the parent's SIGKILL.
	for {
		q.Ingest(context.Background(), h, queue.IngestOptions{})
		time.Sleep(10 * time.Millisecond)
	}
}

// lineWriter collects a child's output and signals each complete line.
type lineWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	lines chan string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		i := bytes.IndexByte(w.buf.Bytes(), '\n')
		if i < 0 {
			break
		}
		line := string(w.buf.Next(i + 1))
		select {
		case w.lines <- strings.TrimSpace(line):
		default:
		}
	}
	return len(p), nil
}

// child is a running child forwarder.
type child struct {
	cmd    *exec.Cmd
	out    *lineWriter
	stderr *bytes.Buffer
	done   chan error
}

func startChild(t *testing.T, dir, url string, stall int) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"=1", envDir+"="+dir, envURL+"="+url, envStall+"="+strconv.Itoa(stall))
	c := &child{cmd: cmd, out: &lineWriter{lines: make(chan string, 16)}, stderr: new(bytes.Buffer), done: make(chan error, 1)}
	cmd.Stdout = c.out
	cmd.Stderr = c.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.done <- cmd.Wait() }()
	return c
}

func (c *child) exited() bool { return len(c.done) > 0 }

// kill sends SIGKILL and waits for the process to die.
func (c *child) kill() {
	c.cmd.Process.Signal(syscall.SIGKILL) // fails only if it already exited
	<-c.done
}

// TestKillForwarder kills a forwarder process with SIGKILL at random
// moments, round after round, while a producer keeps appending, and
// restarts it each time. Some rounds kill it right after the stream
// acknowledged a record and before capq deleted it. At the end the stream
// holds every record exactly once, in append order, and the queue is empty.
func TestKillForwarder(t *testing.T) { // Spec R11, R16
	if testing.Short() {
		t.Skip("starts child processes")
	}
	rounds := 10
	if v := os.Getenv(envKillRounds); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive integer", envKillRounds, v)
		}
		rounds = n
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(envSeed); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", envSeed, v, err)
		}
		seed = n
	}
	t.Logf("%d rounds, seed %d (set %s to repeat)", rounds, seed, envSeed)
	rng := rand.New(rand.NewPCG(seed, seed))

	s := startServer(t, serverOptions("kill", t.TempDir(), 0))
	_, js := connect(t, s.ClientURL())
	createStream(t, js, streamConfig())
	dir := t.TempDir()
	q := openQueue(t, dir, queue.Options{MaxSize: -1})
	all := fill(t, q, "p", 0, 500)

	stalled := 0
	for r := range rounds {
		before := streamMsgs(js, "CAPTURE")
		// A producer appends while the forwarder runs.
		var (
			wg     sync.WaitGroup
			added  []sent
			addErr error
		)
		wg.Go(func() { added, addErr = appendRecords(q, "p", len(all), 100) })

		mode := r % 3
		stall := 0
		if mode == 0 {
			// At most the 100 records the producer is appending now, so
			// that the child always gets there.
			stall = 1 + rng.IntN(100)
		}
		c := startChild(t, dir, s.ClientURL(), stall)
		switch mode {
		case 0: // right after an acknowledgement, before the delete
			var line string
			select {
			case line = <-c.out.lines:
			case err := <-c.done:
				t.Fatalf("round %d: child exited (%v) before stalling: %s", r, err, c.stderr)
			case <-time.After(waitLimit):
				t.Fatalf("round %d: child did not stall", r)
			}
			id, ok := strings.CutPrefix(line, "STALLED ")
			if !ok {
				t.Fatalf("round %d: child said %q", r, line)
			}
			c.kill()
			// The stream holds the record and the queue still has it:
			// the next forwarder must deliver it again, and the stream
			// must drop that delivery as a duplicate.
			if _, err := os.Stat(filepath.Join(dir, layout.PendingName(id))); err != nil {
				t.Fatalf("round %d: acknowledged-but-not-deleted record %s is not in the queue: %v", r, id, err)
			}
			if !streamHas(t, js, id) {
				t.Fatalf("round %d: record %s acknowledged but not in the stream", r, id)
			}
			stalled++
		case 1: // after the stream grew by a random amount
			k := 1 + rng.IntN(200)
			waitFor(t, "the stream to grow", func() bool { return c.exited() || streamMsgs(js, "CAPTURE") >= before+k })
			c.kill()
		case 2: // at a random moment, most often while it starts up
			time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
			c.kill()
		}
		wg.Wait()
		if addErr != nil {
			t.Fatal(addErr)
		}
		all = append(all, added...)
	}

	c := startChild(t, dir, s.ClientURL(), 0)
	if err := <-c.done; err != nil {
		t.Fatalf("final forwarder: %v\n%s", err, c.stderr)
	}
	if n := queueCount(t, q); n != 0 {
		t.Fatalf("%d records left in the queue", n)
	}
	msgs := readStream(t, js, "CAPTURE")
	checkExactlyOnce(t, msgs, all)
	retried := 0
	for _, m := range msgs {
		if m.Header.Get(HeaderAttempt) != "1" {
			retried++
		}
	}
	t.Logf("%d records, %d stored by a later attempt, %d acknowledged-then-killed records deduplicated", len(all), retried, stalled)
}

// streamHas reports whether the stream holds a message of record id.
func streamHas(t *testing.T, js natsjs.JetStream, id string) bool {
	t.Helper()
	for _, m := range readStream(t, js, "CAPTURE") {
		if m.Header.Get(HeaderULID) == id {
			return true
		}
	}
	return false
}
