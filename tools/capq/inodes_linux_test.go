package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// inodeQueue mounts a tmpfs with few inodes and returns a queue directory on
// it and a planted file on the same file system (root only: skips
// otherwise).
func inodeQueue(t *testing.T) (dir, planted string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	mnt := t.TempDir()
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=20m,nr_inodes=60,mode=0700"); err != nil {
		t.Skipf("cannot mount a tmpfs (%v)", err)
	}
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	planted = filepath.Join(mnt, "planted")
	if err := os.WriteFile(planted, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(mnt, "q")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir, planted
}

// inoRun runs capq in this process and returns its exit status and output.
func inoRun(dir, stdin string, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), append([]string{"--dir", dir}, args...), strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func lines(from, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "{\"i\":%d}\n", from+i)
	}
	return b.String()
}

// Spec R32: a queue filled only by `capq append` until the file system ran
// out of inodes, before any drain or prune ever ran, can still be drained
// and pruned: `capq append` opened the queue, and Open made the reserve.
func TestOutOfInodesFilledByCapqAppend(t *testing.T) {
	for _, op := range []string{"drain", "prune"} {
		t.Run(op, func(t *testing.T) {
			dir, _ := inodeQueue(t)
			inoRun(dir, lines(0, 40), "append")
			if code, _, errOut := inoRun(dir, lines(40, 30), "append"); code != exitFail || !strings.Contains(errOut, "no space left") {
				t.Fatalf("the second append: exit %d, stderr %q; want it out of inodes", code, errOut)
			}
			_, n, _ := inoRun(dir, "", "count")
			switch op {
			case "drain":
				code, out, errOut := inoRun(dir, "", "drain")
				if code != exitOK || strings.Count(out, "\n") != atoi(t, n) {
					t.Errorf("drain: exit %d, %d lines of %s; stderr %q", code, strings.Count(out, "\n"), n, errOut)
				}
			case "prune":
				if code, _, errOut := inoRun(dir, "", "prune", "--to", "10"); code != exitOK {
					t.Errorf("prune: exit %d; stderr %q", code, errOut)
				}
				if _, left, _ := inoRun(dir, "", "count"); strings.TrimSpace(left) != "10" {
					t.Errorf("prune --to 10 left %s of %s", strings.TrimSpace(left), strings.TrimSpace(n))
				}
			}
		})
	}
}

// Spec R32, R28: a queue the reference alone filled until the file system
// ran out of inodes has no reserve (the reference creates no spare files):
// capq's drain and prune leave every record in place, report them and exit
// 1, losing nothing; once one inode is free (here a file elsewhere on the
// file system is removed), the next drain delivers everything.
func TestOutOfInodesFilledByReference(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found")
	}
	dir, planted := inodeQueue(t)
	ref := exec.Command(py, filepath.Join("..", "..", "queue", "testdata", "refqueue.py"), "append", dir)
	ref.Stdin = strings.NewReader(lines(0, 70))
	err = ref.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("the reference filled the file system without an error: %v", err)
	}
	_, n, _ := inoRun(dir, "", "count")
	for _, args := range [][]string{{"drain"}, {"prune", "--to", "10"}} {
		code, _, errOut := inoRun(dir, "", args...)
		if code != exitFail || !strings.Contains(errOut, "no space left") {
			t.Errorf("capq %s with no inode and no reserve: exit %d, stderr %.200q; want exit 1 naming ENOSPC", args[0], code, errOut)
		}
		if _, m, _ := inoRun(dir, "", "count"); m != n {
			t.Errorf("capq %s changed the count from %s to %s", args[0], n, m)
		}
	}
	if err := os.Remove(planted); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := inoRun(dir, "", "drain")
	if code != exitOK || strings.Count(out, "\n") != atoi(t, n) {
		t.Errorf("drain after one inode was freed: exit %d, %d delivered of %s; stderr %.200q", code, strings.Count(out, "\n"), strings.TrimSpace(n), errOut)
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		t.Fatalf("not a count: %q", s)
	}
	return n
}
