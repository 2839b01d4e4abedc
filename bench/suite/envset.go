package benchsuite

import (
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/capq/capq/bench/floor"
	"github.com/capq/capq/queue"
	"github.com/capq/capq/ulid"
)

// Config selects where and how much the suite runs.
type Config struct {
	// Dir is the directory under which the benchmarks create their queue
	// directories (one run directory, removed by Env.Close). It decides
	// the file system measured. Empty means os.TempDir().
	Dir string

	// Quick divides the queue depths by ten (1,000 and 10,000 pending
	// instead of 10,000 and 100,000) and, in Run, bounds every benchmark
	// to a few dozen iterations: a smoke run that takes well under a
	// minute, not a measurement to publish.
	Quick bool

	// Big adds the 1,000,000-file listing (Count, List, os.ReadDir).
	// Creating and removing a million files takes minutes.
	Big bool

	// BenchTime is Run's -test.benchtime for every benchmark, as go test
	// spells it ("1s", "200x"). Empty means a count per figure, which
	// bounds the time spent on slow durable operations: 100 single
	// appends, 1,000 concurrent appends, 2,000 ingested records, 10
	// listings (3 at 1,000,000), 300 overflow appends (Quick: a fifth of
	// each, at least 3), and 1s of ULID generation. go test ignores it
	// (its own -benchtime flag rules).
	BenchTime string

	// Filter, for Run, is a regular expression selecting figures by name
	// (for example "append|ingest"). Empty runs every figure.
	Filter string
}

// Env is one run of the suite: a run directory holding every queue
// directory the benchmarks create, and the deep-queue fills they share.
// Benchmark bodies are its methods; an Env is safe for use by one
// benchmark at a time (go test runs benchmarks sequentially).
type Env struct {
	cfg  Config
	root string

	mu      sync.Mutex
	fills   map[string]string // fill key -> directory
	seq     int
	flips   int    // see flip
	oldMs   uint64 // see oldIDs
	lastErr string // message of the last failure, for Run's table

	progress io.Writer // Run's output, for fill progress; nil under go test
}

// fatal records why a benchmark failed (testing.Benchmark discards the
// output of b.Fatal, and Run wants to print it) and fails it.
func (e *Env) fatal(tb testing.TB, args ...any) {
	tb.Helper()
	e.mu.Lock()
	e.lastErr = fmt.Sprint(args...)
	e.mu.Unlock()
	tb.Fatal(args...)
}

func (e *Env) fatalf(tb testing.TB, format string, args ...any) {
	tb.Helper()
	e.fatal(tb, fmt.Sprintf(format, args...))
}

// flip alternates between true and false on successive calls, so that
// benchmarks whose arms run once per invocation change which goes first
// from one -count repetition to the next.
func (e *Env) flip() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.flips++
	return e.flips%2 == 0
}

// takeErr returns and clears the last failure's message.
func (e *Env) takeErr() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.lastErr
	e.lastErr = ""
	return s
}

// NewEnv creates a run directory under cfg.Dir. The caller must Close it.
func NewEnv(cfg Config) (*Env, error) {
	parent := cfg.Dir
	if parent == "" {
		parent = os.TempDir()
	}
	root, err := os.MkdirTemp(parent, "capq-bench-")
	if err != nil {
		return nil, fmt.Errorf("benchsuite: %w", err)
	}
	return &Env{cfg: cfg, root: root, fills: make(map[string]string)}, nil
}

// TestFlags registers the flags of `go test -bench` that choose where and
// how deep the benchmarks run (-capq.dir, -capq.quick, -capq.big) and
// returns the function that builds each top-level benchmark's Env from
// them. A test package calls it once, at package level.
func TestFlags() func(*testing.B) *Env {
	dir := flag.String("capq.dir", "", "directory under which benchmarks create their queues (default $TMPDIR)")
	quick := flag.Bool("capq.quick", false, "benchmark smaller queues (depths divided by ten)")
	big := flag.Bool("capq.big", false, "also benchmark listings of 1,000,000 pending files (slow to create and remove)")
	return func(b *testing.B) *Env {
		return NewTestEnv(b, Config{Dir: *dir, Quick: *quick, Big: *big})
	}
}

// NewTestEnv is NewEnv for a benchmark or test: it fails tb on error and
// closes the Env in tb's cleanup. Sub-benchmarks run inside the caller
// share it, and so its fills: call it in the top-level benchmark.
func NewTestEnv(tb testing.TB, cfg Config) *Env {
	tb.Helper()
	e, err := NewEnv(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := e.Close(); err != nil {
			tb.Error(err)
		}
	})
	return e
}

// Root returns the run directory.
func (e *Env) Root() string { return e.root }

