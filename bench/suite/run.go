package benchsuite

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Reference figures of the Python reference queue on a 2-core machine
// (issue 7), printed beside capq's for comparison.
const (
	refAppendPerSec = 119   // appends/s on an empty queue
	refIngestPerSec = 7_900 // records/s
	refCount100k    = 1.2   // seconds to count 100,000 pending files
)

// figure is one benchmark of the table and how to read its result.
type figure struct {
	name  string
	iters int // default iterations (Quick: a fifth, at least 3); 0 means time-based
	body  func(b *testing.B)
	rows  func(r testing.BenchmarkResult) []row
}

// row is one line of the table.
type row struct {
	figure, capq, base, ratio, target, met, ref string
}

// Run runs the suite (or the figures cfg.Filter selects) with
// testing.Benchmark, in a run directory under cfg.Dir, and writes a
// Markdown report to w: the machine, the file system (statfs type, mount
// options), whether fsync looks real, then one table row per figure with
// its ratio to the floor or to its baseline, its target and whether it is
// met. It removes the run directory when done.
//
// Outside go test, Run registers the testing flags (testing.Init) on
// flag.CommandLine and sets -test.benchtime for each benchmark, restoring
// it afterwards. It returns an error for a directory it cannot use or a
// filter that does not compile, and ctx's error if ctx is cancelled (which
// Run notices between figures); a benchmark that fails is reported in its
// row, and the others still run.
func Run(ctx context.Context, w io.Writer, cfg Config) error {
	filter, err := regexp.Compile(cfg.Filter)
	if err != nil {
		return fmt.Errorf("benchsuite: filter: %w", err)
	}
	e, err := NewEnv(cfg)
	if err != nil {
		return err
	}
	defer e.Close()
	e.progress = w

	fsi, err := FileSystemOf(e.root)
	if err != nil {
		return err
	}
	probe, err := ProbeFsync(e.root, fsi.Type, 32)
	if err != nil {
		return err
	}
	writeHeader(w, cfg, e.root, fsi, probe)

	testing.Init()
	bt := flag.Lookup("test.benchtime")
	if bt == nil {
		return fmt.Errorf("benchsuite: testing flags not registered")
	}
	saved := bt.Value.String()
	defer flag.Set("test.benchtime", saved)

	var rows []row
	for _, f := range e.figures() {
		if !filter.MatchString(f.name) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		benchtime := cfg.BenchTime
		if benchtime == "" {
			benchtime = "1s"
			if f.iters > 0 {
				n := f.iters
				if cfg.Quick {
					n = max(n/5, 3)
				}
				benchtime = strconv.Itoa(n) + "x"
			}
		}
		if err := flag.Set("test.benchtime", benchtime); err != nil {
			return fmt.Errorf("benchsuite: benchtime %q: %w", benchtime, err)
		}
		fmt.Fprintf(w, "# running %s (-benchtime %s)\n", f.name, benchtime)
		t0 := time.Now()
		r := testing.Benchmark(f.body)
		if r.N == 0 {
			msg := e.takeErr()
			if msg == "" {
				msg = "benchmark failed"
			}
			rows = append(rows, row{figure: f.name, capq: "FAILED: " + msg, met: "no"})
			continue
		}
		fmt.Fprintf(w, "# %s: %d iterations in %v\n", f.name, r.N, time.Since(t0).Round(time.Millisecond))
		rows = append(rows, f.rows(r)...)
	}
	if !probe.Real {
		for i := range rows {
			if rows[i].met != "" && !strings.HasPrefix(rows[i].figure, "ULID") {
				rows[i].met += " (fsync not real)"
			}
		}
	}
	writeTable(w, rows)
	fmt.Fprintf(w, "\nLoad average at the end: %s\n", loadavg())
	return nil
}

