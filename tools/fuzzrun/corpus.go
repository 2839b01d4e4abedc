package main

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
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
	In      int // entries copied into the run's cache before it ran
	Added   int // new entries the run found and the merge kept
	Dropped int // entries over the -corpus-max budget, largest first
	Size    int // entries in the corpus after the merge
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
		if !de.Type().IsRegular() {
			continue
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
// returns how many entries it holds.
func restoreCorpus(corpusDir, runDir string) (int, error) {
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
	for name, b := range entries {
		if err := os.WriteFile(filepath.Join(runDir, name), b, 0o644); err != nil {
			return 0, err
		}
	}
	return len(entries), nil
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
	for name, b := range found {
		if _, ok := have[name]; ok {
			continue
		}
		if _, ok := seeds[name]; ok {
			continue
		}
		tmp := filepath.Join(corpusDir, ".tmp-"+name)
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			return st, err
		}
		if err := os.Rename(tmp, filepath.Join(corpusDir, name)); err != nil {
			return st, err
		}
		have[name] = b
		st.Added++
	}
	// Entries on disk under another name than their hash (copied in by
	// hand) are renamed, so that equal contents can never be two files.
	des, err := os.ReadDir(corpusDir)
	if err != nil {
		return st, err
	}
	for _, de := range des {
		if !de.Type().IsRegular() {
			continue
		}
		p := filepath.Join(corpusDir, de.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			return st, err
		}
		if n := entryName(b); n != de.Name() {
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