// Close removes the run directory and everything in it.
func (e *Env) Close() error {
	if err := os.RemoveAll(e.root); err != nil {
		return fmt.Errorf("benchsuite: removing %s: %w", e.root, err)
	}
	return nil
}

// Depths returns the two queue depths the depth-dependent benchmarks
// use: 10,000 and 100,000 pending records (Quick: 1,000 and 10,000).
func (e *Env) Depths() (medium, deep int) {
	if e.cfg.Quick {
		return 1_000, 10_000
	}
	return 10_000, 100_000
}

// DrainDepths returns the depths of the drain benchmarks: Depths' medium
// and deep.
func (e *Env) DrainDepths() []int {
	medium, deep := e.Depths()
	return []int{medium, deep}
}

// RunDepths runs body(n) as the sub-benchmark "pending=n" for each depth
// n: the shape of every benchmark that runs at several queue sizes.
func RunDepths(b *testing.B, depths []int, body func(n int) func(*testing.B)) {
	for _, n := range depths {
		b.Run(fmt.Sprintf("pending=%d", n), body(n))
	}
}

// ListDepths returns the depths of the listing benchmarks: the deep one,
// and 1,000,000 with Config.Big.
func (e *Env) ListDepths() []int {
	_, deep := e.Depths()
	if e.cfg.Big {
		return []int{deep, 1_000_000}
	}
	return []int{deep}
}

// OverflowMaxSize is the MaxSize of the overflow benchmark: the
// reference's default of 10,000 (Quick: 1,000).
func (e *Env) OverflowMaxSize() int {
	if e.cfg.Quick {
		return 1_000
	}
	return 10_000 // queue.Options.MaxSize's default
}

// newDir creates a fresh, empty directory in the run directory.
func (e *Env) newDir(tb testing.TB, what string) string {
	tb.Helper()
	e.mu.Lock()
	e.seq++
	name := filepath.Join(e.root, fmt.Sprintf("%s-%d", what, e.seq))
	e.mu.Unlock()
	if err := os.Mkdir(name, 0o700); err != nil {
		e.fatal(tb, err)
	}
	return name
}

// fill returns the directory of the run holding n pending records for the
// given use ("depth" for appends, ingest and listings, "depth-floor" for
// the floor's ingest, "overflow" for the overflow benchmark, which prunes),
// creating it on first use.
//
// Creating a file with data costs an inode and a data block, up to
// milliseconds each on the disks capq targets, so a fill is made of two
// parts. Its reserve, the oldest min(n, reserve) records, are real files
// holding valid ~200-byte envelopes: the only records a benchmark ever
// reads, since Ingest and prune take the oldest, and since the benchmarks
// that consume records put as many back at the old end (Env.refill). The
// rest are hard links to a few template files: names in the directory,
// which is all that appends, Count and List see. With empty set (listings
// only) every name is a link to an empty template.
func (e *Env) fill(tb testing.TB, use string, n int, empty bool) string {
	tb.Helper()
	key := fmt.Sprintf("%s-%d", use, n)
	if empty {
		key += "-empty"
	}
	e.mu.Lock()
	dir, ok := e.fills[key]
	e.mu.Unlock()
	if ok {
		return dir
	}
	dir = filepath.Join(e.root, key)
	if err := os.Mkdir(dir, 0o700); err != nil {
		e.fatal(tb, err)
	}
	d, err := floor.Open(dir)
	if err != nil {
		e.fatal(tb, err)
	}
	defer d.Close()
	t0 := time.Now()
	real := min(n, reserve)
	if empty {
		real = 0
	}
	err = linkRecords(d, n-real, empty)
	if err == nil {
		err = writeRecords(d, e.oldIDs(real), false)
	}
	if err == nil {
		err = d.SyncFS()
	}
	if err != nil {
		e.fatal(tb, err)
	}
	msg := fmt.Sprintf("filled %s with %d records in %v", dir, n, time.Since(t0).Round(time.Millisecond))
	tb.Log(msg)
	if e.progress != nil {
		fmt.Fprintln(e.progress, "# "+msg)
	}
	e.mu.Lock()
	e.fills[key] = dir
	e.mu.Unlock()
	return dir
}

// Record is the record every benchmark appends: a JSON object with the
// fields capq's producers write, sized so that its envelope is about 200
// bytes, as in the measurements.
var Record = []byte(`{"surface":"what the user said, in a few words","cue":"cue","session_id":"s-000001","role":"user"}`)

// envelope returns the pending file name and contents of a record with a
// new ULID, exactly as capq writes them (queue.DecodeEnvelope accepts
// them).
func envelope(dst []byte) (name string, data []byte, err error) {
	id, err := ulid.Default().New()
	if err != nil {
		return "", nil, err
	}
	name, data = envelopeOf(dst, id)
	return name, data, nil
}

