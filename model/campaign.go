package model

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// CampaignConfig configures RunCampaign.
type CampaignConfig struct {
	// Seed seeds the whole campaign; 0 picks one at random, and the report
	// says which.
	Seed uint64
	// Duration is the wall-clock budget for the whole campaign; 0 means
	// 30 seconds. A run in progress when it ends is finished.
	Duration time.Duration
	// Dir is a scratch directory for the phase on the real disk ("disk");
	// "" means a fresh os.MkdirTemp directory, removed at the end. Each
	// run uses (and removes) a subdirectory of its own.
	Dir string
	// Progress, if set, is called after every run of every phase.
	Progress func(CampaignEvent)
	// Steps is the number of actions per machine run; 0 means 60.
	Steps int
}

// CampaignEvent reports the progress of one phase.
type CampaignEvent struct {
	Phase   string
	Runs    int // runs of the phase so far
	Steps   int // steps (actions, or operations for "concurrency") so far
	Elapsed time.Duration
	Done    bool // the phase is over
}

// CampaignReport is what a campaign did.
type CampaignReport struct {
	Seed    uint64
	Phases  []PhaseReport
	Failure *CampaignFailure // nil if every invariant held
}

// PhaseReport sums up one phase.
type PhaseReport struct {
	Name    string
	Runs    int
	Steps   int
	Elapsed time.Duration
	Failed  bool
}

// CampaignFailure is the first invariant violation a campaign found.
type CampaignFailure struct {
	Phase     string
	Seed      uint64 // the seed of the failing run
	Message   string
	Reproduce string // a command line that replays the failing run
}

// phases are the campaign's phases and their shares of the budget.
var phases = []struct {
	name  string
	share int // percent
	about string
}{
	{"model", 45, "the default machine: 1-3 processes on the in-memory file system, faults, crashes at any call, power cuts"},
	{"power-loss", 25, "the machine without faults, with power cuts five times as often"},
	{"concurrency", 20, "goroutines and processes appending and ingesting at once; linearizability and exactly-once"},
	{"disk", 10, "the concurrency check on the real disk, in CampaignConfig.Dir"},
}

// RunCampaign runs the model checks for cfg.Duration, phase after phase, with
// seeds drawn from cfg.Seed, and stops at the first invariant violation. It
// runs the same machines as the package's rapid tests, driven by a seeded
// PRNG instead of rapid, so it needs no testing.T: this is what capq check
// runs. The error is only for a campaign that could not run (a scratch
// directory that cannot be made); a violation is a Failure in the report.
func RunCampaign(ctx context.Context, cfg CampaignConfig) (CampaignReport, error) {
	if cfg.Seed == 0 {
		cfg.Seed = rand.Uint64() | 1
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 30 * time.Second
	}
	if cfg.Steps <= 0 {
		cfg.Steps = 60
	}
	if cfg.Dir == "" {
		dir, err := os.MkdirTemp("", "capq-check-")
		if err != nil {
			return CampaignReport{Seed: cfg.Seed}, err
		}
		defer os.RemoveAll(dir)
		cfg.Dir = dir
	}
	rep := CampaignReport{Seed: cfg.Seed}
	start := time.Now()
	for pi, ph := range phases {
		pr := PhaseReport{Name: ph.name}
		phaseStart := time.Now()
		deadline := start.Add(cfg.Duration * time.Duration(cumShare(pi)) / 100)
		for run := 0; pr.Runs == 0 || time.Now().Before(deadline); run++ {
			if ctx.Err() != nil {
				break
			}
			seed := runSeed(cfg.Seed, pi, run)
			steps, err := runSteps(ph.name, seed, cfg.Steps, cfg.Dir, func(string, ...any) {})
			pr.Runs++
			pr.Steps += steps
			pr.Elapsed = time.Since(phaseStart)
			if err != nil {
				pr.Failed = true
				rep.Failure = &CampaignFailure{
					Phase: ph.name, Seed: seed, Message: err.Error(),
					Reproduce: fmt.Sprintf("CAPQ_REPLAY=%s:%d go test ./model -run 'TestReplay$' -v", ph.name, seed),
				}
			}
			if cfg.Progress != nil {
				cfg.Progress(CampaignEvent{Phase: ph.name, Runs: pr.Runs, Steps: pr.Steps, Elapsed: pr.Elapsed, Done: err != nil})
			}
			if err != nil {
				break
			}
		}
		if cfg.Progress != nil && !pr.Failed {
			cfg.Progress(CampaignEvent{Phase: ph.name, Runs: pr.Runs, Steps: pr.Steps, Elapsed: pr.Elapsed, Done: true})
		}
		rep.Phases = append(rep.Phases, pr)
		if pr.Failed || ctx.Err() != nil {
			break
		}
	}
	return rep, nil
}

func cumShare(pi int) int {
	s := 0
	for _, ph := range phases[:pi+1] {
		s += ph.share
	}
	return s
}

// runSeed derives the seed of one run (splitmix64), so that a run replays
// from its own seed alone.
func runSeed(base uint64, phase, run int) uint64 {
	z := base + uint64(phase)<<40 + uint64(run)*0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// runOne replays one campaign run with the default number of steps, in a
// scratch directory of its own.
func runOne(phase string, seed uint64, logf func(string, ...any)) (int, error) {
	dir, err := os.MkdirTemp("", "capq-replay-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	return runSteps(phase, seed, 60, dir, logf)
}

// runSteps runs one machine (or one concurrency check) of phase from seed,
// and returns the steps it took and the violation it found.
func runSteps(phase string, seed uint64, steps int, dir string, logf func(string, ...any)) (n int, err error) {
	switch phase {
	case "concurrency":
		return RunConcurrent(seed, ConcurrentConfig{Procs: 2 + int(seed%2), Goroutines: 2})
	case "disk":
		d := filepath.Join(dir, strconv.FormatUint(seed, 36))
		defer os.RemoveAll(d)
		return RunConcurrent(seed, ConcurrentConfig{Procs: 2 + int(seed%2), Goroutines: 2, Dir: d})
	case "model", "power-loss":
	default:
		return 0, fmt.Errorf("unknown phase %q", phase)
	}
	c := randChooser{rand.New(rand.NewPCG(seed, 0x63617071))}
	var m *machine
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(failure)
			if !ok {
				panic(r)
			}
			err = f
		}
		if m != nil {
			n = m.steps
			m.close()
		}
	}()
	cfg := machineConfig{}
	if phase == "power-loss" {
		cfg.NoFaults = true
	}
	m = newMachine(c, cfg, logf)
	as := m.actions()
	total := 0
	for i := range as {
		if phase == "power-loss" && as[i].name == "PowerCut" {
			as[i].weight *= 5
		}
		total += as[i].weight
	}
	for range steps {
		m.step(c, as, total)
	}
	return m.steps, nil
}
