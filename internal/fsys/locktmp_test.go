package fsys

import (
	"math/rand/v2"
	"testing"
)

// Spec R45: LockTmpBase accepts exactly the names LockTmpName makes (the
// portable CreateLocked's temporary names) and nothing that merely
// resembles one, so the queue never removes a file it did not create.
func TestLockTmpName(t *testing.T) {
	t.Parallel()
	const base = "pending-01HZQ0000000000000000000AA.lock"
	for i := 0; i < 200; i++ {
		var rnd [lockTmpRandSize]byte
		for j := range rnd {
			rnd[j] = byte(rand.IntN(256))
		}
		name := LockTmpName(base, rnd)
		if got, ok := LockTmpBase(name); !ok || got != base {
			t.Fatalf("LockTmpBase(%q) = %q, %v; want %q, true", name, got, ok, base)
		}
	}
	for _, tc := range []struct {
		name string
		base string // "" when it is not a temporary name
	}{
		{"." + base + ".0123456789abcdef.locktmp", base},
		{".x.ffffffffffffffff.locktmp", "x"},
		{"." + base + "..locktmp", ""},
		{"." + base + ".0123456789ABCDEF.locktmp", ""},
		{"." + base + ".0123456789abcde.locktmp", ""},
		{"." + base + ".0123456789abcdef0.locktmp", ""},
		{"." + base + ".hello world.locktmp", ""},
		{"." + base + ".g.locktmp", ""},
		{"." + base + ".0123456789abcdeg.locktmp", ""},
		{"." + base + "-0123456789abcdef.locktmp", ""},
		{"." + base + ".0123456789abcdef.locktmp.locktmp", ""},
		{"." + base + ".0123456789abcdef.lockTMP", ""},
		{base + ".0123456789abcdef.locktmp", ""},
		{"..0123456789abcdef.locktmp", ""},
		{".a/b.0123456789abcdef.locktmp", ""},
		{".0123456789abcdef.locktmp", ""},
		{"", ""},
	} {
		got, ok := LockTmpBase(tc.name)
		if ok != (tc.base != "") || got != tc.base {
			t.Errorf("LockTmpBase(%q) = %q, %v; want %q", tc.name, got, ok, tc.base)
		}
	}
}
