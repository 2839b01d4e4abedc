//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/capq/capq/internal/layout"
)

// Spec R45, R25, R26: through the real binary, `capq ls`, `stats`,
// `verify` and `recover` agree on a lock file with two links (its name and
// its portable creation's temporary name) exactly as on the same lock
// with one link: in doubt when nobody holds it (a note, exit 0),
// delivering while a consumer holds it; never a hard link.
func TestCLILockTwoLinkState(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		tmp, held bool
		state     string // capq ls's state
		inDoubt   string // capq stats's in_doubt line
	}{
		{"crash, control", false, false, "in_doubt", "in_doubt\t1"},
		{"crash, two links", true, false, "in_doubt", "in_doubt\t1"},
		{"held, control", false, true, "delivering", "in_doubt\t0"},
		{"held, two links", true, true, "delivering", "in_doubt\t0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir, ids := newQueue(t, `{"a":1}`)
			id := ids[0].String()
			lock := filepath.Join(dir, layout.LockName(id))
			must(t, os.WriteFile(lock, nil, 0o600))
			tmp := filepath.Join(dir, "."+layout.LockName(id)+".0123456789abcdef.locktmp")
			if tc.tmp {
				must(t, os.Link(lock, tmp))
			}
			if tc.held {
				f, err := os.Open(lock)
				must(t, err)
				defer f.Close()
				must(t, unix.Flock(int(f.Fd()), unix.LOCK_EX))
			}
			capq := func(sub string) (int, string) {
				code, out, errOut := runCapqSh(t, "exec capq --dir '"+dir+"' "+sub)
				return code, out + errOut
			}
			if _, out := capq("ls"); !strings.HasSuffix(strings.TrimSpace(out), "\t"+tc.state) {
				t.Errorf("capq ls: %q, want state %s", out, tc.state)
			}
			if _, out := capq("stats"); !strings.Contains(out, tc.inDoubt+"\n") {
				t.Errorf("capq stats: %q, want %q", out, tc.inDoubt)
			}
			code, out := capq("verify")
			if code != 0 || strings.Contains(out, "violation") || strings.Contains(out, "hard_link") {
				t.Errorf("capq verify: exit %d, %q; want exit 0 and no violation", code, out)
			}
			if hasInDoubt := strings.Contains(out, "note\tin_doubt\t"+layout.LockName(id)); hasInDoubt != !tc.held {
				t.Errorf("capq verify: %q; want an in_doubt note: %v", out, !tc.held)
			}
			code, out = capq("recover")
			if hasInDoubt := strings.Contains(out, "in_doubt\t"+id); code != 0 || hasInDoubt != !tc.held {
				t.Errorf("capq recover: exit %d, %q; want it in doubt: %v", code, out, !tc.held)
			}
			if _, err := os.Lstat(lock); err != nil {
				t.Errorf("the lock is gone: %v", err)
			}
		})
	}
}

// Spec R45, R21, R23: `capq recover` removes an old lock-creation
// temporary file only at exactly the name capq gives it and only empty;
// names that resemble it, and the name holding bytes, are left and
// reported by `capq verify` as look-alikes (exit 1).
func TestCLILockTmpLookalikes(t *testing.T) {
	t.Parallel()
	dir, ids := newQueue(t, `{"a":1}`)
	id := ids[0].String()
	lock := layout.LockName(id)
	genuine := "." + lock + ".fedcba9876543210.locktmp"
	kept := map[string]string{
		"." + lock + "..locktmp":                                   "",
		"." + strings.ToLower(lock) + ".0123456789abcdef.locktmp":  "",
		".pending-XYZ.lock.0123456789abcdef.locktmp":               "",
		"." + layout.PendingName(id) + ".0123456789abcdef.locktmp": "",
		"." + lock + ".notes.locktmp":                              "",
		"." + lock + ".hello world.locktmp":                        "",
		"." + lock + ".0123456789abcdef.locktmp":                   "not empty\n",
	}
	old := time.Now().Add(-2 * time.Hour) // past the grace period
	for name, content := range kept {
		p := filepath.Join(dir, name)
		must(t, os.WriteFile(p, []byte(content), 0o600))
		must(t, os.Chtimes(p, old, old))
	}
	must(t, os.WriteFile(filepath.Join(dir, genuine), nil, 0o600))
	must(t, os.Chtimes(filepath.Join(dir, genuine), old, old))
	code, out, errOut := runCapqSh(t, "exec capq --dir '"+dir+"' recover")
	if code != 0 || out != "removed\t"+genuine+"\n" {
		t.Errorf("capq recover: exit %d, stdout %q, stderr %q; want only %s removed", code, out, errOut, genuine)
	}
	for name := range kept {
		if _, err := os.Lstat(filepath.Join(dir, name)); err != nil {
			t.Errorf("capq recover removed %q: %v", name, err)
		}
	}
	code, out, _ = runCapqSh(t, "exec capq --dir '"+dir+"' verify --json")
	if code != exitFail {
		t.Errorf("capq verify: exit %d, want %d", code, exitFail)
	}
	for name := range kept {
		if !strings.Contains(out, `"kind":"lookalike_name","name":"`+name+`"`) {
			t.Errorf("capq verify does not report %q as a look-alike:\n%s", name, out)
		}
	}
}
