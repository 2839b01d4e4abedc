package main

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The persistent corpus (-corpus DIR) keeps what the campaigns found
// between runs, in go test's own cache layout:
//
//	DIR/<import path>/<Target>/<hash>   one input each, go test's file format
//	DIR/crashers/<signature>/           one distinct failure each (crash.go)
//
// A run never fuzzes in DIR itself. Before a target runs, its entries are
// copied into a fresh cache directory under -out, which go test gets as
// -test.fuzzcachedir, so the run starts from everything earlier runs found;
// after the run, the entries go test added there are merged back. Merging
// rather than fuzzing in place means that a run killed half way, or a
// corpus restored from a CI cache that another job is also saving, never
// leaves DIR half written: DIR changes only by whole new files.

// corpusStats is what a merge did, for the summary.
type corpusStats struct {
	In       int // entries copied into the run's cache before it ran
	Added    int // new entries the run found and the merge kept
	Dropped  int // entries over the -corpus-max budget, largest first
	Size     int // entries in the corpus after the merge
	Rejected int // files removed from the corpus: not entries, or not this target's
}

// maxEntrySize bounds one corpus entry. go test's own inputs are far
// smaller (its mutator stays under 1 MB of data, escaped here as Go
// literals); a bigger file is not an input go test wrote, and copying it
// into every run would cost every run.
const maxEntrySize = 4 << 20

// tmpPrefix starts the name of a file being written into the corpus
// (merge writes a temporary file, then renames it): such a file left by
// an interrupted merge is removed, never adopted.
const tmpPrefix = ".tmp-"

// entryTypes returns the types of the values of a corpus entry, e.g.
// "string,int", or an error when b is not a go test fuzz v1 entry: the
// header line, then one Go call expression per value such as
// string("a"), []byte("\x00"), int(-5) or math.Float64frombits(0x1),
// with a literal argument.
func entryTypes(b []byte) (string, error) {
	if len(b) > maxEntrySize {
		return "", fmt.Errorf("%d bytes, over the %d-byte bound of an entry", len(b), maxEntrySize)
	}
	rest, ok := bytes.CutPrefix(b, []byte(corpusHeader))
	if !ok {
		return "", fmt.Errorf("no %q header", strings.TrimSpace(corpusHeader))
	}
	var types []string
	for line := range strings.Lines(string(rest)) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		e, err := parser.ParseExpr(line)
		call, ok := e.(*ast.CallExpr)
		if err != nil || !ok || len(call.Args) != 1 {
			return "", fmt.Errorf("not a value: %.40q", line)
		}
		arg := call.Args[0]
		if u, ok := arg.(*ast.UnaryExpr); ok && (u.Op == token.SUB || u.Op == token.ADD) {
			arg = u.X
		}
		if _, ok := arg.(*ast.BasicLit); !ok {
			if id, ok := arg.(*ast.Ident); !ok || (id.Name != "true" && id.Name != "false") {
				return "", fmt.Errorf("not a literal value: %.40q", line)
			}
		}
		var typ string
		switch f := call.Fun.(type) {
		case *ast.Ident:
			typ = f.Name
		case *ast.ArrayType:
			if id, ok := f.Elt.(*ast.Ident); ok && f.Len == nil && id.Name == "byte" {
				typ = "[]byte"
			}
		case *ast.SelectorExpr:
			if x, ok := f.X.(*ast.Ident); ok && x.Name == "math" {
				typ = map[string]string{"Float64frombits": "float64", "Float32frombits": "float32"}[f.Sel.Name]
			}
		}
		switch typ {
		case "string", "[]byte", "bool", "byte", "rune", "int", "int8", "int16", "int32", "int64",
			"uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		default:
			return "", fmt.Errorf("not a fuzzable type: %.40q", line)
		}
		types = append(types, typ)
	}
	if len(types) == 0 {
		return "", errors.New("no values")
	}
	return strings.Join(types, ","), nil
}

// targetTypes returns the value types of a target's entries as the
// entries go test wrote or accepted show them (committed seeds, or what a
// run found), or "" when none says.
func targetTypes(sets ...map[string][]byte) string {
	for _, set := range sets {
		for _, b := range set {
			if t, err := entryTypes(b); err == nil {
				return t
			}
		}
	}
	return ""
}

// fits reports whether b is an entry of a target whose values have types
// want ("" when unknown: any well-formed entry fits).
func fits(b []byte, want string) bool {
	t, err := entryTypes(b)
	return err == nil && (want == "" || t == want)
}

// entryName is the name of a corpus entry: the first 16 hex digits of the
// SHA-256 of its contents, as go test names the entries it writes. Equal
// contents under other names (renamed by hand, or written by another Go
// version) are still one entry: merge compares hashes of the contents,
// never names.
func entryName(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

// readEntries returns the contents of the regular files in dir, by content
// hash; a missing dir is an empty corpus.
func readEntries(dir string) (map[string][]byte, error) {
	des, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string][]byte{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(des))
	for _, de := range des {
		if !de.Type().IsRegular() || strings.HasPrefix(de.Name(), ".") {
			// Dot files are merge leftovers (tmpPrefix) or not ours.
			continue
		}
		if fi, err := de.Info(); err == nil && fi.Size() > maxEntrySize {
			continue // not read: it cannot be an entry
		}
		b, err := os.ReadFile(filepath.Join(dir, de.Name()))
		if err != nil {
			return nil, err
		}
		out[entryName(b)] = b
	}
	return out, nil
}

