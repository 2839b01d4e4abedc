package model

import (
	"flag"
	"strings"
	"testing"

	"github.com/capq/capq/internal/mutate"
)

var allPhases = flag.Bool("model.allphases", false, "TestMutants: try every phase for every mutant (for the README table)")

// TestMutants runs the machines against each deliberately broken variant of
// the queue and requires every one to be caught: a check that cannot fail
// proves nothing. It drives the machines with seeded runs (as RunCampaign
// does) rather than rapid, so that a caught mutant is an expected outcome,
// not a test failure. The mutants are a process-wide switch: this test must
// not run in parallel with any other test of the queue.
func TestMutants(t *testing.T) {
	const maxRuns = 300
	for _, mu := range mutate.All {
		t.Run(mu.String(), func(t *testing.T) {
			restore := mutate.Enable(mu)
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
