//go:build capqmutants

package crashtest

import (
	"context"
	"testing"

	"github.com/capq/capq/internal/mutate"
)

// Spec R58: the mutant suites run only in this build:
// go test -tags capqmutants ./verify/crashtest -run Mutants

// The checks can fail: bugs planted in the children's queue are caught.
func TestRunCatchesMutants(t *testing.T) {
	for _, m := range []mutate.Set{mutate.DeleteBeforeHandler, mutate.DropLockEarly} {
		t.Run(m.String(), func(t *testing.T) {
			for attempt := range 10 {
				rep, err := Run(context.Background(), Config{Dir: t.TempDir(), Rounds: 3, Seed: uint64(attempt), Mutants: m})
				if err != nil {
					t.Fatal(err)
				}
				if !rep.OK() {
					t.Logf("caught: %s", rep.Violations[0])
					return
				}
			}
			t.Fatalf("ten runs of 3 rounds did not catch mutant %s", m)
		})
	}
}
