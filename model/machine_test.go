package model

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// rapidChooser lets rapid make the machine's choices, so that a failing
// run shrinks to a short one.
type rapidChooser struct{ t *rapid.T }

func (c rapidChooser) Intn(n int, label string) int {
	return rapid.IntRange(0, n-1).Draw(c.t, label)
}

// steps counts the actions the rapid machines ran, for the figures in
// README.md (go test -v prints them).
var steps atomic.Int64

// machineProp returns the rapid property that runs a machine of cfg: every
// action of the machine is a rapid action, and the invariants are checked
// after each.
func machineProp(cfg machineConfig) func(*rapid.T) {
	return func(t *rapid.T) {
		m := newMachine(rapidChooser{t}, cfg, t.Logf)
		defer m.close()
		guard := func(f func()) {
			defer func() {
				if r := recover(); r != nil {
					if f, ok := r.(failure); ok {
						t.Fatalf("%s", f.msg)
					}
					panic(r)
				}
			}()
			f()
		}
		actions := map[string]func(*rapid.T){}
		for _, a := range m.actions() {
			actions[a.name] = func(t *rapid.T) {
				m.steps++
				steps.Add(1)
				guard(func() { a.run(m, rapidChooser{t}) })
			}
		}
		actions[""] = func(*rapid.T) { guard(m.check) }
		t.Repeat(actions)
	}
}

// TestMachine runs the default machine: one to three processes over the
// in-memory file system, with faults, crashes at any file-system call and
// power cuts among the actions, and the wider fault model of issue #11:
// EACCES/EPERM on opens, special files at the side paths, a file system
// out of inodes (with the spare files of R32), a consumer whose handler's
// child outlives it. Spec R4 to R25, R31, R32, R33, R39.
func TestMachine(t *testing.T) {
	t.Parallel()
	start, n := time.Now(), steps.Load()
	rapid.Check(t, machineProp(machineConfig{}))
	t.Logf("%d steps in %v", steps.Load()-n, time.Since(start))
}

// TestMachineOneProcess pins one process, where the overflow rule is exact
// (R18, R19): an append past MaxSize prunes at once.
func TestMachineOneProcess(t *testing.T) {
	t.Parallel()
	start, n := time.Now(), steps.Load()
	rapid.Check(t, machineProp(machineConfig{Procs: 1, MaxSize: 5}))
	t.Logf("%d steps in %v", steps.Load()-n, time.Since(start))
}

// FuzzMachine exposes the default machine to go test -fuzz.
func FuzzMachine(f *testing.F) {
	f.Fuzz(rapid.MakeFuzz(machineProp(machineConfig{})))
}

// FuzzMachineOneProcess exposes the one-process machine to go test -fuzz.
func FuzzMachineOneProcess(f *testing.F) {
	f.Fuzz(rapid.MakeFuzz(machineProp(machineConfig{Procs: 1, MaxSize: 5})))
}

// TestConcurrent runs processes and goroutines that append, ingest and list
// at once, and checks the history for linearizability and the deliveries
// for exactly-once (R7, R11).
func TestConcurrent(t *testing.T) {
	t.Parallel()
	runs := 6
	if testing.Short() {
		runs = 2
	}
	for seed := range uint64(runs) {
		n, err := RunConcurrent(seed, ConcurrentConfig{Procs: 2 + int(seed%2), Goroutines: 2})
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		t.Logf("seed %d: %d operations, linearizable", seed, n)
	}
	// The same on the real disk: each process has its own descriptors, so
	// the flocks are the kernel's.
	n, err := RunConcurrent(99, ConcurrentConfig{Procs: 3, Goroutines: 2, Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("on disk: %v", err)
	}
	t.Logf("on disk: %d operations, linearizable", n)
}

// TestReplay replays one run of a campaign: CAPQ_REPLAY=phase:seed, as
// RunCampaign's Reproduce line says.
func TestReplay(t *testing.T) {
	t.Parallel()
	spec := os.Getenv("CAPQ_REPLAY")
	if spec == "" {
		t.Skip("set CAPQ_REPLAY=phase:seed to replay a campaign run")
	}
	phase, s, _ := strings.Cut(spec, ":")
	seed, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("CAPQ_REPLAY=%q: %v", spec, err)
	}
	steps, err := runOne(phase, seed, t.Logf)
	if err != nil {
		t.Fatalf("%s seed %d (%d steps): %v", phase, seed, steps, err)
	}
}

func ExampleRunConcurrent() {
	_, err := RunConcurrent(1, ConcurrentConfig{Procs: 2, Goroutines: 2, Ops: 5})
	fmt.Println(err)
	// Output: <nil>
}

// TestRunCampaign runs a short campaign: every phase runs, nothing fails,
// and the report adds up.
func TestRunCampaign(t *testing.T) {
	t.Parallel()
	var events int
	rep, err := RunCampaign(context.Background(), CampaignConfig{
		Seed: 7, Duration: time.Second, Dir: t.TempDir(),
		Progress: func(CampaignEvent) { events++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failure != nil {
		t.Fatalf("campaign failed: %+v", *rep.Failure)
	}
	if rep.Seed != 7 || len(rep.Phases) != len(phases) || events == 0 {
		t.Fatalf("report %+v after %d progress events, want seed 7 and %d phases", rep, events, len(phases))
	}
	for _, ph := range rep.Phases {
		if ph.Runs == 0 || ph.Steps == 0 || ph.Failed {
			t.Errorf("phase %+v: want at least one run with steps, no failure", ph)
		}
	}
}

func ExampleRunCampaign() {
	rep, err := RunCampaign(context.Background(), CampaignConfig{Seed: 42, Duration: time.Second})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, ph := range rep.Phases {
		fmt.Println(ph.Name, ph.Runs > 0, ph.Failed)
	}
	fmt.Println("failure:", rep.Failure)
	// Output:
	// model true false
	// power-loss true false
	// concurrency true false
	// disk true false
	// failure: <nil>
}