func writeHeader(w io.Writer, cfg Config, root string, fsi FSInfo, probe FsyncProbe) {
	host, _ := os.Hostname()
	fmt.Fprintf(w, "# capq benchmark suite\n\n")
	fmt.Fprintf(w, "- Date: %s\n", time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "- Machine: %s, %d CPUs (%s), kernel %s, %s\n", host, runtime.NumCPU(), cpuModel(), kernelRelease(), runtime.Version())
	fmt.Fprintf(w, "- Load average at the start: %s\n", loadavg())
	fmt.Fprintf(w, "- Directory: %s\n", root)
	fmt.Fprintf(w, "- File system: %s\n", fsi)
	verdict := "fsync looks real"
	if !probe.Real {
		verdict = "WARNING: fsync does not look real"
	}
	fmt.Fprintf(w, "- %s: %s\n", verdict, probe.Note)
	fmt.Fprintf(w, "- Mode: quick=%v big=%v benchtime=%q filter=%q\n\n", cfg.Quick, cfg.Big, cfg.BenchTime, cfg.Filter)
}

func writeTable(w io.Writer, rows []row) {
	fmt.Fprintln(w, "\n| figure | capq | floor / baseline | ratio | target | met | Python reference |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- |")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", r.figure, r.capq, r.base, r.ratio, r.target, r.met, r.ref)
	}
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// Formatting helpers for the table.

func rate(nsPerOp float64) string {
	if nsPerOp <= 0 {
		return "-"
	}
	return fmt.Sprintf("%s/s", count(1e9/nsPerOp))
}

