//go:build capqmutants

package model

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/capq/capq/internal/mutate"
)

var allPhases = flag.Bool("model.allphases", false, "TestMutants: try every phase for every mutant (for the README table)")

// TestMutants runs the machines against each deliberately broken variant of
// the queue and requires every one to be caught: a check that cannot fail
// proves nothing. It drives the machines with seeded runs (as RunCampaign
// does) rather than rapid, so that a caught mutant is an expected outcome,
// not a test failure. The mutants exist only in a build with -tags
// capqmutants (spec R58), and there they are a process-wide switch: this
// test must not run in parallel with any other test of the queue, so run it
// alone: go test -tags capqmutants ./model -run Mutants.
func TestMutants(t *testing.T) {
	const maxRuns = 300
	for _, mu := range mutate.All {
		t.Run(mu.String(), func(t *testing.T) {
			restore, err := mutate.Enable(mu)
			if err != nil {
				t.Fatal(err)
			}
			defer restore()
			caught := false
			for _, ph := range phases {
				for run := range maxRuns {
					seed := runSeed(uint64(mu), len(ph.name), run)
					steps, err := runSteps(ph.name, seed, 60, t.TempDir(), func(string, ...any) {})
					if err == nil {
						continue
					}
					caught = true
					msg, _, _ := strings.Cut(err.Error(), "\n")
					t.Logf("caught by phase %s, run %d (seed %d, %d steps): %s", ph.name, run, seed, steps, msg)
					break
				}
				if caught && !*allPhases {
					break
				}
			}
			if !caught {
				t.Errorf("mutant %v survived %d runs of every phase", mu, maxRuns)
			}
		})
	}
}

// TestCampaignCatches: a campaign stops at the first violation and says how
// to replay it. Mutants are process-wide: not parallel with other tests (this file is
// built only with -tags capqmutants).
func TestCampaignCatches(t *testing.T) {
	restore, err := mutate.Enable(mutate.ReverseList)
	if err != nil {
		t.Fatal(err)
	}
	defer restore()
	rep, err := RunCampaign(context.Background(), CampaignConfig{Seed: 3, Duration: 10 * time.Second, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	f := rep.Failure
	if f == nil || f.Phase != "model" || !strings.Contains(f.Reproduce, fmt.Sprintf("CAPQ_REPLAY=model:%d", f.Seed)) {
		t.Fatalf("campaign against reverse-list: failure %+v, want one in phase model with a replay command", f)
	}
	if _, err := runOne(f.Phase, f.Seed, t.Logf); err == nil || err.Error() != f.Message {
		t.Fatalf("replaying seed %d: %v, want the campaign's failure %q", f.Seed, err, f.Message)
	}
}
