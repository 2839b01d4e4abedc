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
