package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// corpusHeader starts every file of go test's fuzz corpus format.
const corpusHeader = "go test fuzz v1\n"

// promote is `fuzzrun promote [flags] FILE`: it turns a failing input (from
// -out/crashers/<Target>/, a CI artifact of it, or the crash store of a
// -corpus directory) into a regression seed, the file
// <package>/testdata/fuzz/<Target>/<name> that every plain `go test` of the
// package runs from then on, and runs it once to show whether it fails
// today. With -commit it also commits that one file.
func promote(ctx context.Context, args []string, stdout io.Writer) (int, error) {
	fs := flag.NewFlagSet("fuzzrun promote", flag.ContinueOnError)
	pkg := fs.String("pkg", "", "package `DIR` of the target, relative to the module root (default: found in -pkgs)")
	tgt := fs.String("target", "", "fuzz `TARGET` (default: the name of FILE's directory)")
	pkgs := fs.String("pkgs", "./fuzz/,./model/", "comma-separated packages to look for the target in")
	commit := fs.Bool("commit", false, "git commit the new seed file (and nothing else)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: go run ./tools/fuzzrun promote [-pkg DIR] [-target FuzzX] [-commit] FILE")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage, err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage, errors.New("want exactly one FILE")
	}
	file := fs.Arg(0)
	data, err := os.ReadFile(file)
	if err != nil {
		return exitUsage, err
	}
	if !bytes.HasPrefix(data, []byte(corpusHeader)) {
		return exitUsage, fmt.Errorf("%s is not a go test fuzz input (it does not start with %q)", file, strings.TrimSpace(corpusHeader))
	}
	absFile, err := filepath.Abs(file)
	if err != nil {
		return exitUsage, err
	}
	target := *tgt
	if target == "" {
		target = filepath.Base(filepath.Dir(absFile))
	}
	if !regexp.MustCompile(`^Fuzz[A-Za-z0-9_]*$`).MatchString(target) {
		return exitUsage, fmt.Errorf("cannot tell the target from %s: give -target", file)
	}
	root, err := moduleRoot()
	if err != nil {
		return exitUsage, err
	}
	dir := ""
	if *pkg != "" {
		dir = absUnder(root, *pkg)
	} else {
		cfg := config{targets: regexp.MustCompile("^" + regexp.QuoteMeta(target) + "$")}
		for p := range strings.SplitSeq(*pkgs, ",") {
			if p = strings.TrimSpace(p); p != "" {
				cfg.pkgs = append(cfg.pkgs, p)
			}
		}
		found, _, _ := discover(ctx, root, cfg)
		switch len(found) {
		case 0:
			return exitUsage, fmt.Errorf("no package of -pkgs %s has a target %s: give -pkg", *pkgs, target)
		case 1:
			dir = found[0].Dir
		default:
			return exitUsage, fmt.Errorf("several packages have a target %s: give -pkg", target)
		}
	}
	name := filepath.Base(absFile)
	dst := filepath.Join(dir, "testdata", "fuzz", target, name)
	rel, _ := filepath.Rel(root, dst)
	switch old, err := os.ReadFile(dst); {
	case err == nil && bytes.Equal(old, data):
		fmt.Fprintf(stdout, "%s is already there\n", rel)
	case err == nil:
		return exitUsage, fmt.Errorf("%s exists with other contents: not overwritten", rel)
	case !errors.Is(err, os.ErrNotExist):
		return exitUsage, err
	default:
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return exitUsage, err
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return exitUsage, err
		}
		fmt.Fprintf(stdout, "wrote %s\n", rel)
	}

	// Run the seed alone, as every go test of the package will from now on.
	pkgRel, _ := filepath.Rel(root, dir)
	pkgArg := "./" + filepath.ToSlash(pkgRel) + "/"
	run := fmt.Sprintf("-run=^%s$/^%s$", target, regexp.QuoteMeta(name))
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", run, pkgArg)
	cmd.Dir = root
	outb, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		fmt.Fprintf(stdout, "it passes today (go test '%s' %s): the seed guards against the bug coming back\n", run, pkgArg)
	case errors.As(err, &ee):
		fmt.Fprintf(stdout, "it fails today, as expected until the bug is fixed (go test '%s' %s):\n", run, pkgArg)
		lines := strings.Split(strings.TrimRight(string(outb), "\n"), "\n")
		for _, l := range lines[:min(12, len(lines))] {
			fmt.Fprintf(stdout, "    %s\n", l)
		}
	default:
		return exitUsage, fmt.Errorf("go test: %w", err)
	}
	if !*commit {
		fmt.Fprintf(stdout, "commit it with: git add %s && git commit -m '%s: regression seed %s/%s'\n", rel, filepath.Base(dir), target, name)
		return exitOK, nil
	}
	msg := fmt.Sprintf("%s: regression seed %s/%s (fuzzrun promote)", filepath.Base(dir), target, name)
	for _, g := range [][]string{{"add", "--", rel}, {"commit", "-q", "-m", msg, "--", rel}} {
		c := exec.CommandContext(ctx, "git", g...)
		c.Dir = root
		if b, err := c.CombinedOutput(); err != nil {
			return exitUsage, fmt.Errorf("git %s: %v\n%s", g[0], err, b)
		}
	}
	fmt.Fprintf(stdout, "committed %s\n", rel)
	return exitOK, nil
}
