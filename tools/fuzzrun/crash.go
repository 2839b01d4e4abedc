package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Failure is one distinct failure of a campaign: the failing runs whose
// signatures are equal, so one bug reached from several targets, or found
// again night after night, is reported once.
type Failure struct {
	// Signature is a short hash of Key: stable across runs and machines.
	Signature string `json:"signature"`
	// Title is the panic or the first line of the report, numbers masked.
	Title string `json:"title"`
	// Key is what was hashed: the title and the normalised frames (or,
	// for a failure without a stack, the file:line of each reported line).
	Key []string `json:"key"`
	// Targets are the targets (package.Target) that failed this way.
	Targets []string `json:"targets"`
	// Inputs are the failing inputs kept under -out/crashers/.
	Inputs []string `json:"inputs,omitempty"`
	// Reproduce replays the first failing input.
	Reproduce string `json:"reproduce,omitempty"`
	// Known says the signature was recorded in the -corpus directory by
	// an earlier run: not a new bug.
	Known bool `json:"known,omitempty"`
}

var (
	// goroutineRE matches the header of a goroutine's stack.
	goroutineRE = regexp.MustCompile(`^goroutine \d+ \[.*\]:$`)
	// frameLocRE matches a frame's location line: "/path/file.go:12 +0x1d".
	frameLocRE = regexp.MustCompile(`^(\S+\.go):(\d+)(?: \+0x[0-9a-f]+)?$`)
	// logLocRE matches the file:line prefix of a t.Error or t.Fatal line.
	logLocRE = regexp.MustCompile(`^([\w.-]+\.go):(\d+): `)
	// digitsRE masks numbers (indexes, lengths, values of the input) in a
	// title, so the same bug with another input has the same signature.
	digitsRE = regexp.MustCompile(`(0x[0-9a-fA-F]+|\d+)`)
)

// signature computes the key of a failure from the report lines of a
// failing run (outcome.report, trimmed lines after "--- FAIL"):
//
//   - a panic: its message with numbers masked, then the frames of the
//     panicking goroutine as "function file.go:line" (no addresses, no
//     arguments, no directories), leaving out the runtime, testing and
//     reflect frames and everything from the fuzz target's own function
//     down, so the same bug reached from two targets has one signature;
//     if the panic is in the target's function itself, that frame stays.
//   - any other failure (t.Error, t.Fatal): the package (pkg, its import
//     path) and the file:line of each reported line, not their text,
//     since a message usually quotes the input. Not the target: two
//     targets calling one helper that reports at one line are one bug.
func signature(pkg string, report []string) (key []string, title string) {
	pi := slices.IndexFunc(report, func(l string) bool { return strings.Contains(l, "panic: ") })
	if pi < 0 {
		key = []string{pkg}
		for _, l := range report {
			if m := logLocRE.FindStringSubmatch(l); m != nil {
				if title == "" {
					title = digitsRE.ReplaceAllString(strings.TrimPrefix(l, m[0]), "N")
				}
				key = append(key, m[1]+":"+m[2])
			}
		}
		if title == "" && len(report) > 0 {
			title = digitsRE.ReplaceAllString(report[0], "N")
		}
		return key, title
	}
	p := report[pi]
	p = p[strings.Index(p, "panic: "):]
	// A plain go test reports a recovered panic with this suffix, a fuzzing
	// run without: the same bug either way.
	p = strings.TrimSuffix(strings.TrimSuffix(p, " [recovered, repanicked]"), " [recovered]")
	title = digitsRE.ReplaceAllString(p, "N")
	key = append(key, title)
	var frames []string
	var targetFrame string
	for i := pi + 1; i+1 < len(report); i++ {
		fn, loc := report[i], report[i+1]
		if goroutineRE.MatchString(fn) {
			continue
		}
		m := frameLocRE.FindStringSubmatch(loc)
		if m == nil {
			continue
		}
		i++ // the location line is consumed with its function line
		if strings.HasPrefix(fn, "created by ") {
			break
		}
		fn = funcName(fn)
		f := fn + " " + path.Base(filepath.ToSlash(m[1])) + ":" + m[2]
		if skipFrame(fn) {
			continue
		}
		if isFuzzFunc(fn) {
			targetFrame = f
			break
		}
		frames = append(frames, f)
	}
	if len(frames) == 0 && targetFrame != "" {
		frames = append(frames, targetFrame)
	}
	return append(key, frames...), title
}

