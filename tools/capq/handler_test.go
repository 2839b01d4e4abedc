//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// capqCmd is the capq binary (the test binary, which testscript.Main put
// on $PATH as "capq") on the queue dir, with its output captured.
func capqCmd(t *testing.T, dir string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command("capq", append([]string{"--dir", dir}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	return cmd, &out, &errOut
}

// runCapq runs capq to the end and returns its exit status and output.
func runCapq(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	cmd, out, errOut := capqCmd(t, dir, args...)
	cmd.WaitDelay = time.Minute
	err := cmd.Run()
	code, ok := exitOf(err)
	if !ok {
		t.Fatalf("capq %v: %v", args, err)
	}
	return code, out.String(), errOut.String()
}

// exitOf is the exit status of a command that ended with err (from
// exec.Cmd's Run or Wait): 0 for nil. ok is false for an error that is no
// exit status (the command did not start, or its output was not copied).
func exitOf(err error) (code int, ok bool) {
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), true
	case err != nil:
		return 0, false
	}
	return 0, true
}

// appendOne appends one record and returns its ULID.
func appendOne(t *testing.T, dir, rec string) string {
	t.Helper()
	code, out, errOut := runCapq(t, dir, "append", "--record", rec)
	if code != 0 {
		t.Fatalf("append: exit %d: %s", code, errOut)
	}
	return strings.TrimSpace(out)
}

// waitPID waits until file holds a process id, and returns it.
func waitPID(t *testing.T, file string) int {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		b, err := os.ReadFile(file)
		if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && perr == nil && pid > 0 {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pid in %s", file)
		}
	}
}

// alive reports whether process pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) state ...: comm may hold spaces, the state follows the
	// last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// waitDead waits (generously: it synchronises, it does not time) until
// pid is gone, and reports whether it went.
func waitDead(pid int, limit time.Duration) bool {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if !alive(pid) {
			return true
		}
	}
	return false
}

// Spec R39: when capq dies mid-handler, the handler dies with it, and
// whatever the handler started that is still running keeps the record
// locked: no second drain hands the record to another handler while any
// part of the first is alive.
func TestDrainHandlerLifetime(t *testing.T) {
	dir := t.TempDir()
	q := filepath.Join(dir, "q")
	id := appendOne(t, q, `{"n":1}`)
	pidFile := filepath.Join(dir, "pid")
	orphanFile := filepath.Join(dir, "orphan")

	// The handler starts a background process (which inherits fd 3, the
	// lock, as any child does unless it closes it), then becomes sleep.
	cmd, _, errOut := capqCmd(t, q, "drain", "--max-attempts", "5", "--exec",
		`(exec sleep 120) & echo $! > `+orphanFile+`; echo $$ > `+pidFile+`; exec sleep 120`)
	// The handler and its orphan hold capq's output pipes: Wait must not
	// wait for them to close.
	cmd.WaitDelay = 100 * time.Millisecond
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	handler := waitPID(t, pidFile)
	orphan := waitPID(t, orphanFile)
	t.Cleanup(func() { syscall.Kill(orphan, syscall.SIGKILL); syscall.Kill(handler, syscall.SIGKILL) })

	// capq is SIGKILLed: no chance to clean up.
	cmd.Process.Kill()
	cmd.Wait()
	if !waitDead(handler, 30*time.Second) {
		t.Fatalf("handler %d still runs 30s after capq was killed (stderr: %s)", handler, errOut)
	}
	if !alive(orphan) {
		t.Fatalf("the handler's background process %d died too; the test needs it alive", orphan)
	}

	// The orphan still holds the lock: a second drain must skip the
	// record, not deliver it to a second handler.
	handled := filepath.Join(dir, "handled")
	code, _, stderr := runCapq(t, q, "drain", "--max-attempts", "5", "--exec", "cat > "+handled)
	if _, err := os.Stat(handled); err == nil {
		t.Fatalf("record %s delivered to a second handler while the first one's process %d still runs (stderr: %s)", id, orphan, stderr)
	}
	if code != 0 || !strings.Contains(stderr, "skipped 1") {
		t.Fatalf("second drain: exit %d, stderr %q; want exit 0 and the record skipped", code, stderr)
	}

	// Once the last process holding the lock is gone, the record is
	// delivered again, as a retry.
	syscall.Kill(orphan, syscall.SIGKILL)
	if !waitDead(orphan, 30*time.Second) {
		t.Fatalf("orphan %d does not die", orphan)
	}
	code, out, stderr := runCapq(t, q, "drain", "--exec", `echo "$CAPQ_ULID $CAPQ_ATTEMPT"; cat >/dev/null`)
	if code != 0 || strings.TrimSpace(out) != id+" 2" {
		t.Fatalf("third drain: exit %d, stdout %q, stderr %q; want %q", code, out, stderr, id+" 2")
	}
}

