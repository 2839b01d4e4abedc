package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/capq/capq/tools/internal/report"
)

// config is what the flags say.
type config struct {
	duration time.Duration
	smoke    bool
	targets  *regexp.Regexp
	pkgs     []string
	parallel int
	out      string
	cache    string
	minimize time.Duration
	grace    time.Duration
	stall    time.Duration
	list     bool
	verbose  bool

	corpus    string // persistent corpus directory (-corpus), or ""
	corpusMax int    // entries per target kept in the corpus
	junit     string // JUnit XML report file, or ""
	summary   string // Markdown summary file (appended to), or ""
	quiet     bool   // no progress, only the final summary
}

// Exit statuses (documented in doc.go).
const (
	exitOK    = 0 // every target passed
	exitFail  = 1 // a target failed, hung or did not build
	exitUsage = 2 // bad usage, a tool error, or interrupted
	exitFlake = 3 // no failure, but a target only flaked (go.dev/issue/75804)
)

func main() {
	ctx, stop := signalContext()
	code := mainCode(ctx, os.Args[1:], os.Stdout)
	stop()
	os.Exit(code)
}

func mainCode(ctx context.Context, args []string, stdout io.Writer) int {
	if len(args) > 0 && args[0] == "promote" {
		code, err := promote(ctx, args[1:], stdout)
		if err != nil {
			fmt.Fprintln(os.Stderr, "fuzzrun promote:", err)
		}
		return code
	}
	cfg, err := parseFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK // -h asked for the help it got
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fuzzrun:", err)
		return exitUsage
	}
	code, err := run(ctx, cfg, stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fuzzrun:", err)
		return exitUsage
	}
	return code
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("fuzzrun", flag.ContinueOnError)
	var cfg config
	var targets, pkgs string
	fs.DurationVar(&cfg.duration, "duration", time.Minute, "fuzzing time per target")
	fs.BoolVar(&cfg.smoke, "smoke", false, "CI smoke campaign: 3s per target (unless -duration is given) and 1s minimization")
	fs.StringVar(&targets, "targets", ".", "regexp selecting the targets to run (matched against the target name and against package.target)")
	fs.StringVar(&pkgs, "pkgs", "./fuzz/,./model/", "comma-separated packages to discover fuzz targets in, relative to the module root")
	fs.IntVar(&cfg.parallel, "parallel", runtime.GOMAXPROCS(0), "fuzzing workers per target (go test -parallel)")
	fs.StringVar(&cfg.out, "out", ".fuzzrun", "directory for the logs and summary.txt/summary.json, relative to the module root")
	fs.StringVar(&cfg.cache, "cache", "", "directory for the generated corpus (default: the fuzz cache in GOCACHE)")
	fs.DurationVar(&cfg.minimize, "minimizetime", 10*time.Second, "time to minimize each new or failing input (go test -fuzzminimizetime)")
	fs.DurationVar(&cfg.grace, "grace", 2*time.Minute, "time past -duration after which a run counts as hung and is killed")
	fs.DurationVar(&cfg.stall, "stall", time.Minute, "a run whose execs (or baseline inputs) stop advancing this long is hung: killed and reported as hang (at least 5s: go test reports every 3s)")
	fs.BoolVar(&cfg.list, "list", false, "print the discovered targets and exit")
	fs.BoolVar(&cfg.verbose, "v", false, "print go test's output as it comes")
	fs.StringVar(&cfg.corpus, "corpus", "", "persistent corpus `DIR`: restored before each target runs, the new inputs merged back after (see doc)")
	fs.IntVar(&cfg.corpusMax, "corpus-max", 5000, "entries kept per target in the -corpus directory, smallest first (0: no limit)")
	fs.StringVar(&cfg.junit, "junit", "", "write a JUnit XML report to `FILE` (one test case per target)")
	fs.StringVar(&cfg.summary, "summary", "", "append a Markdown summary to `FILE` (e.g. $GITHUB_STEP_SUMMARY)")
	fs.BoolVar(&cfg.quiet, "quiet", false, "no progress lines: print only the final summary")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() != 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if cfg.smoke {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["duration"] {
			cfg.duration = 3 * time.Second
		}
		if !set["minimizetime"] {
			cfg.minimize = time.Second
		}
	}
	re, err := regexp.Compile(targets)
	if err != nil {
		return cfg, fmt.Errorf("-targets: %w", err)
	}
	cfg.targets = re
	for p := range strings.SplitSeq(pkgs, ",") {
		if p = strings.TrimSpace(p); p != "" {
			cfg.pkgs = append(cfg.pkgs, p)
		}
	}
	switch {
	case cfg.duration <= 0:
		return cfg, errors.New("-duration must be positive")
	case cfg.parallel < 1:
		return cfg, errors.New("-parallel must be at least 1")
	case len(cfg.pkgs) == 0:
		return cfg, errors.New("-pkgs is empty")
	case cfg.corpus != "" && cfg.cache != "":
		return cfg, errors.New("-corpus and -cache are exclusive: -corpus keeps the corpus, -cache lets go test write into DIR")
	case cfg.corpusMax < 0:
		return cfg, errors.New("-corpus-max must not be negative")
	case cfg.grace <= 0:
		return cfg, errors.New("-grace must be positive: it is how long a run may outlive -duration before it counts as hung")
	case cfg.minimize < 0:
		return cfg, errors.New("-minimizetime must not be negative")
	case cfg.stall < minStall:
		return cfg, fmt.Errorf("-stall must be at least %v: go test reports its progress every 3s", minStall)
	}
	return cfg, nil
}

