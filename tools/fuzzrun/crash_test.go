package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// panicReport is the trimmed report of a fuzzing run that panicked in
// bug.Check, reached from the target named target, with the goroutine id,
// addresses and index given.
func panicReport(target, goroutine, addr, index string) []string {
	return strings.Split(`--- FAIL: `+target+` (0.00s)
testing.go:1927: panic: runtime error: index out of range [`+index+`] with length 0
goroutine `+goroutine+` [running]:
runtime/debug.Stack()
/usr/local/go/src/runtime/debug/stack.go:26 +0x9b
testing.tRunner.func1()
/usr/local/go/src/testing/testing.go:1927 +0x1d0
panic({0x63e520?, `+addr+`?})
/usr/local/go/src/runtime/panic.go:860 +0x13a
example.com/fz/bug.Check(...)
/tmp/x/bug/bug.go:7
example.com/fz/bug.(*T).M(`+addr+`)
/tmp/x/bug/bug.go:20 +0x1f
example.com/fz/bug.`+target+`.func1(0x0?, {`+addr+`, 0x4})
/tmp/x/bug/bug_test.go:7 +0xe7
reflect.Value.call({0x612280?, 0x664218?, 0x13?}, {0x6528ae, 0x4}, {`+addr+`, 0x2, 0x2?})
/usr/local/go/src/reflect/value.go:586 +0xf0c
testing.(*F).Fuzz.func1.1(`+addr+`?)
/usr/local/go/src/testing/fuzz.go:341 +0x365
created by testing.(*F).Fuzz.func1 in goroutine 7
/usr/local/go/src/testing/fuzz.go:328 +0x668
Failing input written to testdata/fuzz/`+target+`/1de061fa29cfbb3d`, "\n")
}

func TestSignature(t *testing.T) {
	t.Parallel()
	base := panicReport("FuzzA", "35", "0xc00001a0f0", "4")
	key, title := signature("FuzzA", base)
	wantKey := []string{
		"panic: runtime error: index out of range [N] with length N",
		"example.com/fz/bug.Check bug.go:7",
		"example.com/fz/bug.(*T).M bug.go:20",
	}
	if !slices.Equal(key, wantKey) || title != wantKey[0] {
		t.Fatalf("signature = %q, %q\nwant %q", key, title, wantKey)
	}
	sig := signatureHash(key)
	// A plain go test (not fuzzing) reports the same panic differently.
	plain := panicReport("FuzzA", "20", "0x2f46426d60f0", "9")
	plain[1] = "panic: runtime error: index out of range [9] with length 0 [recovered, repanicked]"

	inFuzz := panicReport("FuzzA", "9", "0x1", "1")
	inFuzz[9], inFuzz[10] = "example.com/fz/bug.Other(...)", "/tmp/x/bug/bug.go:3"
	atTarget := []string{"--- FAIL: FuzzA (0.00s)", "testing.go:1927: panic: boom",
		"goroutine 5 [running]:", "example.com/fz/bug.FuzzA.func1(0x0?)", "/tmp/x/bug/bug_test.go:9 +0x10",
		"testing.tRunner(0x1, 0x2)", "/usr/local/go/src/testing/testing.go:2036 +0xea"}
	for _, tc := range []struct {
		name   string
		target string
		report []string
		same   bool
	}{
		{"other goroutine, addresses and index", "FuzzA", panicReport("FuzzA", "2491", "0x27dd6ae6bde0", "17"), true},
		{"another target reaching the same bug", "FuzzB", panicReport("FuzzB", "1175", "0x392b21c57e08", "4"), true},
		{"the same bug in a plain go test", "FuzzA", plain, true},
		{"another function", "FuzzA", inFuzz, false},
		{"a panic in the target's own function", "FuzzA", atTarget, false},
		{"a t.Error, not a panic", "FuzzA", []string{"--- FAIL: FuzzA (0.00s)", "bug_test.go:12: got 5, want 6"}, false},
	} {
		k, _ := signature(tc.target, tc.report)
		if got := signatureHash(k) == sig; got != tc.same {
			t.Errorf("%s: same signature = %v, want %v (key %q)", tc.name, got, tc.same, k)
		}
	}
	k, _ := signature("FuzzA", atTarget)
	if !slices.Equal(k, []string{"panic: boom", "example.com/fz/bug.FuzzA.func1 bug_test.go:9"}) {
		t.Errorf("a panic in the target: key %q", k)
	}
	// Failures without a stack: the package and where they were
	// reported, not the values they quote nor the target (two targets
	// calling one helper that reports at one line are one failure).
	a, title := signature("m/x", []string{"x_test.go:12: got 5, want 6", "Failing input written to testdata/fuzz/FuzzX/1"})
	b, _ := signature("m/x", []string{"x_test.go:12: got 700, want 8"})
	c, _ := signature("m/x", []string{"x_test.go:14: got 5, want 6"})
	d, _ := signature("m/y", []string{"x_test.go:12: got 5, want 6"})
	if !slices.Equal(a, b) || slices.Equal(a, c) || slices.Equal(a, d) || title != "got N, want N" {
		t.Errorf("t.Error signatures: %q %q %q %q, title %q", a, b, c, d, title)
	}
}

