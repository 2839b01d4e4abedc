package mutate

import (
	"errors"
	"testing"
)

// Spec R58: without the capqmutants tag no mutant can be switched on, and
// asking for one is an error; with it, Enable switches and restores.
func TestEnable(t *testing.T) {
	t.Parallel()
	restore, err := Enable(0)
	if err != nil {
		t.Fatalf("Enable(0): %v", err)
	}
	restore()
	for _, m := range All {
		restore, err := Enable(m)
		if !Built {
			if !errors.Is(err, ErrNotBuilt) || On(m) {
				t.Errorf("Enable(%v) in a build without mutants: %v, On %v; want ErrNotBuilt, off", m, err, On(m))
			}
			continue
		}
		if err != nil || !On(m) {
			t.Fatalf("Enable(%v): %v, On %v; want on", m, err, On(m))
		}
		restore()
		if On(m) {
			t.Errorf("%v still on after restore", m)
		}
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	for _, m := range All {
		if got, ok := Parse(m.String()); !ok || got != m {
			t.Errorf("Parse(%q) = %v, %v; want %v", m.String(), got, ok, m)
		}
	}
	if _, ok := Parse("no-such-mutant"); ok {
		t.Error(`Parse("no-such-mutant") succeeded`)
	}
}
