package conform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Config says what to check and how.
type Config struct {
	// Impl is the command that speaks spec/PROTOCOL.md (run by /bin/sh -c
	// with CAPQ_DIR set).
	Impl string
	// Seed drives every random choice; the same seed replays the same
	// requests, kills and plants.
	Seed uint64
	// Timeout bounds the wait for one reply (default 30 s).
	Timeout time.Duration
	// Claimed overrides the level the implementation claims in hello
	// (LevelNone: take hello's, else reference).
	Claimed Level
	// Dir is the scratch directory: one subdirectory per probe, and the
	// reproductions of failures under repro/.
	Dir string
	// Probes selects probes by name (empty: all).
	Probes []string
	// Strace is the strace binary for the durability probes ("": look it
	// up in PATH; "none": no tracing, so those probes are inconclusive).
	Strace string
	// CampaignSteps is the length of the random campaign (default 60).
	CampaignSteps int
	// NoShrink keeps a failing campaign as it ran, instead of spending up
	// to 40 re-runs cutting it down to a minimal list of steps.
	NoShrink bool
	// Progress, when set, is called before each probe.
	Progress func(probe string, i, n int)

	dur      *durCache // the traced session, shared by the durability probes
	durSeed  uint64
	features map[string]bool // what the first hello announced
}

func (c *Config) defaults() {
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.CampaignSteps <= 0 {
		c.CampaignSteps = 60
	}
}

// Probe is one group of checks of one requirement, observable from outside
// the implementation. Every probe runs in its own directory with its own
// process, so that one failure does not hide another.
type Probe struct {
	Name  string
	Req   string // "R4"
	Title string
	Level Level
	// Needs are the features the probe requires; without them the verdict
	// is unsupported.
	Needs []string
	run   func(s *Session) error
	// steps: the probe runs a list of steps from its seed, which a
	// failure's shrinking cuts down.
	steps bool
}

func (p Probe) shrinkable() bool { return p.steps }

// Probes returns every probe, in report order.
func Probes() []Probe { return probes }

// ErrUnknownProbe is returned for a probe name that does not exist.
var ErrUnknownProbe = errors.New("unknown probe")

// ErrBadTranscript is a transcript Replay refuses: steps out of range or
// out of order, or steps for a probe that has none.
var ErrBadTranscript = errors.New("bad transcript")

// Run checks the implementation with every selected probe and returns the
// report card. An error means the checker itself could not run (no scratch
// directory, unknown probe, the context cancelled); what the implementation
// does wrong is in the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.defaults()
	start := time.Now()
	sel, err := selectProbes(cfg.Probes)
	if err != nil {
		return nil, err
	}
	if cfg.Dir == "" {
		return nil, errors.New("conform: Config.Dir is required")
	}
	rep := &Report{Impl: cfg.Impl, Seed: cfg.Seed, Claimed: cfg.Claimed, Partial: len(sel) < len(probes)}
	// One hello first: the name, the features and the claimed level.
	if err := hello(ctx, &cfg, rep); err != nil {
		return nil, err
	}
	for i, p := range sel {
		if ctx.Err() != nil {
			rep.Interrupted, rep.Elapsed = true, time.Since(start)
			return rep, ctx.Err()
		}
		if cfg.Progress != nil {
			cfg.Progress(p.Name, i, len(sel))
		}
		res, tr := runProbe(ctx, &cfg, p, cfg.Seed, nil)
		if ctx.Err() != nil {
			// Cut short by the operator (or the run's deadline): whatever
			// the probe saw says nothing about the implementation.
			res.Verdict, res.Evidence, res.Detail = Inconclusive, "interrupted: the probe was cut short by the operator, not judged", ""
			rep.Results = append(rep.Results, res)
			break
		}
		if res.Verdict == Fail && tr != nil {
			if min, ok := shrink(ctx, &cfg, p, tr); ok {
				tr = min
				res.Evidence, res.Detail = tr.Evidence, tr.Detail
			}
			res.Repro = writeTranscript(&cfg, tr)
		}
		rep.Results = append(rep.Results, res)
	}
	if ctx.Err() != nil {
		rep.Interrupted, rep.Elapsed = true, time.Since(start)
		rep.grade()
		return rep, ctx.Err()
	}
	rep.grade()
	rep.Elapsed = time.Since(start)
	return rep, nil
}