// Spec R39: a handler that cannot be started is not the handler's failure:
// the drain stops (exit 1, even with --max-attempts) with a clear message,
// the record stays pending without an attempt used, and the next drain
// that can start its handler delivers it as attempt 1.
func TestDrainHandlerNotStarted(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "q")
	appendOne(t, dir, `{"n":1}`)
	appendOne(t, dir, `{"n":2}`)
	old := handlerShell
	handlerShell = filepath.Join(t.TempDir(), "no-such-shell")
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"--dir", dir, "drain", "--max-attempts", "3", "--exec", "true"}, strings.NewReader(""), &out, &errOut)
	handlerShell = old
	if code != exitFail || !strings.Contains(errOut.String(), "handler not started") {
		t.Fatalf("drain with an unstartable handler: exit %d, stderr %q; want exit 1 and \"handler not started\"", code, errOut.String())
	}
	if !strings.Contains(errOut.String(), "delivered 0, quarantined 0, dead-lettered 0, failed 0, skipped 0, left 1") {
		t.Fatalf("the drain went on past a handler it could not start: %q", errOut.String())
	}
	errOut.Reset()
	out.Reset()
	code = run(context.Background(), []string{"--dir", dir, "drain", "--max-attempts", "3", "--exec", `echo "$CAPQ_ATTEMPT"; cat >/dev/null`}, strings.NewReader(""), &out, &errOut)
	if code != 0 || !strings.Contains(errOut.String(), "delivered 2,") {
		t.Fatalf("next drain: exit %d, stderr %q", code, errOut.String())
	}
	// The attempt that never ran was not charged (spec R34).
	if out.String() != "1\n1\n" {
		t.Fatalf("next drain's attempts: %q, want 1 and 1", out.String())
	}
}

// Spec R39: capq stopped by two signals (the second kills the handler's
// group, and the record is released without an attempt) while a process
// the handler started in its own session still holds fd 3: the lock name
// is not unlinked, so the next drain skips the record instead of creating
// a new lock file and delivering it beside the first handler's work.
func TestDrainSecondSignalKeepsHeldLock(t *testing.T) {
	dir := t.TempDir()
	q := filepath.Join(dir, "q")
	id := appendOne(t, q, `{"n":1}`)
	escapedFile := filepath.Join(dir, "escaped")
	cmd, _, errOut := capqCmd(t, q, "drain", "--exec",
		`setsid sh -c 'echo $$ > `+escapedFile+`; exec sleep 120' & sleep 120`)
	cmd.WaitDelay = 100 * time.Millisecond
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	escaped := waitPID(t, escapedFile)
	t.Cleanup(func() { syscall.Kill(escaped, syscall.SIGKILL) })
	cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(200 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	if !alive(escaped) {
		t.Fatalf("the escaped process %d died; the test needs it alive (stderr: %s)", escaped, errOut)
	}
	handled := filepath.Join(dir, "handled")
	code, _, stderr := runCapq(t, q, "drain", "--exec", "cat > "+handled)
	if _, err := os.Stat(handled); err == nil {
		t.Fatalf("record %s delivered to a second handler while the first one's process %d holds its lock (stderr: %s)", id, escaped, stderr)
	}
	if code != 0 || !strings.Contains(stderr, "skipped 1") {
		t.Fatalf("second drain: exit %d, stderr %q; want the record skipped", code, stderr)
	}
}