func TestDedupFailures(t *testing.T) {
	t.Parallel()
	results := []Result{
		{Package: "m/p", Target: "FuzzA", Status: "fail", Signature: "s1", Title: "panic: x", Crasher: "c/FuzzA/1", Reproduce: "go test -run=FuzzA/1"},
		{Package: "m/p", Target: "FuzzOK", Status: "pass"},
		{Package: "m/q", Target: "FuzzB", Status: "fail", Signature: "s2", Title: "panic: y"},
		{Package: "m/p", Target: "FuzzC", Status: "fail", Signature: "s1", Title: "panic: x", Crasher: "c/FuzzC/2"},
		{Package: "m/p", Target: "FuzzA", Status: "fail", Signature: "s1", Title: "panic: x", Crasher: "c/FuzzA/3"},
	}
	got := dedupFailures(results, func(sig string) bool { return sig == "s2" })
	if len(got) != 2 {
		t.Fatalf("%d failures, want 2: %+v", len(got), got)
	}
	if f := got[0]; f.Signature != "s1" || !slices.Equal(f.Targets, []string{"p.FuzzA", "p.FuzzC"}) ||
		!slices.Equal(f.Inputs, []string{"c/FuzzA/1", "c/FuzzC/2", "c/FuzzA/3"}) || f.Reproduce != "go test -run=FuzzA/1" || f.Known {
		t.Errorf("first failure %+v", f)
	}
	if f := got[1]; f.Signature != "s2" || !slices.Equal(f.Targets, []string{"q.FuzzB"}) || !f.Known {
		t.Errorf("second failure %+v", f)
	}
}

// corpusDirs returns the run, corpus and seeds folders of a corpus test,
// in a fresh temporary folder; writeIn creates them.
func corpusDirs(t *testing.T) (run, corpus, seeds string) {
	dir := t.TempDir()
	return filepath.Join(dir, "run"), filepath.Join(dir, "corpus"), filepath.Join(dir, "seeds")
}

// writeIn writes text to the file name in the folder d, creating d.
func writeIn(t *testing.T, d, name, text string) {
	t.Helper()
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// stringEntry is a corpus entry in go test's format holding the string v.
func stringEntry(v string) string { return corpusHeader + "string(\"" + v + "\")\n" }

func TestMergeCorpus(t *testing.T) {
	t.Parallel()
	run, corpus, seeds := corpusDirs(t)
	writeIn(t, corpus, "old", stringEntry("a"))     // a hand-named entry
	writeIn(t, seeds, "seed1", stringEntry("seed")) // a committed seed
	writeIn(t, run, entryName([]byte(stringEntry("a"))), stringEntry("a"))
	writeIn(t, run, "x1", stringEntry("seed"))
	writeIn(t, run, "x2", stringEntry("bb"))
	writeIn(t, run, "x3", stringEntry("bb")) // the same input twice
	writeIn(t, run, "x4", stringEntry("cccc"))

	st, err := mergeCorpus(run, corpus, seeds, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st != (corpusStats{Added: 2, Size: 3}) {
		t.Errorf("stats %+v, want 2 added, size 3", st)
	}
	var names, contents []string
	des, _ := os.ReadDir(corpus)
	for _, de := range des {
		b, _ := os.ReadFile(filepath.Join(corpus, de.Name()))
		names = append(names, de.Name())
		contents = append(contents, string(b))
		if de.Name() != entryName(b) {
			t.Errorf("entry %s is not named by its contents' hash %s", de.Name(), entryName(b))
		}
	}
	slices.Sort(contents)
	if want := []string{stringEntry("a"), stringEntry("bb"), stringEntry("cccc")}; !slices.Equal(contents, want) {
		t.Errorf("corpus %q holds %q, want %q", names, contents, want)
	}

	// Restoring copies every entry; a budget of 2 drops the largest.
	n, err := restoreCorpus(corpus, run, seeds)
	if err != nil || n != 3 {
		t.Fatalf("restoreCorpus = %d, %v; want 3", n, err)
	}
	st, err = mergeCorpus(run, corpus, seeds, 2)
	if err != nil {
		t.Fatal(err)
	}
	if st != (corpusStats{Dropped: 1, Size: 2}) {
		t.Errorf("with a budget of 2: stats %+v", st)
	}
	if _, err := os.Stat(filepath.Join(corpus, entryName([]byte(stringEntry("cccc"))))); !os.IsNotExist(err) {
		t.Errorf("the largest entry was not dropped: %v", err)
	}
}

func TestExitStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		interrupted    bool
		failed, flaked int
		want           int
	}{
		{false, 0, 0, exitOK},
		{false, 1, 0, exitFail},
		{false, 1, 2, exitFail},
		{false, 0, 2, exitFlake},
		{true, 1, 0, exitUsage},
	} {
		if got := exitStatus(tc.interrupted, tc.failed, tc.flaked); got != tc.want {
			t.Errorf("exitStatus(%v, %d, %d) = %d, want %d", tc.interrupted, tc.failed, tc.flaked, got, tc.want)
		}
	}
}