// hello starts the implementation once in a scratch directory to learn its
// name, features and claimed level.
func hello(ctx context.Context, cfg *Config, rep *Report) error {
	s, err := newSession(ctx, cfg, filepath.Join(cfg.Dir, "hello"))
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Start(nil); err != nil {
		return fmt.Errorf("the implementation does not start: %w", err)
	}
	rep.Name = s.Name
	cfg.features = s.Features
	for f := range s.Features {
		rep.Features = append(rep.Features, f)
	}
	sortStrings(rep.Features)
	if rep.Claimed == LevelNone {
		rep.Claimed = s.Level
	}
	if rep.Claimed == LevelNone {
		rep.Claimed = LevelReference
	}
	return nil
}

func selectProbes(names []string) ([]Probe, error) {
	if len(names) == 0 {
		return probes, nil
	}
	var out []Probe
	for _, n := range names {
		p, ok := probeByName(n)
		if !ok {
			return nil, fmt.Errorf("%w %q", ErrUnknownProbe, n)
		}
		out = append(out, p)
	}
	return out, nil
}

func probeByName(name string) (Probe, bool) {
	for _, p := range probes {
		if p.Name == name {
			return p, true
		}
	}
	return Probe{}, false
}

// runProbe runs one probe in a fresh directory and returns its row and, for
// a failure, the transcript of the run. keep, for the campaign, selects the
// steps to run (nil: all).
func runProbe(ctx context.Context, cfg *Config, p Probe, seed uint64, keep []int) (Result, *Transcript) {
	start := time.Now()
	res := Result{Probe: p.Name, Req: p.Req, Title: p.Title, Level: p.Level}
	root, err := os.MkdirTemp(cfg.Dir, p.Name+"-")
	if err != nil {
		res.Verdict, res.Evidence = Inconclusive, err.Error()
		return res, nil
	}
	s, err := newSession(ctx, cfg, root)
	if err != nil {
		res.Verdict, res.Evidence = Inconclusive, err.Error()
		return res, nil
	}
	s.seed, s.keep = seed, keep
	err = p.run(s)
	s.Close()
	res.Elapsed = time.Since(start)
	var ve *verdictErr
	var pn *passNote
	switch {
	case err == nil:
		res.Verdict = Pass
	case errors.As(err, &pn):
		res.Verdict, res.Evidence = Pass, pn.msg
	case errors.As(err, &ve):
		res.Verdict, res.Evidence = ve.v, ve.msg
	default:
		res.Verdict = Fail
		res.Evidence = firstLine(err.Error())
		res.Detail = err.Error()
		if st := s.StderrTail(); st != "" && !strings.Contains(res.Detail, "stderr:") {
			res.Detail += "\n  stderr: " + st
		}
	}
	if res.Verdict == Pass && res.Evidence == "" {
		res.Evidence = "ok"
	}
	if len(s.escaped) > 0 {
		// Processes of the implementation outside its process group
		// (setsid) outlived it and may have written into the directory
		// while it was judged: a pass cannot stand on that.
		msg := fmt.Sprintf("%d processes had left the implementation's process group and outlived it (killed: pids %v)", len(s.escaped), s.escaped)
		if res.Verdict == Pass {
			res.Verdict = Inconclusive
		}
		res.Evidence += "; " + msg
		s.note("%s", msg)
	}
	if res.Verdict != Fail {
		os.RemoveAll(root)
		return res, nil
	}
	tr := &Transcript{Probe: p.Name, Req: p.Req, Title: p.Title, Impl: cfg.Impl, Seed: seed, Keep: s.ranSteps, Steps: cfg.CampaignSteps,
		Events: s.Events, Evidence: res.Evidence, Detail: res.Detail, Stderr: s.StderrTail(), Dir: root}
	return res, tr
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// Transcript is a failure's reproduction: the probe and seed that replay
// it, and what was sent, received and planted.
type Transcript struct {
	Probe    string  `json:"probe"`
	Req      string  `json:"requirement"`
	Title    string  `json:"title"`
	Impl     string  `json:"impl"`
	Seed     uint64  `json:"seed"`
	Keep     []int   `json:"keep_steps,omitempty"` // the campaign's steps that were run
	Steps    int     `json:"steps,omitempty"`      // the campaign's length (--steps)
	Evidence string  `json:"evidence"`
	Detail   string  `json:"detail,omitempty"`
	Stderr   string  `json:"stderr,omitempty"`
	Dir      string  `json:"dir,omitempty"`
	Events   []Event `json:"events"`
}

func writeTranscript(cfg *Config, tr *Transcript) string {
	dir := filepath.Join(cfg.Dir, "repro")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return ""
	}
	path := filepath.Join(dir, tr.Probe+".json")
	b, err := json.MarshalIndent(tr, "", "  ")
	if err != nil {
		return ""
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return ""
	}
	return path
}

