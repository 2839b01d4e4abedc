package main

import (
	"bufio"
	"bytes"
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
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
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
	list     bool
	verbose  bool
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "fuzzrun:", err)
		os.Exit(2)
	}
	ctx, stop := signalContext()
	defer stop()
	code, err := run(ctx, cfg, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fuzzrun:", err)
		os.Exit(2)
	}
	os.Exit(code)
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
	fs.BoolVar(&cfg.list, "list", false, "print the discovered targets and exit")
	fs.BoolVar(&cfg.verbose, "v", false, "print go test's output as it comes")
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
	}
	return cfg, nil
}

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
	Status         string   `json:"status"` // pass, fail, flake, hang, error, interrupted
	Execs          int64    `json:"execs"`
	ExecsPerSec    float64  `json:"execs_per_sec"` // execs over the fuzzing time
	NewInteresting int      `json:"new_interesting"`
	Corpus         int      `json:"corpus"`
	Seconds        float64  `json:"seconds"` // wall time of the run, build included
	Log            string   `json:"log"`
	FailingInput   string   `json:"failing_input,omitempty"`
	Message        []string `json:"message,omitempty"`
	Reproduce      string   `json:"reproduce,omitempty"`
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
}

func run(ctx context.Context, cfg config, stdout io.Writer) (int, error) {
	root, err := moduleRoot()
	if err != nil {
		return 0, err
	}
	targets, skipped, broken := discover(ctx, root, cfg)
	for _, s := range skipped {
		fmt.Fprintf(stdout, "fuzzrun: skipping %s\n", s)
	}
	for _, b := range broken {
		fmt.Fprintf(stdout, "fuzzrun: cannot list the targets of %s:\n    %s\n", b.Package, strings.Join(b.Message, "\n    "))
	}
	if cfg.list {
		for _, t := range targets {
			fmt.Fprintf(stdout, "%s\t%s\n", t.ImportPath, t.Name)
		}
		if len(broken) > 0 {
			return 1, nil
		}
		return 0, nil
	}
	if len(targets) == 0 && len(broken) == 0 {
		return 0, fmt.Errorf("no fuzz target matches %q in %s", cfg.targets, strings.Join(cfg.pkgs, ", "))
	}
	out := absUnder(root, cfg.out)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return 0, err
	}
	cache := "GOCACHE fuzz cache: " + filepath.Join(goEnv("GOCACHE"), "fuzz")
	if cfg.cache != "" {
		cfg.cache = absUnder(root, cfg.cache)
		cache = cfg.cache
	}
	sum := Summary{
		Started: time.Now().UTC(), Duration: cfg.duration.String(), Parallel: cfg.parallel,
		GoVersion: runtime.Version(), CPUs: runtime.NumCPU(), Cache: cache, Skipped: skipped,
		Results: broken, Failed: len(broken),
	}
	fmt.Fprintf(stdout, "fuzzrun: %d targets, %v each, -parallel %d, corpus in %s\n", len(targets), cfg.duration, cfg.parallel, cache)
	for i, t := range targets {
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(stdout, "[%d/%d] %s %s\n", i+1, len(targets), t.ImportPath, t.Name)
		r := runTarget(ctx, root, out, cfg, t, stdout)
		if r.Status == "flake" && ctx.Err() == nil {
			fmt.Fprintf(stdout, "[%d/%d] %s: %s; running it once more\n", i+1, len(targets), t.Name, flakeNote)
			if again := runTarget(ctx, root, out, cfg, t, stdout); again.Status != "flake" {
				r = again
			}
		}
		fmt.Fprintf(stdout, "[%d/%d] %s: %s, %d execs (%.0f/s), %d new interesting, corpus %d, %.0fs\n",
			i+1, len(targets), t.Name, r.Status, r.Execs, r.ExecsPerSec, r.NewInteresting, r.Corpus, r.Seconds)
		sum.Results = append(sum.Results, r)
		if r.Status != "pass" && r.Status != "flake" {
			sum.Failed++
		}
	}
	var text bytes.Buffer
	writeText(&text, sum)
	js, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return 0, err
	}
	if err := os.WriteFile(filepath.Join(out, "summary.json"), append(js, '\n'), 0o644); err != nil {
		return 0, err
	}
	if err := os.WriteFile(filepath.Join(out, "summary.txt"), text.Bytes(), 0o644); err != nil {
		return 0, err
	}
	fmt.Fprintln(stdout)
	stdout.Write(text.Bytes())
	fmt.Fprintf(stdout, "summary: %s, %s\n", filepath.Join(out, "summary.txt"), filepath.Join(out, "summary.json"))
	if sum.Failed > 0 || ctx.Err() != nil {
		return 1, nil
	}
	return 0, nil
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
		if r.Status == "pass" {
			continue
		}
		fmt.Fprintf(w, "\n%s %s.%s (log: %s)\n", strings.ToUpper(r.Status), r.Package, r.Target, r.Log)
		for _, l := range r.Message {
			fmt.Fprintf(w, "    %s\n", l)
		}
		if r.FailingInput != "" {
			fmt.Fprintf(w, "  failing input: %s\n", r.FailingInput)
		}
		if r.Reproduce != "" {
			fmt.Fprintf(w, "  reproduce: %s\n", r.Reproduce)
		}
	}
	fmt.Fprintf(w, "\n%d of %d targets failed\n", sum.Failed, len(sum.Results))
}

// runTarget fuzzes one target and returns its result.
func runTarget(ctx context.Context, root, out string, cfg config, t target, stdout io.Writer) Result {
	r := Result{Package: t.ImportPath, Target: t.Name}
	logPath := filepath.Join(out, filepath.Base(t.Dir)+"."+t.Name+".log")
	r.Log = logPath
	args := fuzzArgs(cfg, t)
	logf, err := os.Create(logPath)
	if err != nil {
		r.Status, r.Message = "error", []string{err.Error()}
		return r
	}
	defer logf.Close()
	fmt.Fprintf(logf, "$ go %s\n", strings.Join(args, " "))

	runCtx, cancel := context.WithTimeout(ctx, cfg.duration+cfg.grace)
	defer cancel()
	cmd := exec.CommandContext(runCtx, "go", args...)
	cmd.Dir = root
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Kill the whole process group: go test, the test binary and its
	// fuzzing workers.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	start := time.Now()
	if err := cmd.Start(); err != nil {
		r.Status, r.Message = "error", []string{err.Error()}
		return r
	}
	var o outcome
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		lastShown := time.Time{}
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, line)
			o.feed(line)
			switch {
			case cfg.verbose:
				fmt.Fprintf(stdout, "  %s\n", line)
			case strings.HasPrefix(line, "fuzz: elapsed") && time.Since(lastShown) >= 10*time.Second:
				lastShown = time.Now()
				fmt.Fprintf(stdout, "  %s: %s\n", t.Name, strings.TrimPrefix(line, "fuzz: "))
			}
		}
		io.Copy(io.Discard, pr)
	}()
	werr := cmd.Wait()
	pw.Close()
	<-done
	r.Seconds = time.Since(start).Seconds()

	r.Execs, r.NewInteresting, r.Corpus = o.last.Execs, o.last.NewInteresting, o.last.Total
	if s := o.last.Elapsed.Seconds(); s > 0 {
		r.ExecsPerSec = float64(o.last.Execs) / s
	}
	r.Message = o.message
	switch {
	case ctx.Err() != nil:
		r.Status = "interrupted"
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
		return r
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
	return r
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