// envelopeOf is envelope for a given ULID.
func envelopeOf(dst []byte, id ulid.ULID) (name string, data []byte) {
	s := id.String()
	at, _ := ulid.TimeOf(s)
	dst = append(dst, `{"ulid":"`...)
	dst = append(dst, s...)
	dst = append(dst, `","appended_at":"`...)
	dst = append(dst, queue.FormatAppendedAt(at)...)
	dst = append(dst, `","record":`...)
	dst = append(dst, Record...)
	dst = append(dst, `,"schema_version":1}`...)
	return floor.Prefix + s + floor.Suffix, dst
}

// reserve is how many of a fill's oldest records are real files: twice the
// largest bounded drain (ingestChunk), which is what capq's Ingest lists.
const reserve = 2_000

// maxLinks bounds the hard links to one template (ext4 allows 65,000).
const maxLinks = 60_000

// oldIDs returns n ascending ULIDs older than every ULID the Env handed
// out before: each call takes a millisecond (a day ago, and one lower on
// every call), with the entropy counting up from zero.
func (e *Env) oldIDs(n int) []ulid.ULID {
	e.mu.Lock()
	if e.oldMs == 0 {
		e.oldMs = uint64(time.Now().Add(-24 * time.Hour).UnixMilli())
	}
	ms := e.oldMs
	e.oldMs--
	e.mu.Unlock()
	ids := make([]ulid.ULID, n)
	for i := range ids {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], ms)
		copy(ids[i][:6], b[2:])
		binary.BigEndian.PutUint64(ids[i][8:], uint64(i))
	}
	return ids
}

// refill adds n real pending records to d at the old end, without fsync,
// then flushes the file system (syncfs) so that the next timed fsync does
// not pay for them. The next bounded drain takes exactly these.
func (e *Env) refill(d *floor.Dir, n int) error {
	if err := writeRecords(d, e.oldIDs(n), false); err != nil {
		return err
	}
	return d.SyncFS()
}

// writeRecords writes the pending records ids to d, without fsync.
func writeRecords(d *floor.Dir, ids []ulid.ULID, empty bool) error {
	buf := make([]byte, 0, 512)
	for _, id := range ids {
		name, data := envelopeOf(buf[:0], id)
		if empty {
			data = nil
		}
		if err := d.WriteFile(name, data); err != nil {
			return err
		}
	}
	return nil
}

// linkRecords adds n pending names to d, with new ULIDs, as hard links to
// template files (named ".template-N", which no queue counts).
func linkRecords(d *floor.Dir, n int, empty bool) error {
	var template string
	for i := range n {
		if i%maxLinks == 0 {
			template = fmt.Sprintf(".template-%d", i/maxLinks)
			_, data, err := envelope(nil)
			if err != nil {
				return err
			}
			if empty {
				data = nil
			}
			if err := d.WriteFile(template, data); err != nil {
				return err
			}
		}
		id, err := ulid.Default().New()
		if err != nil {
			return err
		}
		if err := d.Link(template, floor.Prefix+id.String()+floor.Suffix); err != nil {
			return err
		}
	}
	return nil
}

// openQueue opens a capq queue on dir with the suite's options: durable
// (the default), MaxSize as given.
func (e *Env) openQueue(tb testing.TB, dir string, maxSize int) *queue.Queue {
	tb.Helper()
	q, err := queue.Open(dir, queue.Options{MaxSize: maxSize})
	if err != nil {
		e.fatal(tb, err)
	}
	return q
}

func (e *Env) openFloor(tb testing.TB, dir string) *floor.Dir {
	tb.Helper()
	d, err := floor.Open(dir)
	if err != nil {
		e.fatal(tb, err)
	}
	return d
}

// noPrune is a MaxSize large enough never to prune in a benchmark, and
// still an int on 32-bit systems (1<<40 overflowed there). It is not -1,
// which would skip the overflow check the benchmarks mean to measure.
const noPrune = math.MaxInt32

// runArms times b.N operations split over the arms of a comparison, in
// rounds of chunk operations; each round starts with the next arm, so that
// no arm always runs first (on a cold cache) or last (behind the others'
// writeback). The timer covers only the rounds.
func (e *Env) runArms(b *testing.B, chunk int, arms []func(n int) error) {
	b.ResetTimer()
	for done, round := 0, 0; done < b.N; round++ {
		n := min(chunk, b.N-done)
		for k := range arms {
			if err := arms[(k+round)%len(arms)](n); err != nil {
				e.fatal(b, err)
			}
		}
		done += n
	}
	b.StopTimer()
}
