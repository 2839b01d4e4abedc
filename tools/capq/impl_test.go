//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// groupAlive reports whether a live (not zombie) process is in group pgid.
// Intentionally separate from verify/conform's groupGone (its negation):
// the two are test helpers of two packages, and a package that exported
// one for both would put /proc parsing into a non-test API.
func groupAlive(pgid int) bool {
	if errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH) {
		return false
	}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(b[i+1:]))
		// Z (zombie) and X (dead, being reaped): killed, not yet gone.
		if len(fields) > 2 && fields[2] == fmt.Sprint(pgid) && fields[0] != "Z" && fields[0] != "X" {
			return true
		}
	}
	return false
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	fmt.Sscan(string(b), &pid)
	if pid == 0 {
		t.Fatalf("no pid in %s", path)
	}
	return pid
}

// Spec R55: check --impl on a command that never answers exits within its
// timeout with status 1 and leaves no process behind; so does one whose
// check is interrupted (SIGINT and SIGTERM cancel the same context).
func TestImplNeverAnswers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	impl := fmt.Sprintf("echo $$ > %s; sleep 300 & sleep 300", pidFile)
	var stdout, stderr bytes.Buffer
	start := time.Now()
	code := run(t.Context(), []string{"check", "--impl", impl, "--timeout", "1s", "--out", filepath.Join(dir, "out")}, strings.NewReader(""), &stdout, &stderr)
	if code != exitFail {
		t.Errorf("exit %d, want %d\n%s", code, exitFail, stderr.String())
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("check took %s with --timeout 1s", d)
	}
	if !strings.Contains(stderr.String(), "no reply in time") {
		t.Errorf("stderr does not say the hello timed out:\n%s", stderr.String())
	}
	if pgid := readPID(t, pidFile); groupAlive(pgid) {
		t.Errorf("process group %d is still running after check returned", pgid)
	}

	// Interrupted while the implementation is answering slowly.
	os.Remove(pidFile)
	slow := fmt.Sprintf(`read l; echo '{"ok":true,"protocol":1,"name":"slow","features":[]}'; echo $$ > %s; sleep 300 & sleep 300`, pidFile)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"check", "--impl", slow, "--timeout", "60s", "--out", filepath.Join(dir, "out2")}, strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(pidFile); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("check did not return within 10s of its interruption")
	}
	if pgid := readPID(t, pidFile); groupAlive(pgid) {
		t.Errorf("process group %d is still running after the interrupted check returned", pgid)
	}
}