// minStall is the shortest -stall: go test -fuzz prints its progress every
// 3 seconds, so a shorter limit would call a healthy run hung.
const minStall = 5 * time.Second

// signalContext is cancelled on the first interrupt, so that the current
// run is stopped and the summary of what ran is still written.
func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 1)
	signalNotify(ch)
	go func() {
		select {
		case <-ch:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// target is one fuzz target of one package.
type target struct {
	Pkg        string // as given in -pkgs, e.g. ./fuzz/
	ImportPath string
	Dir        string
	Name       string
}

// Result is the summary of one target's run.
type Result struct {
	Package        string   `json:"package"`
	Target         string   `json:"target"`
	Status         string   `json:"status"` // pass, fail, flake, hang, error, interrupted, not run
	Execs          int64    `json:"execs"`
	ExecsPerSec    float64  `json:"execs_per_sec"` // execs over the fuzzing time
	NewInteresting int      `json:"new_interesting"`
	Corpus         int      `json:"corpus"`   // go test's corpus total: seeds, cache and new
	Baseline       int      `json:"baseline"` // inputs go test started from: seeds and cache
	Seconds        float64  `json:"seconds"`  // wall time of the run, build included
	Log            string   `json:"log"`
	FailingInput   string   `json:"failing_input,omitempty"`
	Message        []string `json:"message,omitempty"`
	Reproduce      string   `json:"reproduce,omitempty"`
	// Signature identifies the failure (Failure.Signature); Title is its
	// one-line description.
	Signature string `json:"signature,omitempty"`
	Title     string `json:"title,omitempty"`
	// Crasher is the copy of the failing input under -out/crashers/.
	Crasher string `json:"crasher,omitempty"`
	// With -corpus: entries restored before the run, added by it, dropped
	// over the budget, and the corpus size after the merge.
	CorpusIn      int `json:"corpus_in,omitempty"`
	CorpusAdded   int `json:"corpus_added,omitempty"`
	CorpusDropped int `json:"corpus_dropped,omitempty"`
	CorpusSize    int `json:"corpus_size,omitempty"`

	key []string // the signature's key
}

// Summary is what summary.json holds.
type Summary struct {
	Started   time.Time `json:"started"`
	Duration  string    `json:"duration_per_target"`
	Parallel  int       `json:"parallel"`
	GoVersion string    `json:"go_version"`
	CPUs      int       `json:"cpus"`
	Cache     string    `json:"corpus_cache"`
	Skipped   []string  `json:"skipped_packages,omitempty"`
	Results   []Result  `json:"results"`
	Failed    int       `json:"failed"`
	// Failures are the failed results grouped by signature.
	Failures []Failure `json:"failures,omitempty"`
	// Flaked counts the targets whose only failure was the known flake.
	Flaked int `json:"flaked"`
	// Exit is the exit status (see doc.go).
	Exit int `json:"exit"`
	// Interrupted is set when a signal stopped the campaign: the targets
	// it cut short are "interrupted", those it never began "not run".
	Interrupted bool `json:"interrupted,omitempty"`
}

func run(ctx context.Context, cfg config, stdout io.Writer) (int, error) {
	root, err := moduleRoot()
	if err != nil {
		return 0, err
	}
	// The report files first: an unwritable path or one file for both is
	// a usage error now, not after the campaign.
	var outs *report.Outputs
	out := absUnder(root, cfg.out)
	if !cfg.list {
		// -out first: a report is often asked for inside it
		// (-junit .fuzzrun/junit.xml, as fuzz.yml does).
		if err := os.MkdirAll(out, 0o755); err != nil {
			return 0, err
		}
		if outs, err = report.OpenOutputs(cfg.junit, cfg.summary); err != nil {
			return 0, err
		}
		defer outs.Close()
	}
	prog := report.New(stdout, report.Options{Prefix: "fuzzrun", Quiet: cfg.quiet})
	defer prog.Close()
	targets, skipped, broken := discover(ctx, root, cfg)
	if ctx.Err() != nil {
		// go list and go test -list were killed by the interrupt: their
		// errors say nothing about the packages.
		return 0, errors.New("interrupted while discovering the targets: nothing ran")
	}
	for _, s := range skipped {
		prog.Printf("fuzzrun: skipping %s", s)
	}
	for _, b := range broken {
		prog.Printf("fuzzrun: cannot list the targets of %s:\n    %s", b.Package, strings.Join(b.Message, "\n    "))
	}
	if cfg.list {
		for _, t := range targets {
			fmt.Fprintf(stdout, "%s\t%s\n", t.ImportPath, t.Name)
		}
		if len(broken) > 0 {
			return exitFail, nil
		}
		return exitOK, nil
	}
	if len(targets) == 0 && len(broken) == 0 {
		return 0, fmt.Errorf("no fuzz target matches %q in %s", cfg.targets, strings.Join(cfg.pkgs, ", "))
	}
	// One campaign per -out at a time: two would remove each other's
	// cache directories and logs and report the wreckage as failures.
	unlock, err := lockOut(out)
	if err != nil {
		return 0, err
	}
	defer unlock()
	cache := "GOCACHE fuzz cache: " + filepath.Join(goEnv("GOCACHE"), "fuzz")
	switch {
	case cfg.cache != "":
		cfg.cache = absUnder(root, cfg.cache)
		cache = cfg.cache
	case cfg.corpus != "":
		cfg.corpus = absUnder(root, cfg.corpus)
		cache = cfg.corpus + " (merged after each target)"
	}
	sum := Summary{
		Started: time.Now().UTC(), Duration: cfg.duration.String(), Parallel: cfg.parallel,
		GoVersion: runtime.Version(), CPUs: runtime.NumCPU(), Cache: cache, Skipped: skipped,
		Results: broken, Failed: len(broken),
	}
	prog.Printf("fuzzrun: %d targets, %v each, -parallel %d, corpus in %s", len(targets), cfg.duration, cfg.parallel, cache)
	// An error of the corpus (unreadable, unwritable) is the tool's, not
	// a target's: the campaign goes on, every report is written, and the
	// exit status is 2 with the first such error.
	var toolErr error
	corpusRun := func(t target, label string) Result {
		r, err := runCorpusTarget(ctx, root, out, cfg, t, prog, label)
		if err != nil {
			prog.Printf("fuzzrun: %v", err)
			toolErr = cmp.Or(toolErr, err)
		}
		return r
	}
	for i, t := range targets {
		if ctx.Err() != nil {
			// Listed, so that no report reads as every target passing.
			sum.Results = append(sum.Results, Result{Package: t.ImportPath, Target: t.Name, Status: "not run",
				Message: []string{"not run: interrupted"}})
			continue
		}
		label := fmt.Sprintf("[%d/%d] %s.%s", i+1, len(targets), path.Base(t.ImportPath), t.Name)
		r := corpusRun(t, label)
		if r.Status == "flake" && ctx.Err() == nil {
			prog.Printf("%s: %s; running it once more", label, flakeNote)
			again := corpusRun(t, label)
			if again.Status != "flake" {
				r = again
			}
		}
		sum.Results = append(sum.Results, r)
		switch r.Status {
		case "pass":
		case "flake":
			sum.Flaked++
		default:
			sum.Failed++
		}
	}
	storeErr := toolErr
	sum.Failures = dedupFailures(sum.Results, nil)
	if cfg.corpus != "" {
		for i := range sum.Failures {
			known, err := recordFailure(filepath.Join(cfg.corpus, "crashers"), sum.Failures[i])
			sum.Failures[i].Known = known
			storeErr = cmp.Or(storeErr, err)
		}
	}
	sum.Interrupted = ctx.Err() != nil
	sum.Exit = exitStatus(sum.Interrupted || storeErr != nil, sum.Failed, sum.Flaked)
	prog.Close()
	if err := writeReports(out, cfg, sum, stdout, outs); err != nil {
		return 0, err
	}
	if storeErr != nil {
		return 0, fmt.Errorf("corpus %s: %w", cfg.corpus, storeErr)
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stdout, "fuzzrun: interrupted")
	}
	return sum.Exit, nil
}

// exitStatus is the campaign's exit status: an interruption first (the
// campaign is incomplete, so neither a pass nor a verdict), then any
// failure, then flakes only.
func exitStatus(interrupted bool, failed, flaked int) int {
	switch {
	case interrupted:
		return exitUsage
	case failed > 0:
		return exitFail
	case flaked > 0:
		return exitFlake
	}
	return exitOK
}

// writeReports writes summary.txt and summary.json into out, the -junit
// and -summary files if asked, and prints the text summary.
func writeReports(out string, cfg config, sum Summary, stdout io.Writer, outs *report.Outputs) error {
	var text bytes.Buffer
	writeText(&text, sum)
	js, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "summary.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "summary.txt"), text.Bytes(), 0o644); err != nil {
		return err
	}
	// The results are printed before the report files are written, so a
	// report that fails to write loses nothing.
	fmt.Fprintln(stdout)
	stdout.Write(text.Bytes())
	fmt.Fprintf(stdout, "summary: %s, %s\n", filepath.Join(out, "summary.txt"), filepath.Join(out, "summary.json"))
	return outs.Write(suiteOf(sum, cfg))
}