// funcName strips the argument list of a stack frame's function line:
// "example.com/m.F(0x1?, {0xc0, 0x4})" becomes "example.com/m.F".
func funcName(line string) string {
	if i := strings.LastIndex(line, "("); i > 0 && strings.HasSuffix(line, ")") {
		// A method on a pointer, "pkg.(*T).M(...)", has its own parenthesis
		// before the argument list: cut at the last one only.
		return line[:i]
	}
	return line
}

// fuzzFuncRE matches the function of a fuzz target or a closure in it:
// "example.com/m/pkg.FuzzX" or "example.com/m/pkg.FuzzX.func1".
var fuzzFuncRE = regexp.MustCompile(`\.Fuzz[A-Za-z0-9_]*(?:\.func\d+(?:\.\d+)*)?$`)

func isFuzzFunc(fn string) bool { return fuzzFuncRE.MatchString(fn) }

// skipFrame reports frames that say nothing about where the bug is: the
// panic machinery, the testing package and reflection.
func skipFrame(fn string) bool {
	for _, p := range []string{"runtime.", "runtime/debug.", "testing.", "reflect.", "panic"} {
		if strings.HasPrefix(fn, p) {
			return true
		}
	}
	return false
}

// signatureHash is the short, stable name of a key.
func signatureHash(key []string) string {
	h := sha256.Sum256([]byte(strings.Join(key, "\n")))
	return hex.EncodeToString(h[:6])
}

// dedupFailures groups the failed results by signature, in the order the
// failures were found. known says whether a signature was recorded by an
// earlier run.
func dedupFailures(results []Result, known func(sig string) bool) []Failure {
	var out []Failure
	idx := map[string]int{}
	for _, r := range results {
		if r.Signature == "" {
			continue
		}
		name := path.Base(r.Package) + "." + r.Target
		i, ok := idx[r.Signature]
		if !ok {
			i = len(out)
			idx[r.Signature] = i
			out = append(out, Failure{Signature: r.Signature, Title: r.Title, Key: r.key, Reproduce: r.Reproduce,
				Known: known != nil && known(r.Signature)})
		}
		f := &out[i]
		if !slices.Contains(f.Targets, name) {
			f.Targets = append(f.Targets, name)
		}
		if r.Crasher != "" {
			f.Inputs = append(f.Inputs, r.Crasher)
		}
	}
	return out
}

// keepCrasher copies a failing input that go test wrote into the
// package's testdata into dir/<Target>/, so that it survives the checkout
// (a CI job uploads dir as an artifact) and `fuzzrun promote` can put it
// back as a regression seed. It returns the copy's path.
func keepCrasher(dir, target, input string) (string, error) {
	b, err := os.ReadFile(input)
	if err != nil {
		return "", err
	}
	dst := filepath.Join(dir, target, filepath.Base(input))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	return dst, os.WriteFile(dst, b, 0o644)
}

// recordFailure writes what is known of a failure into the persistent
// crash store dir/<signature>/ (a report and the failing inputs), so that
// the next campaign restoring the same -corpus directory recognises it.
// It reports whether the signature was already there.
func recordFailure(dir string, f Failure) (known bool, err error) {
	d := filepath.Join(dir, f.Signature)
	if _, err := os.Stat(d); err == nil {
		known = true
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		return known, err
	}
	text := f.Title + "\n\n" + strings.Join(f.Key, "\n") + "\n\ntargets: " + strings.Join(f.Targets, " ") +
		"\nreproduce: " + f.Reproduce + "\n"
	if err := os.WriteFile(filepath.Join(d, "report.txt"), []byte(text), 0o644); err != nil {
		return known, err
	}
	for _, in := range f.Inputs {
		b, err := os.ReadFile(in)
		if err != nil {
			return known, err
		}
		// Inputs are kept as <Target>/<name>, the layout promote reads.
		dst := filepath.Join(d, filepath.Base(filepath.Dir(in)), filepath.Base(in))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return known, err
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return known, err
		}
	}
	return known, nil
}
