// Package spec holds no code: spec/SPEC.md is the normative text, and this
// package's test keeps it and the tests that check it pointing at each other
// (spec R57).
package spec

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Spec R57: the traceability rules, checked on the real SPEC.md and every Go
// file of the repository.
func TestTraceability(t *testing.T) {
	t.Parallel()
	root := ".."
	spec, err := os.ReadFile(filepath.Join(root, "spec", "SPEC.md"))
	if err != nil {
		t.Fatal(err)
	}
	reqs, problems := parseRequirements(string(spec))
	code, err := scanGo(root)
	if err != nil {
		t.Fatal(err)
	}
	problems = append(problems, check(root, reqs, code)...)
	for _, p := range problems {
		t.Error(p)
	}
	if len(problems) > 0 {
		t.Logf("How to fix: each **Rn Title.** paragraph of spec/SPEC.md ends with `Tests:` naming existing tests "+
			"(`TestName`, `FuzzName`, `BenchmarkName`, `ExampleName`) or test files/folders (`queue/x_test.go`, `fuzz/`), "+
			"or `Tests: none (why)`; every requirement with tests is cited by at least one _test.go comment "+
			"`// Spec Rn` (lists like `Spec R3, R14` and ranges `Spec R4 to R25` count); and a `Spec Rn` comment "+
			"in any Go file names a requirement that exists. %d requirements found.", len(reqs))
	}
}

// requirement is one **Rn Title.** paragraph of SPEC.md.
type requirement struct {
	num   int
	line  int    // 1-based line of its heading
	text  string // the whole paragraph, up to the next requirement or heading
	tests string // the text after its last "Tests:" ("" if none)
}

var (
	reqHead   = regexp.MustCompile(`^\*\*R(\d+)\s`)
	testsMark = regexp.MustCompile(`\bTests?:`)
	backtick  = regexp.MustCompile("`([^`]+)`")
	testName  = regexp.MustCompile(`^(Test|Fuzz|Benchmark|Example)[A-Za-z0-9_]*(/\S*)?$`)
	// citation matches "Spec R3", "Spec R3, R14", "Spec R9 and R10",
	// "Spec R4 to R25" (a range), "spec R28" in comments.
	citation = regexp.MustCompile(`(?i)\bspec\s+(R\d+(?:\s*(?:,|and|to|–|-)\s*R\d+)*)`)
	reqNum   = regexp.MustCompile(`R(\d+)`)
)

// parseRequirements splits SPEC.md into requirements; it reports duplicate
// numbers.
func parseRequirements(spec string) (map[int]*requirement, []string) {
	reqs := map[int]*requirement{}
	var problems []string
	var cur *requirement
	for i, line := range strings.Split(spec, "\n") {
		if strings.HasPrefix(line, "#") {
			cur = nil
			continue
		}
		if m := reqHead.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			if prev, ok := reqs[n]; ok {
				problems = append(problems, fmt.Sprintf("spec/SPEC.md:%d: R%d is defined twice (first at line %d)", i+1, n, prev.line))
			}
			cur = &requirement{num: n, line: i + 1}
			reqs[n] = cur
		}
		if cur != nil {
			cur.text += line + "\n"
		}
	}
	for _, r := range reqs {
		if loc := testsMark.FindAllStringIndex(r.text, -1); loc != nil {
			r.tests = r.text[loc[len(loc)-1][1]:]
		}
	}
	return reqs, problems
}

// goCode is what the repository's Go files offer: the test functions, the
// requirement numbers cited by tests, and every citation with its place.
type goCode struct {
	funcs     map[string]bool // Test*, Fuzz*, Benchmark*, Example* in _test.go files
	citedBy   map[int][]string
	citations []cite
}

type cite struct {
	num int
	pos string // file:line
}

// scanGo parses every Go file under root (nested modules included, .git and
// testdata excluded).
func scanGo(root string) (*goCode, error) {
	code := &goCode{funcs: map[string]bool{}, citedBy: map[int][]string{}}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); n == ".git" || n == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		isTest := strings.HasSuffix(path, "_test.go")
		rel, _ := filepath.Rel(root, path)
		if isTest {
			for _, d := range f.Decls {
				if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && testName.MatchString(fd.Name.Name) {
					code.funcs[fd.Name.Name] = true
				}
			}
		}
		for _, cg := range f.Comments {
			for _, c := range cg.List {
				for _, m := range citation.FindAllStringSubmatch(c.Text, -1) {
					pos := fmt.Sprintf("%s:%d", filepath.ToSlash(rel), fset.Position(c.Pos()).Line)
					for _, n := range citedNumbers(m[1]) {
						code.citations = append(code.citations, cite{n, pos})
						if isTest {
							code.citedBy[n] = append(code.citedBy[n], pos)
						}
					}
				}
			}
		}
		return nil
	})
	return code, err
}