// suiteOf turns a campaign's summary into the shared report form: one case
// per target, and a note listing the distinct failures.
func suiteOf(sum Summary, cfg config) report.Suite {
	s := report.Suite{
		Name: "fuzzrun", Started: sum.Started,
		Properties: [][2]string{{"duration per target", sum.Duration}, {"parallel", fmt.Sprint(sum.Parallel)},
			{"go", sum.GoVersion}, {"corpus", sum.Cache}},
		Columns:     []string{"execs", "execs/s", "new", "corpus"},
		Interrupted: sum.Interrupted,
	}
	for _, r := range sum.Results {
		c := report.Case{
			Class: r.Package, Name: r.Target, Time: time.Duration(r.Seconds * float64(time.Second)),
			Values:    []string{fmt.Sprint(r.Execs), fmt.Sprintf("%.0f", r.ExecsPerSec), fmt.Sprint(r.NewInteresting), fmt.Sprint(r.Corpus)},
			Reproduce: r.Reproduce, Detail: strings.Join(r.Message, "\n"),
		}
		s.Time += c.Time
		switch r.Status {
		case "pass":
			c.Status = report.Pass
		case "flake":
			c.Status, c.Message = report.Flake, flakeNote
		case "fail", "hang":
			c.Status = report.Fail
		case "not run":
			c.Status, c.Message = report.Skip, "not run: interrupted"
		default: // error, interrupted
			c.Status = report.Error
		}
		if c.Status == report.Fail || c.Status == report.Error {
			c.Message = cmp.Or(r.Title, r.Status)
			if r.Signature != "" {
				c.Message += " (signature " + r.Signature + ")"
			}
			c.Artifacts = slices.DeleteFunc([]string{r.Crasher, r.Log}, func(a string) bool { return a == "" })
		}
		s.Cases = append(s.Cases, c)
	}
	if len(sum.Failures) > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "#### %d distinct failure(s)\n\n", len(sum.Failures))
		for _, f := range sum.Failures {
			known := ""
			if f.Known {
				known = " (known: recorded by an earlier run)"
			}
			fmt.Fprintf(&b, "- `%s` %s: %s%s\n", f.Signature, strings.ReplaceAll(f.Title, "|", `\|`), strings.Join(f.Targets, ", "), known)
		}
		b.WriteString("\nTo keep a failing input as a regression seed: `go run ./tools/fuzzrun promote FILE`.\n")
		s.Notes = append(s.Notes, b.String())
	}
	return s
}

