package main

import (
	"bytes"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// Spec R48: a count flag parses as an int64 and saturates at int's bounds,
// so one command line means the same on 32-bit and 64-bit builds.
func TestCountFlagSaturates(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64 // before saturating to int
		ok   bool
	}{
		{"0", 0, true},
		{"-1", -1, true},
		{"2147483647", math.MaxInt32, true},
		{"2147483648", 1 << 31, true},
		{"3000000000", 3000000000, true},
		{"-3000000000", -3000000000, true},
		{"0x10", 16, true},
		{"99999999999999999999", math.MaxInt64, true},
		{"-99999999999999999999", math.MinInt64, true},
		{"x", 0, false},
		{"", 0, false},
		{"1.5", 0, false},
	} {
		got := 7
		err := countFlag{&got}.Set(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("%q: err %v, want ok %v", tc.in, err, tc.ok)
			continue
		}
		want := 7
		if tc.ok {
			want = int(min(max(tc.want, math.MinInt), math.MaxInt))
		}
		if got != want {
			t.Errorf("%q: %d, want %d", tc.in, got, want)
		}
	}
}

// Spec R48: every count flag of capq takes a value past 2^31 as every
// build does (the same exit status on 386 as on amd64), not as a usage
// error on 32-bit builds only.
func TestCountFlagsPast32Bits(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "q")
	for _, args := range [][]string{
		{"append", "--max-size", "3000000000", "--record", `{"a":1}`},
		{"append", "--max-size", "2147483648", "--record", `{"a":2}`},
		{"drain", "--max", "3000000000"},
		{"drain", "--max-attempts", "3000000000"},
		{"prune", "--to", "3000000000"},
	} {
		var out, errOut bytes.Buffer
		full := append([]string{"--dir", dir}, args...)
		if code := run(t.Context(), full, strings.NewReader(""), &out, &errOut); code != exitOK {
			t.Errorf("capq %s: exit %d, want 0; stderr %q", strings.Join(args, " "), code, errOut.String())
		}
	}
}
