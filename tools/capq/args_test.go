package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// Every subcommand whose synopsis has no arguments refuses one with a usage
// error (exit 2) before it touches the queue directory: run checks it once
// for all of them, so a subcommand cannot forget it.
func TestNoArgumentsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir() + "/never-created"
	for _, c := range commands() {
		if c.args != "" {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"--dir", dir, c.name, "stray"}, strings.NewReader(""), &stdout, &stderr)
			if code != exitUsage {
				t.Fatalf("capq %s stray: exit %d, want %d; stderr %q", c.name, code, exitUsage, stderr.String())
			}
			if want := "capq " + c.name + ": usage: " + c.name + " takes no arguments"; !strings.Contains(stderr.String(), want) {
				t.Fatalf("stderr %q lacks %q", stderr.String(), want)
			}
		})
	}
}

// Every subcommand's usage states --dir's rule, never the value given on
// the command line as if it were the default.
func TestUsageShowsNoGivenDirAsDefault(t *testing.T) {
	t.Parallel()
	dir := t.TempDir() + "/given-dir"
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for _, args := range [][]string{
				{"--dir", dir, c.name, "--help"},
				{c.name, "--dir", dir, "--help"},
			} {
				var stdout, stderr bytes.Buffer
				if code := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr); code != 0 {
					t.Fatalf("capq %v: exit %d, stderr %q", args, code, stderr.String())
				}
				if strings.Contains(stdout.String(), dir) {
					t.Errorf("capq %v: the usage names the given --dir: %q", args, stdout.String())
				}
				if !strings.Contains(stdout.String(), "$CAPQ_DIR") {
					t.Errorf("capq %v: the usage lacks --dir's rule: %q", args, stdout.String())
				}
			}
		})
	}
}
