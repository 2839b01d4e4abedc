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
// safeName is a seed name that needs no quoting in a shell or escaping in
// a go test -run pattern's subtest part.
var safeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// shellQuote quotes s for a POSIX shell, when it needs it.
func shellQuote(s string) string {
	if s != "" && regexp.MustCompile(`^[A-Za-z0-9_./=:,+@%-]+$`).MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

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
	if _, err := entryTypes(data); err != nil {
		return exitUsage, fmt.Errorf("%s is not a go test fuzz input: %v", file, err)
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
	// The target must exist in a package of this module: a seed for a
	// target that does not exist is never run, and one written outside
	// the module guards nothing here.
	cfg := config{targets: regexp.MustCompile("^" + regexp.QuoteMeta(target) + "$")}
	if *pkg != "" {
		cfg.pkgs = []string{*pkg}
	} else {
		for p := range strings.SplitSeq(*pkgs, ",") {
			if p = strings.TrimSpace(p); p != "" {
				cfg.pkgs = append(cfg.pkgs, p)
			}
		}
	}
	for _, p := range cfg.pkgs {
		if rel, err := filepath.Rel(root, absUnder(root, p)); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return exitUsage, fmt.Errorf("package %s is outside the module at %s", p, root)
		}
	}
	found, _, broken := discover(ctx, root, cfg)
	var dir string
	switch {
	case len(found) == 1:
		dir = found[0].Dir
	case len(found) > 1:
		return exitUsage, fmt.Errorf("several packages have a target %s: give -pkg", target)
	case len(broken) > 0:
		return exitUsage, fmt.Errorf("cannot list the targets of %s: %s", broken[0].Package, strings.Join(broken[0].Message, "\n"))
	case *pkg != "":
		return exitUsage, fmt.Errorf("package %s has no fuzz target %s", *pkg, target)
	default:
		return exitUsage, fmt.Errorf("no package of -pkgs %s has a target %s: give -pkg", *pkgs, target)
	}
	// The seed's name ends up in a go test -run pattern and in the
	// commands printed below: a name that is not plain (spaces, shell
	// characters) is replaced by the hash of the contents, as go test
	// names the inputs it writes.
	name := filepath.Base(absFile)
	if !safeName.MatchString(name) {
		name = entryName(data)
		fmt.Fprintf(stdout, "the name %q is not plain: the seed is named %s, the hash of its contents\n", filepath.Base(absFile), name)
	}
	dst := filepath.Join(dir, "testdata", "fuzz", target, name)
	rel, _ := filepath.Rel(root, dst)
	wrote := false
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
		wrote = true
		fmt.Fprintf(stdout, "wrote %s\n", rel)
	}
	// refuse takes back a seed this call wrote, when go test shows it is
	// not one the package can run.
	refuse := func(err error) (int, error) {
		if wrote {
			os.Remove(dst)
			fmt.Fprintf(stdout, "removed %s again\n", rel)
		}
		return exitUsage, err
	}

	// Run the seed alone, as every go test of the package will from now on.
	pkgRel, _ := filepath.Rel(root, dir)
	pkgArg := "./" + filepath.ToSlash(pkgRel) + "/"
	run := fmt.Sprintf("-run=^%s$/^%s$", target, regexp.QuoteMeta(name))
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-v", run, pkgArg)
	cmd.Dir = root
	outb, err := cmd.CombinedOutput()
	testCmd := "go test -count=1 " + shellQuote(run) + " " + shellQuote(pkgArg)
	var ee *exec.ExitError
	switch {
	case err == nil && !bytes.Contains(outb, []byte("--- PASS: "+target+"/"+name+" ")):
		// Exit 0 without the seed having run ([no tests to run]).
		return refuse(fmt.Errorf("go test did not run the seed (%s):\n%s", testCmd, outb))
	case err == nil:
		fmt.Fprintf(stdout, "it passes today (%s): the seed guards against the bug coming back\n", testCmd)
	case errors.As(err, &ee) && bytes.Contains(outb, []byte("--- FAIL: "+target+"/"+name+" ")):
		// The seed itself failed: the expected outcome until the fix.
		fmt.Fprintf(stdout, "it fails today, as expected until the bug is fixed (%s):\n", testCmd)
		lines := strings.Split(strings.TrimRight(string(outb), "\n"), "\n")
		for _, l := range lines[:min(12, len(lines))] {
			fmt.Fprintf(stdout, "    %s\n", l)
		}
	case errors.As(err, &ee):
		// Not the seed's failure: the package does not build or set up,
		// or go test rejects the entry (mismatched types, malformed).
		return refuse(fmt.Errorf("go test could not run the seed, it did not fail by itself (%s):\n%s", testCmd, outb))
	default:
		return refuse(fmt.Errorf("go test: %w", err))
	}
	if !*commit {
		fmt.Fprintf(stdout, "commit it with: git add %s && git commit -m %s\n", shellQuote(rel),
			shellQuote(fmt.Sprintf("%s: regression seed %s/%s", filepath.Base(dir), target, name)))
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