// Files in the corpus that are not entries of the target (junk, another
// type, oversized, a merge's leftover temporary file, a copy of a
// committed seed) are never restored into a run and are removed by the
// merge, so they cannot count against -corpus-max and push real inputs
// out (attack report items 7 and 8).
func TestCorpusRejectsJunk(t *testing.T) {
	t.Parallel()
	run, corpus, seeds := corpusDirs(t)
	writeIn(t, seeds, "seed1", stringEntry("seed"))
	junk := map[string]string{
		"junk":                  "not a fuzz file",
		"-wrongtype":            corpusHeader + "int(5)\n",
		"two-values":            corpusHeader + "string(\"a\")\nint(1)\n",
		"not-a-literal":         corpusHeader + "string(os.Args[0])\n",
		"header-only":           corpusHeader,
		"big":                   corpusHeader + "string(\"" + strings.Repeat("z", maxEntrySize) + "\")\n",
		"we ird\nname":          "x",
		"seedcopy":              stringEntry("seed"),
		".tmp-deadbeefdeadbeef": corpusHeader + "string(\"0123",
	}
	for name, text := range junk {
		writeIn(t, corpus, name, text)
	}
	var real []string
	for i := range 20 {
		real = append(real, stringEntry(strings.Repeat("r", 10+i)))
		writeIn(t, corpus, fmt.Sprintf("real%02d", i), real[i])
	}
	n, err := restoreCorpus(corpus, run, seeds)
	if err != nil || n != 20 {
		t.Errorf("restoreCorpus = %d, %v; want the 20 real entries only", n, err)
	}
	st, err := mergeCorpus(run, corpus, seeds, 5)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size != 5 || st.Rejected != len(junk)-2 { // the seed copy is no junk; .tmp is a leftover
		t.Errorf("stats %+v; want size 5 and %d rejected", st, len(junk)-2)
	}
	des, _ := os.ReadDir(corpus)
	var got []string
	for _, de := range des {
		b, _ := os.ReadFile(filepath.Join(corpus, de.Name()))
		got = append(got, string(b))
	}
	slices.Sort(got)
	if want := real[:5]; !slices.Equal(got, want) {
		t.Errorf("corpus holds %q, want the 5 smallest real entries %q", got, want)
	}
}

// entryTypes reads the value types of go test's format and rejects the
// rest.
func TestEntryTypes(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{corpusHeader + "string(\"a\")\n", "string"},
		{corpusHeader + "[]byte(\"\\x00\")\nint(-5)\nbool(true)\n", "[]byte,int,bool"},
		{corpusHeader + "float64(1.5)\nmath.Float64frombits(0x7ff8000000000001)\nrune('x')\n", "float64,float64,rune"},
		{corpusHeader + "string(\"0123", ""},
		{corpusHeader + "map(1)\n", ""},
		{corpusHeader + "string(x)\n", ""},
		{"go test fuzz v2\nstring(\"a\")\n", ""},
		{corpusHeader, ""},
	} {
		got, err := entryTypes([]byte(tc.in))
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("entryTypes(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