// citedNumbers expands "R3, R14" and "R4 to R25" into requirement numbers.
func citedNumbers(list string) []int {
	var nums []int
	ms := reqNum.FindAllStringSubmatchIndex(list, -1)
	for i, m := range ms {
		n, _ := strconv.Atoi(list[m[2]:m[3]])
		if i > 0 {
			sep := strings.TrimSpace(list[ms[i-1][1]:m[0]])
			if sep == "to" || sep == "–" || sep == "-" {
				for k := nums[len(nums)-1] + 1; k < n; k++ {
					nums = append(nums, k)
				}
			}
		}
		nums = append(nums, n)
	}
	return nums
}

// check applies the three rules and returns one message per violation.
func check(root string, reqs map[int]*requirement, code *goCode) []string {
	var problems []string
	for _, n := range slices.Sorted(maps.Keys(reqs)) {
		r := reqs[n]
		where := fmt.Sprintf("spec/SPEC.md:%d: R%d", r.line, n)
		// Every test named anywhere in the requirement must exist.
		for _, m := range backtick.FindAllStringSubmatch(r.text, -1) {
			tok := m[1]
			if testName.MatchString(tok) {
				name, _, _ := strings.Cut(tok, "/")
				if !code.funcs[name] {
					problems = append(problems, fmt.Sprintf("%s names test `%s`, but no _test.go file defines func %s", where, tok, name))
				}
			}
		}
		switch {
		case r.tests == "":
			problems = append(problems, fmt.Sprintf("%s has no `Tests:` list (name its tests, or write `Tests: none (why)`)", where))
			continue
		case strings.HasPrefix(strings.TrimSpace(r.tests), "none"):
			if !strings.Contains(r.tests, "(") {
				problems = append(problems, fmt.Sprintf("%s says `Tests: none` without saying why in parentheses", where))
			}
			continue
		}
		// Paths in the Tests: list must exist.
		named := 0
		for _, m := range backtick.FindAllStringSubmatch(r.tests, -1) {
			tok := m[1]
			switch {
			case testName.MatchString(tok):
				named++
			case strings.Contains(tok, "/") || strings.HasSuffix(tok, ".go"):
				named++
				if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(tok))); err != nil {
					problems = append(problems, fmt.Sprintf("%s names test file or folder `%s`, which does not exist", where, tok))
				}
			}
		}
		if named == 0 {
			problems = append(problems, fmt.Sprintf("%s: its `Tests:` list names no test in backticks (`TestName` or `dir/file_test.go`)", where))
		}
		if len(code.citedBy[n]) == 0 {
			problems = append(problems, fmt.Sprintf("%s: no test cites it: add `// Spec R%d` to the comment of a test that checks it", where, n))
		}
	}
	for _, c := range code.citations {
		if reqs[c.num] == nil {
			problems = append(problems, fmt.Sprintf("%s: cites Spec R%d, which spec/SPEC.md does not define", c.pos, c.num))
		}
	}
	return problems
}

