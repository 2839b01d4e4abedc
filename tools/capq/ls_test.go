//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/capq/capq/internal/layout"
)

// Spec R26, R45: `capq ls` says delivering only for a lock somebody holds,
// judged as verify and stats judge it; a lock name holding something that
// is not a usable lock file (a FIFO, a directory, a symlink, a file with a
// second hard link), which nobody holds, is blocked.
func TestLsLockStates(t *testing.T) {
	cases := []struct {
		name  string
		plant func(t *testing.T, lock string)
		want  string
	}{
		{"no lock", func(*testing.T, string) {}, "pending"},
		{"fifo", func(t *testing.T, p string) { must(t, syscall.Mkfifo(p, 0o600)) }, "blocked"},
		{"directory", func(t *testing.T, p string) { must(t, os.Mkdir(p, 0o700)) }, "blocked"},
		{"symlink", func(t *testing.T, p string) { must(t, os.Symlink(t.TempDir(), p)) }, "blocked"},
		{"foreign hard link", func(t *testing.T, p string) {
			other := filepath.Join(t.TempDir(), "other")
			must(t, os.WriteFile(other, nil, 0o600))
			must(t, os.Link(other, p))
		}, "blocked"},
		{"free lock file", func(t *testing.T, p string) { must(t, os.WriteFile(p, nil, 0o600)) }, "in_doubt"},
		{"held lock file", func(t *testing.T, p string) {
			must(t, os.WriteFile(p, nil, 0o600))
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			must(t, err)
			t.Cleanup(func() { f.Close() })
			must(t, syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB))
		}, "delivering"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, ids := newQueue(t, `{"a":1}`)
			tc.plant(t, filepath.Join(dir, layout.LockName(ids[0].String())))
			code, out, errOut := capqRun(t, "--dir", dir, "ls")
			fields := strings.Split(strings.TrimSuffix(out, "\n"), "\t")
			if code != 0 || len(fields) != 4 || fields[3] != tc.want {
				t.Fatalf("ls: exit %d, %q (stderr %q); want state %s", code, out, errOut, tc.want)
			}
		})
	}
}