// writeText writes the human summary: a table, then each failure's report
// and the command that reproduces it.
func writeText(w io.Writer, sum Summary) {
	fmt.Fprintf(w, "fuzz campaign %s: %s per target, -parallel %d, %s, %d CPUs\n",
		sum.Started.Format(time.RFC3339), sum.Duration, sum.Parallel, sum.GoVersion, sum.CPUs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tstatus\texecs\texecs/s\tnew\tcorpus\ttime\t")
	for _, r := range sum.Results {
		fmt.Fprintf(tw, "%s.%s\t%s\t%d\t%.0f\t%d\t%d\t%.0fs\t\n",
			path.Base(r.Package), r.Target, r.Status, r.Execs, r.ExecsPerSec, r.NewInteresting, r.Corpus, r.Seconds)
	}
	tw.Flush()
	for _, r := range sum.Results {
		if r.Status == "pass" || r.Status == "not run" {
			continue
		}
		fmt.Fprintf(w, "\n%s %s.%s (log: %s)\n", strings.ToUpper(r.Status), r.Package, r.Target, r.Log)
		for _, l := range r.Message {
			fmt.Fprintf(w, "    %s\n", l)
		}
		if r.FailingInput != "" {
			fmt.Fprintf(w, "  failing input: %s\n", r.FailingInput)
		}
		if r.Crasher != "" {
			fmt.Fprintf(w, "  kept as: %s\n", r.Crasher)
		}
		if r.Reproduce != "" {
			fmt.Fprintf(w, "  reproduce: %s\n", r.Reproduce)
		}
	}
	if len(sum.Failures) > 0 {
		fmt.Fprintf(w, "\n%d distinct failure(s), by stack:\n", len(sum.Failures))
		for _, f := range sum.Failures {
			known := ""
			if f.Known {
				known = " (known: recorded by an earlier run)"
			}
			fmt.Fprintf(w, "  %s %s: %s%s\n", f.Signature, f.Title, strings.Join(f.Targets, ", "), known)
		}
		fmt.Fprintln(w, "  keep a failing input as a regression seed: go run ./tools/fuzzrun promote FILE")
	}
	fmt.Fprintf(w, "\n%d of %d targets failed", sum.Failed, len(sum.Results))
	if sum.Flaked > 0 {
		fmt.Fprintf(w, ", %d flaked", sum.Flaked)
	}
	if sum.Interrupted {
		fmt.Fprint(w, "; INTERRUPTED: the campaign is incomplete, not a pass")
	}
	fmt.Fprintln(w)
}

// runCorpusTarget runs one target; with -corpus, it first restores the
// target's persistent corpus into a fresh cache directory under out and
// afterwards merges what the run found back.
func runCorpusTarget(ctx context.Context, root, out string, cfg config, t target, prog *report.Progress, label string) (Result, error) {
	if cfg.corpus == "" {
		return runTarget(ctx, root, out, cfg, t, prog, label), nil
	}
	corpusDir := filepath.Join(cfg.corpus, filepath.FromSlash(t.ImportPath), t.Name)
	runCfg := cfg
	runCfg.cache = filepath.Join(out, "cache")
	runDir := filepath.Join(runCfg.cache, filepath.FromSlash(t.ImportPath), t.Name)
	seedDir := filepath.Join(t.Dir, "testdata", "fuzz", t.Name)
	in, err := restoreCorpus(corpusDir, runDir, seedDir)
	if err != nil {
		// The target runs all the same, from its seeds: the corpus is a
		// cache, and one bad directory must not cost the campaign.
		err = fmt.Errorf("restoring the corpus of %s: %w", t.Name, err)
		os.RemoveAll(runDir)
	}
	r := runTarget(ctx, root, out, runCfg, t, prog, label)
	st, merr := mergeCorpus(runDir, corpusDir, seedDir, cfg.corpusMax)
	if merr != nil {
		return r, cmp.Or(err, fmt.Errorf("merging the corpus of %s: %w", t.Name, merr))
	}
	r.CorpusIn, r.CorpusAdded, r.CorpusDropped, r.CorpusSize = in, st.Added, st.Dropped, st.Size
	prog.Printf("%s: corpus %d restored, %d new, %d dropped over -corpus-max, %d rejected (not entries of %s), %d kept",
		label, in, st.Added, st.Dropped, st.Rejected, t.Name, st.Size)
	return r, err
}

// runTarget fuzzes one target and returns its result.
func runTarget(ctx context.Context, root, out string, cfg config, t target, prog *report.Progress, label string) Result {
	r := Result{Package: t.ImportPath, Target: t.Name}
	logPath := filepath.Join(out, filepath.Base(t.Dir)+"."+t.Name+".log")
	r.Log = logPath
	args := fuzzArgs(cfg, t)
	task := prog.Start(label, cfg.duration)
	task.Hold("building", cfg.duration) // -fuzztime starts after the build
	done := func(r Result) Result {
		task.Done(fmt.Sprintf("%s: %s, %d execs (%.0f/s), %d new interesting, corpus %d, %.0fs",
			label, r.Status, r.Execs, r.ExecsPerSec, r.NewInteresting, r.Corpus, r.Seconds))
		return r
	}
	logf, err := os.Create(logPath)
	if err != nil {
		r.Status, r.Message = "error", []string{err.Error()}
		return done(r)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "$ go %s\n", strings.Join(args, " "))

	runCtx, cancel := context.WithTimeout(ctx, cfg.duration+cfg.grace)
	defer cancel()
	cmd := exec.CommandContext(runCtx, "go", args...)
	cmd.Dir = root
	// Kill the whole process group: go test, the test binary and its
	// fuzzing workers.
	killGroupOnCancel(cmd)
	cmd.WaitDelay = 10 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	start := time.Now()
	if err := cmd.Start(); err != nil {
		r.Status, r.Message = "error", []string{err.Error()}
		return done(r)
	}
	var o outcome
	// A run whose execs (or baseline inputs) stop advancing for -stall is
	// hung: an input that sleeps or loops holds its worker, and go test
	// would otherwise end at -fuzztime and report a pass.
	st := newStallWatch(cfg.stall)
	stallDone := make(chan struct{})
	defer close(stallDone)
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stallDone:
				return
			case <-tick.C:
				if st.stalled(time.Now()) {
					cancel()
					return
				}
			}
		}
	}()
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, line)
			o.feed(line)
			if cfg.verbose {
				prog.Printf("  %s", line)
			}
			if p, ok := ParseProgress(line); ok {
				task.UpdateLeft(progressText(p), max(cfg.duration-p.Elapsed, 0))
				st.progress(p, time.Now())
			} else if strings.Contains(line, "minimizing") {
				st.active(time.Now()) // minimising runs no new execs
			}
		}
		io.Copy(io.Discard, pr)
	}()
	werr := cmd.Wait()
	pw.Close()
	<-scanned
	r.Seconds = time.Since(start).Seconds()

	r.Execs, r.NewInteresting, r.Corpus, r.Baseline = o.last.Execs, o.last.NewInteresting, o.last.Total, o.baseline
	if s := o.last.Elapsed.Seconds(); s > 0 {
		r.ExecsPerSec = float64(o.last.Execs) / s
	}
	r.Message = o.message
	switch {
	case ctx.Err() != nil:
		r.Status = "interrupted"
	case st.stalled(time.Now()) && !o.failed:
		r.Status = "hang"
		r.Message = append(r.Message, st.describe())
	case runCtx.Err() != nil:
		r.Status = "hang"
		r.Message = append(r.Message, fmt.Sprintf("still running %v after its %v: killed", cfg.grace, cfg.duration))
	case werr == nil && !o.failed:
		r.Status = "pass"
	case o.deadlineFlake():
		r.Status = "flake"
		r.Message = append(r.Message, flakeNote)
	case o.failed:
		r.Status = "fail"
	default:
		r.Status = "error"
		if len(r.Message) == 0 {
			r.Message = tail(logPath, 20)
		}
	}
	if r.Status == "pass" || r.Status == "flake" {
		return done(r)
	}
	rel, _ := filepath.Rel(root, t.Dir)
	pkg := "./" + filepath.ToSlash(rel) + "/"
	switch {
	case o.rerun != "":
		if o.failingInput != "" {
			r.FailingInput = pkg + o.failingInput
		}
		r.Reproduce = fmt.Sprintf("go test -run='%s' %s", o.rerun, pkg)
	case r.Status == "fail" || r.Status == "error":
		r.Reproduce = fmt.Sprintf("go test -run='^%s$' %s", t.Name, pkg)
	default:
		r.Reproduce = "go " + strings.Join(args, " ")
	}
	if r.Status == "fail" {
		r.key, r.Title = signature(t.ImportPath, o.report)
		r.Signature = signatureHash(r.key)
		input := o.failingInput
		if input == "" && strings.HasPrefix(o.rerun, t.Name+"/") {
			// A failing seed from testdata: go test names it but writes
			// nothing new.
			input = filepath.Join("testdata", "fuzz", o.rerun)
		}
		if input != "" {
			if c, err := keepCrasher(filepath.Join(out, "crashers"), t.Name, filepath.Join(t.Dir, filepath.FromSlash(input))); err == nil {
				r.Crasher = c
			}
		}
	}
	return done(r)
}