// Spec R57: each rule fails on a spec or code that breaks it, and passes
// on one that keeps it.
func TestTraceabilityRules(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "q"), 0o755); err != nil {
		t.Fatal(err)
	}
	const good = `// Spec R1 and R2
package q

import "testing"

// Spec R3 to R4
func TestA(t *testing.T) {}

func FuzzB(f *testing.F) {}
`
	tests := []struct {
		name string
		spec string
		code string // q/a_test.go
		want []string
	}{
		{"all kept", "# S\n**R1 A.** x. Tests: `TestA`.\n**R2 B.** Tests: `q/a_test.go`.\n**R3 C.** Tests: `FuzzB`, `q/`.\n**R4 D.** Tests: `TestA/sub`.\n**R5 E.** Tests: none (a limit, not a promise).\n", good, nil},
		{"missing test", "**R1 A.** Tests: `TestGone`.\n**R2 B.** Tests: `TestA`.\n**R3 C.** Tests: `TestA`.\n**R4 D.** Tests: `TestA`.\n", good,
			[]string{"R1 names test `TestGone`"}},
		{"missing file", "**R1 A.** Tests: `q/gone_test.go`.\n**R2 B.** Tests: `TestA`.\n**R3 C.** Tests: `TestA`.\n**R4 D.** Tests: `TestA`.\n", good,
			[]string{"`q/gone_test.go`, which does not exist"}},
		{"no Tests list", "**R1 A.** Tests: `TestA`.\n**R2 B.** untested.\n**R3 C.** Tests: `TestA`.\n**R4 D.** Tests: `TestA`.\n", good,
			[]string{"R2 has no `Tests:` list"}},
		{"none without reason", "**R1 A.** Tests: `TestA`.\n**R2 B.** Tests: none.\n**R3 C.** Tests: `TestA`.\n**R4 D.** Tests: `TestA`.\n", good,
			[]string{"R2 says `Tests: none` without"}},
		{"not cited", "**R1 A.** Tests: `TestA`.\n**R2 B.** Tests: `TestA`.\n**R3 C.** Tests: `TestA`.\n**R4 D.** Tests: `TestA`.\n**R9 E.** Tests: `TestA`.\n", good,
			[]string{"R9: no test cites it"}},
		{"cites unknown", "**R1 A.** Tests: `TestA`.\n**R2 B.** Tests: `TestA`.\n**R3 C.** Tests: `TestA`.\n", good,
			[]string{"q/a_test.go:6: cites Spec R4"}},
		{"duplicate", "**R1 A.** Tests: `TestA`.\n**R1 A again.** Tests: `TestA`.\n**R2 B.** Tests: `TestA`.\n**R3 C.** Tests: `TestA`.\n**R4 D.** Tests: `TestA`.\n", good,
			[]string{"R1 is defined twice"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(root, "q", "a_test.go"), []byte(tc.code), 0o644); err != nil {
				t.Fatal(err)
			}
			reqs, problems := parseRequirements(tc.spec)
			code, err := scanGo(root)
			if err != nil {
				t.Fatal(err)
			}
			problems = append(problems, check(root, reqs, code)...)
			if len(problems) != len(tc.want) {
				t.Fatalf("got %d problems %q, want %d like %q", len(problems), problems, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(problems[i], w) {
					t.Errorf("problem %q does not contain %q", problems[i], w)
				}
			}
		})
	}
}

// outside matches references to the notes and test suite this project was
// started from, which live outside the repository. (Built from pieces so
// that this file does not match itself.)
var outside = regexp.MustCompile(`shared` + `/(seed|notes)\b|test_capture_queue` + `\.py|reference-format` + `\.md`)

// mayPointOutside is a fast filter before the pattern: the literal parts
// every match of outside contains (the regexp engine scans each byte of
// each file otherwise, which is slow under the race detector).
func mayPointOutside(data []byte) bool {
	for _, lit := range []string{"shared" + "/", "test_capture_queue", "reference-format"} {
		if bytes.Contains(data, []byte(lit)) {
			return true
		}
	}
	return false
}

// Spec R59: the repository stands alone: no file points to material
// outside it; spec/REFERENCE.md records what the spec needs of the
// reference.
func TestSelfContained(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(filepath.Join("..", "spec", "REFERENCE.md")); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			// .git, and the local outputs .gitignore lists (fuzz caches
			// and corpora, benchmark results): not the repository.
			switch d.Name() {
			case ".git", ".fuzzcache", ".fuzzcorpus", ".fuzzrun", "bench-out":
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		// One pass of the pattern over the file, and line numbers only
		// for matches, instead of the pattern over every line.
		if !mayPointOutside(data) {
			return nil
		}
		for _, m := range outside.FindAllIndex(data, -1) {
			line := 1 + bytes.Count(data[:m[0]], []byte("\n"))
			t.Errorf("%s:%d points outside the repository (%q): cite spec/REFERENCE.md instead", filepath.ToSlash(path), line, data[m[0]:m[1]])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if probe := "see " + "shared/" + "seed/x"; !outside.MatchString(probe) || !mayPointOutside([]byte(probe)) {
		t.Fatal("the pattern does not match what it must catch")
	}
}
