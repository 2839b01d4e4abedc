//go:build capqmutants

package main

import (
	"testing"

	"github.com/capq/capq/internal/mutate"
)

// Spec R58: run with go test -tags capqmutants ./tools/capq -run Catches

// The power-cut checker can fail: with the directory fsync planted away
// (internal/mutate), some run must catch a lost or resurrected record.
func TestPowerCutCatchesSkipDirSync(t *testing.T) {
	restore, err := mutate.Enable(mutate.SkipDirSync)
	if err != nil {
		t.Fatal(err)
	}
	defer restore()
	for run := range uint64(500) {
		if _, err := powerCutRun(1, run); err != nil {
			t.Logf("caught in run %d: %v", run, err)
			return
		}
	}
	t.Fatal("500 power cuts did not notice that the directory is never fsynced")
}