// stallWatch tells a hung fuzzing run from a slow one: go test prints a
// status line every 3 seconds, and in a healthy run the count it shows
// (baseline inputs run, then execs) keeps growing. The clock starts at the
// first status line, so building the test binary never counts.
type stallWatch struct {
	limit time.Duration

	mu      sync.Mutex
	seen    bool      // a status line arrived
	last    time.Time // when the count last grew
	count   int64     // baseline inputs done, then execs
	fuzzing bool      // past the baseline
	hung    bool      // stalled was true once: sticky
}

func newStallWatch(limit time.Duration) *stallWatch { return &stallWatch{limit: limit} }

// progress records a status line seen at now.
func (s *stallWatch) progress(p Progress, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, fuzzing := int64(p.Done), !p.Baseline
	if fuzzing {
		n = p.Execs
	}
	if !s.seen || fuzzing != s.fuzzing || n > s.count {
		s.seen, s.last, s.count, s.fuzzing = true, now, n, fuzzing
	}
}

// active records work that runs no execs (minimisation).
func (s *stallWatch) active(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen {
		s.last = now
	}
}

// stalled reports whether the count has not grown for longer than the
// limit; once true, it stays true.
func (s *stallWatch) stalled(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen && now.Sub(s.last) > s.limit {
		s.hung = true
	}
	return s.hung
}

