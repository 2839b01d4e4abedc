//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package main

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Spec R58: the shipped capq has no mutant code. It builds the command the
// way a user does, and a small binary of the queue with -tags capqmutants to
// show that the same checks see the mutant switch when it is there (so they
// can fail).
func TestShippedBinaryHasNoMutants(t *testing.T) {
	if testing.Short() {
		t.Skip("builds capq twice")
	}
	t.Parallel()
	production := []string{"../../queue", "../../ulid", "../../gen", "../../internal/fsys"}
	const mutatePkg = "github.com/capq/capq/internal/mutate"
	// The switch's state, and the queue's planted ULID bug: present only in
	// a mutant build. (mutate.On and the branches that call it are inlined,
	// so they have no symbol of their own.)
	switchSymbols := []string{mutatePkg + ".active", "github.com/capq/capq/queue.mutantULID"}

	for _, tc := range []struct {
		tags     string
		pkg      string // what to build
		mutants  bool   // whether the build must have the switch
		wantDeps bool   // whether production packages must import mutate
	}{
		// The shipped command, built as a user builds it.
		{tags: "", pkg: ".", mutants: false, wantDeps: false},
		// The control: a small binary that links the queue's mutant
		// branches, so that the tagged build recompiles little (building
		// all of capq again with the tag took most of this test's time).
		{tags: "capqmutants", pkg: "./testdata/mutantprobe", mutants: true, wantDeps: true},
	} {
		t.Run("tags="+tc.tags, func(t *testing.T) {
			args := append([]string{"list", "-tags=" + tc.tags, "-deps"}, production...)
			out, err := exec.Command("go", args...).Output()
			if err != nil {
				t.Fatalf("go list: %v", err)
			}
			deps := strings.Fields(string(out))
			if got := slices.Contains(deps, mutatePkg); got != tc.wantDeps {
				t.Errorf("production packages import %s: %v, want %v", mutatePkg, got, tc.wantDeps)
			}

			bin := filepath.Join(t.TempDir(), "capq")
			if out, err := exec.Command("go", "build", "-tags="+tc.tags, "-o", bin, tc.pkg).CombinedOutput(); err != nil {
				t.Fatalf("go build: %v\n%s", err, out)
			}
			out, err = exec.Command("go", "tool", "nm", bin).Output()
			if err != nil {
				t.Fatalf("go tool nm: %v", err)
			}
			syms := map[string]bool{}
			for _, line := range strings.Split(string(out), "\n") {
				if f := strings.Fields(line); len(f) >= 3 {
					syms[f[len(f)-1]] = true
				}
			}
			if len(syms) < 100 {
				t.Fatalf("go tool nm listed %d symbols: not a symbol table", len(syms))
			}
			for _, s := range switchSymbols {
				if syms[s] != tc.mutants {
					t.Errorf("capq built with tags %q has symbol %s: %v, want %v", tc.tags, s, syms[s], tc.mutants)
				}
			}
		})
	}
}