// ReadTranscript reads a transcript written by a failing check.
func ReadTranscript(path string) (*Transcript, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var tr Transcript
	if err := json.Unmarshal(b, &tr); err != nil {
		return nil, fmt.Errorf("%s: not a capq transcript: %w", path, err)
	}
	if _, ok := probeByName(tr.Probe); !ok {
		return nil, fmt.Errorf("%s: %w %q", path, ErrUnknownProbe, tr.Probe)
	}
	return &tr, nil
}

// maxCampaignSteps bounds a transcript's campaign length.
const maxCampaignSteps = 1_000_000

// Replay re-runs a transcript's probe with its seed (and, for the campaign,
// its steps) against cfg.Impl, and returns the row and the new transcript
// (nil when it passes now).
func Replay(ctx context.Context, cfg Config, tr *Transcript) (Result, *Transcript, error) {
	cfg.defaults()
	p, ok := probeByName(tr.Probe)
	if !ok {
		return Result{}, nil, fmt.Errorf("%w %q", ErrUnknownProbe, tr.Probe)
	}
	if cfg.Dir == "" {
		return Result{}, nil, errors.New("conform: Config.Dir is required")
	}
	if tr.Steps < 0 || tr.Steps > maxCampaignSteps {
		return Result{}, nil, fmt.Errorf("%w: steps %d out of range [0, %d]", ErrBadTranscript, tr.Steps, maxCampaignSteps)
	}
	if tr.Steps > 0 {
		cfg.CampaignSteps = tr.Steps
	}
	if len(tr.Keep) > 0 && !p.shrinkable() {
		return Result{}, nil, fmt.Errorf("%w: keep_steps for probe %s, which has no steps", ErrBadTranscript, p.Name)
	}
	// A transcript may come from anywhere: steps the campaign does not
	// have would run nothing and pass.
	for i, k := range tr.Keep {
		if k < 0 || k >= cfg.CampaignSteps || (i > 0 && k <= tr.Keep[i-1]) {
			return Result{}, nil, fmt.Errorf("%w: keep_steps %v: each step in [0, %d), increasing", ErrBadTranscript, tr.Keep, cfg.CampaignSteps)
		}
	}
	rep := &Report{}
	if err := hello(ctx, &cfg, rep); err != nil {
		return Result{}, nil, err
	}
	res, out := runProbe(ctx, &cfg, p, tr.Seed, tr.Keep)
	return res, out, nil
}

// shrink cuts a failing campaign down to a minimal set of steps that still
// fails the same probe (delta debugging over the steps that ran).
func shrink(ctx context.Context, cfg *Config, p Probe, tr *Transcript) (*Transcript, bool) {
	if cfg.NoShrink || !p.shrinkable() || len(tr.Keep) < 2 {
		return nil, false
	}
	best := tr
	steps := append([]int(nil), tr.Keep...)
	budget := 40
	for chunk := len(steps) / 2; chunk >= 1 && budget > 0; {
		removed := false
		for i := 0; i < len(steps) && budget > 0; i += chunk {
			cand := append(append([]int(nil), steps[:i]...), steps[min(i+chunk, len(steps)):]...)
			if len(cand) == 0 {
				continue
			}
			budget--
			res, t := runProbe(ctx, cfg, p, tr.Seed, cand)
			if ctx.Err() != nil {
				return best, best != tr
			}
			if res.Verdict == Fail && t != nil {
				os.RemoveAll(best.Dir)
				steps, best, removed = t.Keep, t, true
				break
			}
		}
		if !removed {
			chunk /= 2
		}
	}
	return best, best != tr
}