// describe says what stalled, for the report.
func (s *stallWatch) describe() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	what := fmt.Sprintf("execs stuck at %d", s.count)
	if !s.fuzzing {
		what = fmt.Sprintf("baseline coverage stuck at %d inputs", s.count)
	}
	return fmt.Sprintf("no progress for over -stall %v (%s): an input hangs; killed", s.limit, what)
}

// progressText is the live line of a fuzzing run.
func progressText(p Progress) string {
	if p.Baseline {
		return fmt.Sprintf("gathering baseline coverage of %d inputs", p.Total)
	}
	return fmt.Sprintf("%d execs (%d/s), %d new interesting, corpus %d", p.Execs, p.Rate, p.NewInteresting, p.Total)
}

// fuzzArgs returns the go test arguments that fuzz t.
func fuzzArgs(cfg config, t target) []string {
	args := []string{"test", "-run=^$", "-fuzz=^" + t.Name + "$",
		"-fuzztime=" + cfg.duration.String(), "-fuzzminimizetime=" + cfg.minimize.String(),
		"-parallel=" + fmt.Sprint(cfg.parallel), t.Pkg}
	if cfg.cache != "" {
		// go test passes its own -test.fuzzcachedir first; the last one wins.
		args = append(args, "-args", "-test.fuzzcachedir="+filepath.Join(cfg.cache, t.ImportPath))
	}
	return args
}

