// Package layers holds one test: the import graph of the core module keeps
// the layers that README.md's architecture section draws.
package layers

import (
	"fmt"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/capq/capq"

// layerOf places a package of the module (path relative to the module) in
// its layer. The order of the layers is the order of the ranks: a package
// may import packages of its own layer or of lower ones, never of higher
// ones; bench and verification are side by side and do not import each
// other.
func layerOf(rel string) (string, error) {
	first, _, _ := strings.Cut(rel, "/")
	switch {
	case rel == "gen" || rel == "ulid" || rel == "internal/fsys" || rel == "internal/queuefs" || rel == "internal/layout" || rel == "queue":
		return "production", nil
	case rel == "internal/mutate" || first == "model" || first == "fuzz" || first == "verify" || first == "spec":
		return "verification", nil
	case first == "bench":
		return "bench", nil
	case first == "tools" || first == "adapters":
		return "edge", nil
	}
	return "", fmt.Errorf("package %s is in no layer: place it in layerOf and in README.md's architecture section", rel)
}

// may reports whether a package of layer from may import one of layer to.
func may(from, to string) bool {
	switch from {
	case "production":
		return to == "production"
	case "verification":
		return to == "production" || to == "verification"
	case "bench":
		return to == "production" || to == "bench"
	case "edge":
		return true
	}
	return false
}

// graph returns, for each package of the module in the default build (no
// build tags: what ships), the packages of the module its non-test files
// import.
func graph(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	g := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		from := strings.TrimPrefix(f[0], module+"/")
		g[from] = nil
		for _, imp := range f[1:] {
			if rel, ok := strings.CutPrefix(imp, module+"/"); ok {
				g[from] = append(g[from], rel)
			}
		}
	}
	return g
}

// check returns one message per import that runs against the layers.
func check(g map[string][]string) []string {
	var bad []string
	for _, p := range slices.Sorted(maps.Keys(g)) {
		lp, err := layerOf(p)
		if err != nil {
			bad = append(bad, err.Error())
			continue
		}
		for _, imp := range g[p] {
			li, err := layerOf(imp)
			if err != nil {
				bad = append(bad, err.Error())
				continue
			}
			if !may(lp, li) {
				bad = append(bad, fmt.Sprintf("%s (%s) imports %s (%s): production never imports verification, benchmark or tool code, and no layer imports a higher one", p, lp, imp, li))
			}
		}
		// The floor is what capq is measured against: it shares no code
		// with capq, or it would measure capq against itself.
		if p == "bench/floor" && len(g[p]) > 0 {
			bad = append(bad, fmt.Sprintf("bench/floor imports %v: the floor must not share capq's code", g[p]))
		}
	}
	return bad
}

// Spec R58 (no mutant code in production) and README.md's architecture: the
// real import graph keeps the layers.
func TestImportGraph(t *testing.T) {
	g := graph(t)
	if len(g["queue"]) == 0 || len(g["tools/capq"]) == 0 {
		t.Fatalf("go list found no imports of queue or tools/capq: %v", g)
	}
	for _, msg := range check(g) {
		t.Error(msg)
	}
}

// The check fails on the arrows it forbids.
func TestImportGraphRules(t *testing.T) {
	for _, tc := range []struct {
		g    map[string][]string
		want string
	}{
		{map[string][]string{"queue": {"internal/mutate"}}, "queue (production) imports internal/mutate (verification)"},
		{map[string][]string{"ulid": {"bench/suite"}}, "ulid (production) imports bench/suite (bench)"},
		{map[string][]string{"model": {"tools/capq"}}, "model (verification) imports tools/capq (edge)"},
		{map[string][]string{"bench/suite": {"model"}}, "bench/suite (bench) imports model (verification)"},
		{map[string][]string{"bench/floor": {"ulid"}}, "the floor must not share capq's code"},
		{map[string][]string{"newpkg": nil}, "package newpkg is in no layer"},
	} {
		got := check(tc.g)
		if len(got) != 1 || !strings.Contains(got[0], tc.want) {
			t.Errorf("check(%v) = %q, want one message containing %q", tc.g, got, tc.want)
		}
	}
	ok := map[string][]string{"queue": {"ulid", "gen", "internal/fsys"}, "model": {"queue"}, "tools/capq": {"model", "bench/suite"}, "bench/suite": {"bench/floor", "queue"}}
	if got := check(ok); len(got) != 0 {
		t.Errorf("check of a layered graph: %q", got)
	}
}