func count(v float64) string {
	switch {
	case v >= 100:
		return groupThousands(int64(v + 0.5))
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func groupThousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func dur(ns float64) string {
	return time.Duration(ns).Round(durRound(ns)).String()
}

func durRound(ns float64) time.Duration {
	switch {
	case ns >= 1e9:
		return time.Millisecond
	case ns >= 1e6:
		return 10 * time.Microsecond
	case ns >= 1e3:
		return 10 * time.Nanosecond
	default:
		return 1
	}
}

func mib(b float64) string { return fmt.Sprintf("%.2f MiB", b/(1<<20)) }

func ratioStr(v float64) string { return fmt.Sprintf("%.2f", v) }

func metAtLeast(v, target float64) string { return yesNo(v >= target) }
func metAtMost(v, target float64) string  { return yesNo(v <= target) }

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// figures lists the table's benchmarks in order.
func (e *Env) figures() []figure {
	medium, deep := e.Depths()
	var single, floorSingle float64 // single-writer ns/op of capq and the floor, for the 50-writer speed-up
	fs := []figure{
		{name: "durable append, 1 writer", iters: 100, body: e.DurableAppend, rows: func(r testing.BenchmarkResult) []row {
			c, f := r.Extra["capq-ns/op"], r.Extra["floor-ns/op"]
			single, floorSingle = c, f
			s := r.Extra["speed-vs-floor"]
			return []row{
				{figure: "durable append, 1 writer", capq: rate(c), base: "floor " + rate(f), ratio: ratioStr(s), target: ">= 0.85", met: metAtLeast(s, 0.85), ref: fmt.Sprintf("%d/s", refAppendPerSec)},
				{figure: "append allocations", capq: fmt.Sprintf("%.0f allocs, %.0f B per append", r.Extra["capq-allocs/op"], r.Extra["capq-B/op"])},
			}
		}},
		{name: "durable append, 50 writers", iters: 1000, body: e.ConcurrentAppend, rows: func(r testing.BenchmarkResult) []row {
			c, s, u := r.Extra["capq-ns/op"], r.Extra["floor-shared-ns/op"], r.Extra["floor-unshared-ns/op"]
			rows := []row{
				{figure: "durable append, 50 writers", capq: rate(c), base: "floor, shared dir fsync " + rate(s), ratio: ratioStr(s / c), target: ">= 0.85", met: metAtLeast(s/c, 0.85)},
				{figure: "50 writers, floor without shared dir fsync", capq: rate(c), base: "floor, one dir fsync per writer " + rate(u), ratio: ratioStr(u / c)},
			}
			if single > 0 && floorSingle > 0 {
				rows = append(rows, row{figure: "50 writers vs 1 writer (throughput)", capq: fmt.Sprintf("capq %.1fx", single/c), base: fmt.Sprintf("floor, shared %.1fx", floorSingle/s), target: "issue saw 10-20x on its disk"})
			}
			return rows
		}},
		{name: "append at depth", iters: 100, body: e.AppendAtDepth, rows: func(r testing.BenchmarkResult) []row {
			c0 := r.Extra["capq-0-ns/op"]
			cm := r.Extra[fmt.Sprintf("capq-%d-ns/op", medium)]
			cd := r.Extra[fmt.Sprintf("capq-%d-ns/op", deep)]
			chk := r.Extra[fmt.Sprintf("check-%d-ns/op", deep)]
			with := r.Extra[fmt.Sprintf("time-%d-vs-0-with-check", deep)]
			plain := r.Extra[fmt.Sprintf("time-%d-vs-0", deep)]
			ft := r.Extra[fmt.Sprintf("floor-time-%d-vs-0", deep)]
			return []row{
				{figure: "append at 0 pending", capq: dur(c0), base: "floor " + dur(r.Extra["floor-0-ns/op"]), ref: "1 ms"},
				{figure: fmt.Sprintf("append at %s pending", groupThousands(int64(medium))), capq: dur(cm), ratio: ratioStr(cm/c0) + " of 0", ref: "112 ms at 9,999"},
				{figure: fmt.Sprintf("append at %s pending, with overflow check", groupThousands(int64(deep))), capq: dur(cd) + " + " + dur(chk), base: "append at 0", ratio: ratioStr(with), target: "<= 1.2", met: metAtMost(with, 1.2)},
				{figure: fmt.Sprintf("append at %s pending (issue 2)", groupThousands(int64(deep))), capq: dur(cd), base: "append at 0", ratio: ratioStr(plain), target: "<= 1.5", met: metAtMost(plain, 1.5)},
				{figure: fmt.Sprintf("floor append at %s vs 0", groupThousands(int64(deep))), capq: "", base: "floor " + dur(r.Extra[fmt.Sprintf("floor-%d-ns/op", deep)]), ratio: ratioStr(ft), target: "(the disk's own slope)"},
			}
		}},
	}
	fs = append(fs,
		figure{name: "batch append", iters: 500, body: e.BatchAppend, rows: func(r testing.BenchmarkResult) []row {
			bs, fb := r.Extra["batch-vs-single"], r.Extra["speed-vs-floor-best"]
			c := r.Extra["capq-batch-ns/op"]
			return []row{
				{figure: fmt.Sprintf("AppendBatch of %d vs single Append", BatchSize), capq: rate(c), base: "single " + rate(r.Extra["capq-single-ns/op"]), ratio: ratioStr(bs), target: ">= 5", met: metAtLeast(bs, 5)},
				{figure: fmt.Sprintf("AppendBatch of %d vs the floor's best batch", BatchSize), capq: rate(c), base: fmt.Sprintf("floor syncfs %s, concurrent fsyncs %s, sequential %s, sync_file_range %s",
					rate(r.Extra["floor-syncfs-ns/op"]), rate(r.Extra["floor-concurrent-ns/op"]), rate(r.Extra["floor-sequential-ns/op"]), rate(r.Extra["floor-syncfilerange-ns/op"])), ratio: ratioStr(fb), target: ">= 0.8", met: metAtLeast(fb, 0.8)},
				{figure: "floor batch with spare files (inode off the critical path)", capq: "", base: "floor spare " + rate(r.Extra["floor-spare-ns/op"]), ratio: ratioStr(r.Extra["spare-vs-syncfs"]) + " of syncfs"},
			}
		}},
		figure{name: "producers", iters: 640, body: e.ProducersAppend, rows: func(r testing.BenchmarkResult) []row {
			p := r.Extra["producers-vs-one"]
			return []row{
				{figure: fmt.Sprintf("%d goroutines vs 1 (throughput)", Producers), capq: rate(r.Extra["capq-n-ns/op"]), base: "1 goroutine " + rate(r.Extra["capq-1-ns/op"]), ratio: ratioStr(p), target: ">= 5", met: metAtLeast(p, 5)},
				{figure: fmt.Sprintf("%d goroutines vs the floor's", Producers), capq: rate(r.Extra["capq-n-ns/op"]), base: "floor, shared dir fsync " + rate(r.Extra["floor-n-ns/op"]), ratio: ratioStr(r.Extra["speed-vs-floor"])},
				{figure: fmt.Sprintf("floor: %d writers vs 1 (throughput)", Producers), capq: "", base: fmt.Sprintf("floor %s vs %s", rate(r.Extra["floor-n-ns/op"]), rate(r.Extra["floor-1-ns/op"])), ratio: ratioStr(r.Extra["floor-producers-vs-one"]), target: "(what the disk gains)"},
			}
		}},
	)
	for _, depth := range []int{medium, deep} {
		name := fmt.Sprintf("ingest at %s pending", groupThousands(int64(depth)))
		fs = append(fs, figure{name: name, iters: 2000, body: e.Ingest(depth), rows: func(r testing.BenchmarkResult) []row {
			s := r.Extra["speed-vs-floor"]
			return []row{
				{figure: name + " (no-op handler)", capq: count(r.Extra["capq-records/s"]) + " records/s", base: "floor " + count(r.Extra["floor-records/s"]) + " records/s", ratio: ratioStr(s), target: ">= 0.8", met: metAtLeast(s, 0.8), ref: fmt.Sprintf("%s records/s", groupThousands(refIngestPerSec))},
			}
		}})
	}
	fs = append(fs, figure{name: "ingest allocations", iters: 500, body: e.IngestOnly(medium), rows: func(r testing.BenchmarkResult) []row {
		return []row{{figure: fmt.Sprintf("ingest allocations (capq alone, %s pending)", groupThousands(int64(medium))), capq: fmt.Sprintf("%d allocs, %d B per record", r.AllocsPerOp(), r.AllocedBytesPerOp()), base: dur(float64(r.NsPerOp())) + " per record"}}
	}})
	for _, depth := range e.ListDepths() {
		name := fmt.Sprintf("count and list at %s pending", groupThousands(int64(depth)))
		iters := 10
		if depth >= 1_000_000 {
			iters = 3
		}
		fs = append(fs, figure{name: name, iters: iters, body: e.CountList(depth), rows: func(r testing.BenchmarkResult) []row {
			t := r.Extra["time-vs-floor"]
			mem := r.Extra["capq-count-B/op"]
			ref := ""
			if depth == 100_000 {
				ref = fmt.Sprintf("%.1f s", refCount100k)
			}
			n := groupThousands(int64(depth))
			return []row{
				{figure: "Count at " + n, capq: dur(r.Extra["capq-count-ns/op"]), base: "floor getdents64 " + dur(r.Extra["floor-count-ns/op"]), ratio: ratioStr(t), target: "<= 1.5", met: metAtMost(t, 1.5), ref: ref},
				{figure: "Count memory at " + n, capq: mib(mem) + fmt.Sprintf(" (%.0f allocs)", r.Extra["capq-count-allocs/op"]), base: "floor " + mib(r.Extra["floor-count-B/op"]), target: "< 16 MiB", met: yesNo(mem < 16<<20)},
				{figure: "List at " + n, capq: dur(r.Extra["capq-list-ns/op"]) + ", " + mib(r.Extra["capq-list-B/op"]), base: "os.ReadDir " + dur(r.Extra["readdir-ns/op"]) + ", " + mib(r.Extra["readdir-B/op"])},
			}
		}})
	}
	maxSize := e.OverflowMaxSize()
	fs = append(fs,
		figure{name: "overflow", iters: 300, body: e.Overflow, rows: func(r testing.BenchmarkResult) []row {
			n := groupThousands(int64(maxSize))
			return []row{
				{figure: "append that prunes, MaxSize " + n, capq: dur(r.Extra["prune-append-ns"]), base: "other appends " + dur(r.Extra["plain-append-ns"]), ratio: fmt.Sprintf("%.0f prunes, worst %s", r.Extra["prunes"], dur(r.Extra["worst-append-ns"]))},
				{figure: "append amortised over prunes, MaxSize " + n, capq: dur(r.Extra["amortised-ns/op"]), base: "other appends " + dur(r.Extra["plain-append-ns"]), ratio: ratioStr(r.Extra["amortised-ns/op"] / r.Extra["plain-append-ns"])},
			}
		}},
		figure{name: "ULID generation", body: e.ULID, rows: func(r testing.BenchmarkResult) []row {
			return []row{{figure: "ULID generation", capq: count(r.Extra["ulids/s"]) + " ULIDs/s", base: fmt.Sprintf("%d allocs/op", r.AllocsPerOp())}}
		}},
	)
	return fs
}