// discover lists the fuzz targets of cfg.pkgs that match cfg.targets, in
// package order and then in source order. A package whose directory does
// not exist is skipped; one whose tests do not build gives an error result,
// so that the campaign runs the other packages and still fails.
func discover(ctx context.Context, root string, cfg config) (targets []target, skipped []string, broken []Result) {
	for _, pkg := range cfg.pkgs {
		dir := absUnder(root, pkg)
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			skipped = append(skipped, pkg+" (no such directory)")
			continue
		}
		ip, err := goOutput(ctx, root, "list", "-f", "{{.ImportPath}}", pkg)
		if err == nil {
			var listing string
			listing, err = goOutput(ctx, root, "test", "-list=^Fuzz", "-run=^$", pkg)
			ipath := strings.TrimSpace(ip)
			for line := range strings.Lines(listing) {
				name := strings.TrimSpace(line)
				if !strings.HasPrefix(name, "Fuzz") || strings.ContainsAny(name, " \t") {
					continue
				}
				if cfg.targets.MatchString(name) || cfg.targets.MatchString(path.Base(ipath)+"."+name) {
					targets = append(targets, target{Pkg: pkg, ImportPath: ipath, Dir: dir, Name: name})
				}
			}
		}
		if err != nil {
			broken = append(broken, Result{
				Package: pkg, Target: "(discovery)", Status: "error",
				Message:   strings.Split(strings.TrimSpace(err.Error()), "\n"),
				Reproduce: "go test -list='^Fuzz' " + pkg,
			})
		}
	}
	return targets, skipped, broken
}

// goOutput runs the go command in root and returns its standard output.
func goOutput(ctx context.Context, root string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %v\n%s%s", strings.Join(args, " "), err, b, stderr.Bytes())
	}
	return string(b), nil
}

// moduleRoot returns the directory of the main module's go.mod, so that
// fuzzrun works from anywhere inside the module.
func moduleRoot() (string, error) {
	gomod := goEnv("GOMOD")
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module")
	}
	return filepath.Dir(gomod), nil
}

func goEnv(name string) string {
	b, err := exec.Command("go", "env", name).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func absUnder(root, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(root, p)
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return lines[max(0, len(lines)-n):]
}