// restoreCorpus makes runDir a fresh copy of the corpus in corpusDir, and
// returns how many entries it holds. Only entries that parse, of the
// target's types as its committed seeds in seedDir show them (when there
// are any), and that are not seeds themselves are copied: junk would make
// go test fail or run it for nothing.
func restoreCorpus(corpusDir, runDir, seedDir string) (int, error) {
	if err := os.RemoveAll(runDir); err != nil {
		return 0, err
	}
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return 0, err
	}
	entries, err := readEntries(corpusDir)
	if err != nil {
		return 0, err
	}
	seeds, err := readEntries(seedDir)
	if err != nil {
		return 0, err
	}
	want := targetTypes(seeds)
	n := 0
	for name, b := range entries {
		if _, seed := seeds[name]; seed || !fits(b, want) {
			continue
		}
		if err := os.WriteFile(filepath.Join(runDir, name), b, 0o644); err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}

// mergeCorpus adds the entries of runDir that are new to corpusDir: not
// already there by content, and not one of the committed seeds in
// seedDir (those run on every go test anyway). Then, if the corpus holds
// more than max entries (max > 0), it drops the largest until it fits:
// go test runs every entry once at the start of each run to gather its
// baseline coverage, so an unbounded corpus slows every run, and among
// inputs of equal value the small ones run faster and minimise better.
// Each entry was already minimised by go test when it was found (within
// -minimizetime), so the merge does not minimise inputs itself.
//
// Files are written whole (temporary name, then rename) without fsync:
// the corpus is a cache that a crash may lose, never a record of truth,
// but a reader must never see a torn entry that go test would reject.
func mergeCorpus(runDir, corpusDir, seedDir string, max int) (corpusStats, error) {
	var st corpusStats
	have, err := readEntries(corpusDir)
	if err != nil {
		return st, err
	}
	found, err := readEntries(runDir)
	if err != nil {
		return st, err
	}
	seeds, err := readEntries(seedDir)
	if err != nil {
		return st, err
	}
	if err := os.MkdirAll(corpusDir, 0o755); err != nil {
		return st, err
	}
	// The target's value types, from what go test accepted: its seeds,
	// else the entries it wrote in this run (those not restored).
	fresh := map[string][]byte{}
	for name, b := range found {
		if _, ok := have[name]; !ok {
			fresh[name] = b
		}
	}
	want := targetTypes(seeds, fresh)
	for name, b := range found {
		if _, ok := have[name]; ok {
			continue
		}
		if _, ok := seeds[name]; ok || !fits(b, want) {
			continue
		}
		tmp := filepath.Join(corpusDir, tmpPrefix+name)
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			return st, err
		}
		if err := os.Rename(tmp, filepath.Join(corpusDir, name)); err != nil {
			return st, err
		}
		have[name] = b
		st.Added++
	}
	// Then the files on disk: leftovers of an interrupted merge, files
	// that are not entries of this target (junk, another target's types,
	// oversized) and copies of committed seeds are removed, so that they
	// can never count against -corpus-max and push real inputs out;
	// entries under another name than their hash (copied in by hand) are
	// renamed, so that equal contents can never be two files.
	des, err := os.ReadDir(corpusDir)
	if err != nil {
		return st, err
	}
	for _, de := range des {
		p := filepath.Join(corpusDir, de.Name())
		if strings.HasPrefix(de.Name(), tmpPrefix) {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return st, err
			}
			continue
		}
		if !de.Type().IsRegular() || strings.HasPrefix(de.Name(), ".") {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			return st, err
		}
		var b []byte
		if fi.Size() <= maxEntrySize {
			if b, err = os.ReadFile(p); err != nil {
				return st, err
			}
		}
		n := entryName(b)
		_, seed := seeds[n]
		if fi.Size() > maxEntrySize || seed || !fits(b, want) {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return st, err
			}
			delete(have, n)
			if !seed {
				st.Rejected++
			}
			continue
		}
		if n != de.Name() {
			if err := os.Rename(p, filepath.Join(corpusDir, n)); err != nil {
				return st, err
			}
		}
	}
	if max > 0 && len(have) > max {
		names := make([]string, 0, len(have))
		for n := range have {
			names = append(names, n)
		}
		slices.SortFunc(names, func(a, b string) int {
			return cmp.Or(cmp.Compare(len(have[a]), len(have[b])), cmp.Compare(a, b))
		})
		for _, n := range names[max:] {
			if err := os.Remove(filepath.Join(corpusDir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return st, err
			}
			delete(have, n)
			st.Dropped++
		}
	}
	st.Size = len(have)
	return st, nil
}
