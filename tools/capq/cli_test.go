//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capq/capq/internal/layout"
	"github.com/capq/capq/queue"
	"github.com/capq/capq/ulid"
)

// capqRun runs the command in this process and returns its exit status,
// stdout and stderr.
func capqRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// newQueue makes a queue directory holding the given records.
func newQueue(t *testing.T, records ...string) (string, []ulid.ULID) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "q")
	q, err := queue.Open(dir, queue.Options{NoSync: true})
	must(t, err)
	defer q.Close()
	var ids []ulid.ULID
	for _, r := range records {
		id, err := q.Append([]byte(r))
		must(t, err)
		ids = append(ids, id)
	}
	return dir, ids
}

// Spec R42: verify's tab-separated lines cannot be forged by a file name:
// a name holding a newline and tabs is escaped, so there is one line of
// four fields per finding, as many as --json reports.
func TestVerifyEscapesNames(t *testing.T) {
	dir, _ := newQueue(t, `{"n":1}`)
	forged := "pending-x.json\nviolation\tcorrupt\tpending-01ARZ3NDEKTSV4RRFFQ69G5FAV.json\tforged\\"
	must(t, os.WriteFile(filepath.Join(dir, forged), []byte("x"), 0o600))
	_, text, _ := capqRun(t, "--dir", dir, "verify")
	_, js, _ := capqRun(t, "--dir", dir, "verify", "--json")
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	jsLines := strings.Split(strings.TrimSuffix(js, "\n"), "\n")
	if len(lines) != len(jsLines) {
		t.Fatalf("verify printed %d lines for %d findings:\n%s", len(lines), len(jsLines), text)
	}
	found := false
	for i, l := range lines {
		if f := strings.Split(l, "\t"); len(f) != 4 {
			t.Errorf("line %d has %d fields, want 4: %q", i, len(f), l)
		}
		var v queue.Finding
		must(t, json.Unmarshal([]byte(jsLines[i]), &v))
		if v.Name == forged {
			found = true
			if want := escapeField(forged); !strings.Contains(l, "\t"+want+"\t") {
				t.Errorf("line %q does not hold the escaped name %q", l, want)
			}
		}
	}
	if !found {
		t.Fatalf("the forged name is not among the findings: %s", js)
	}
}

// Spec R42: escapeField is reversible in the sense that matters: its
// output holds no tab, newline or carriage return, and distinct inputs
// stay distinct.
func TestEscapeField(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain-name.json", "plain-name.json"},
		{"a\tb", `a\tb`},
		{"a\nb\r", `a\nb\r`},
		{`a\tb`, `a\\tb`}, // a literal backslash-t is not a tab
		{"\x00\x1f\x7f", `\x00\x1f\x7f`},
		{"naïve", "naïve"},
	} {
		if got := escapeField(tc.in); got != tc.want {
			t.Errorf("escapeField(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Spec R42: requeue --all goes on past a dead letter it cannot requeue
// (its pending name is taken by another file), requeues the others, and
// exits 1 naming the one it left.
func TestRequeueAllGoesOn(t *testing.T) {
	dir, _ := newQueue(t)
	must(t, os.Mkdir(filepath.Join(dir, layout.DeadLetterDir), 0o700))
	a := ulid.MustParse("01ARZ3NDEKTSV4RRFFQ69G5FAV")
	b := ulid.MustParse("01ARZ3NDEKTSV4RRFFQ69G5FAW")
	for _, id := range []ulid.ULID{a, b} {
		env := fmt.Sprintf(`{"ulid":"%s","appended_at":"2016-07-30T23:54:10.259000+00:00","record":{"id":"%s"},"schema_version":1}`, id, id)
		must(t, os.WriteFile(filepath.Join(dir, layout.DeadLetterDir, "pending-"+id.String()+".json"), []byte(env), 0o600))
	}
	// The oldest dead letter's pending name holds another file: Requeue
	// refuses it (spec R17).
	must(t, os.WriteFile(filepath.Join(dir, "pending-"+a.String()+".json"), []byte(`{"other":1}`), 0o600))
	code, out, errOut := capqRun(t, "--dir", dir, "requeue", "--all")
	if code != exitFail || strings.TrimSpace(out) != "1" || !strings.Contains(errOut, a.String()) {
		t.Fatalf("requeue --all: exit %d, stdout %q, stderr %q; want exit 1, 1 requeued, %s named", code, out, errOut, a)
	}
	if _, err := os.Stat(filepath.Join(dir, "pending-"+b.String()+".json")); err != nil {
		t.Fatalf("%s was not requeued: %v", b, err)
	}
}

// Spec R41: show of a file over the size limit fails with a clear error
// and exit status 1, printing nothing (it used to print a 4 MB prefix and
// exit 0).
func TestShowOversized(t *testing.T) {
	dir, ids := newQueue(t, `{"n":1}`)
	p := filepath.Join(dir, "pending-"+ids[0].String()+".json")
	must(t, os.Truncate(p, 4<<20+1024)) // over the default MaxRecordSize (4 MiB) plus the envelope
	code, out, errOut := capqRun(t, "--dir", dir, "show", ids[0].String())
	if code != exitFail || out != "" || !strings.Contains(errOut, "exceeds the size limit") {
		t.Fatalf("show of an oversized file: exit %d, %d bytes out, stderr %q", code, len(out), errOut)
	}
}

// Spec R40: exit statuses. verify (like every subcommand) calls a --dir
// under a regular file a usage error (2); drain exits 1 when any handler
// failed, also with --max-attempts; --budget 1ns still delivers a record
// (R13).
func TestExitStatuses(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	must(t, os.WriteFile(file, nil, 0o600))
	for _, sub := range []string{"verify", "ls", "count", "stats", "audit", "show 01ARZ3NDEKTSV4RRFFQ69G5FAV", "recover", "prune --to 1", "requeue --all", "drain"} {
		args := append([]string{"--dir", filepath.Join(file, "q")}, strings.Fields(sub)...)
		if code, _, errOut := capqRun(t, args...); code != exitUsage {
			t.Errorf("capq %s under a regular file: exit %d (%s), want %d", sub, code, strings.TrimSpace(errOut), exitUsage)
		}
	}

	dir, _ := newQueue(t, `{"n":1}`, `{"n":2}`)
	code, _, errOut := capqRun(t, "--dir", dir, "drain", "--max-attempts", "1", "--exec", "cat >/dev/null; exit 3")
	if code != exitFail || !strings.Contains(errOut, "dead-lettered 2") {
		t.Errorf("drain whose every handler failed: exit %d, stderr %q; want 1", code, errOut)
	}
	dir, _ = newQueue(t, `{"n":1}`, `{"n":2}`)
	code, _, errOut = capqRun(t, "--dir", dir, "drain", "--max-attempts", "3", "--exec", `test "$CAPQ_ATTEMPT" != 1 || grep -q '"n":2'`)
	if code != exitFail || !strings.Contains(errOut, "delivered 1,") || !strings.Contains(errOut, "failed 1,") {
		t.Errorf("drain with one failure: exit %d, stderr %q; want 1", code, errOut)
	}
	code, _, errOut = capqRun(t, "--dir", dir, "drain", "--max-attempts", "3", "--exec", "cat >/dev/null")
	if code != 0 || !strings.Contains(errOut, "delivered 1,") {
		t.Errorf("drain whose handlers succeeded: exit %d, stderr %q; want 0", code, errOut)
	}

	dir, _ = newQueue(t, `{"n":1}`, `{"n":2}`)
	code, out, errOut := capqRun(t, "--dir", dir, "drain", "--budget", "1ns")
	if code != 0 || strings.Count(out, "\n") < 1 || !strings.Contains(errOut, "delivered 1,") {
		t.Errorf("drain --budget 1ns: exit %d, stdout %q, stderr %q; want one record delivered", code, out, errOut)
	}
}

// Spec R43: under a tiny RLIMIT_NOFILE capq exits 1 with a clear message,
// never a runtime abort (exit 2, a stack trace) that reads as a usage
// error.
func TestTinyDescriptorLimit(t *testing.T) {
	dir, _ := newQueue(t, `{"n":1}`)
	for _, n := range []int{4, 8, 12, 16} {
		for _, sub := range []string{"count", "drain --exec 'cat >/dev/null'"} {
			code, _, errOut := runCapqSh(t, fmt.Sprintf("ulimit -n %d && exec capq --dir %s %s", n, dir, sub))
			if code != exitFail || !strings.Contains(errOut, "too few file descriptors") || strings.Contains(errOut, "fatal error") {
				t.Errorf("RLIMIT_NOFILE %d, capq %s: exit %d, stderr %q; want exit 1 and a clear message", n, sub, code, errOut)
			}
		}
	}
}

// runCapqSh runs a shell command line (which execs capq).
func runCapqSh(t *testing.T, line string) (int, string, string) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", line)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code, ok := exitOf(err)
	if !ok {
		t.Fatal(err)
	}
	return code, out.String(), errOut.String()
}

// Spec R42: an audit entry whose free-form fields hold tabs and newlines
// (a foreign or forged line) is still one tab-separated line in `capq
// audit`.
func TestAuditLineEscaped(t *testing.T) {
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	must(t, writeAuditLine(w, queue.AuditEntry{TS: "2026-01-01T00:00:00Z", Reason: "quarantined\tx", ULID: "01ARZ3NDEKTSV4RRFFQ69G5FAV",
		File: "quarantine/a\nviolation\tforged", Detail: "two\nlines"}))
	must(t, w.Flush())
	out := b.String()
	if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
		t.Fatalf("audit entry printed as %d lines: %q", strings.Count(out, "\n"), out)
	}
	if f := strings.Split(strings.TrimSuffix(out, "\n"), "\t"); len(f) != 5 {
		t.Fatalf("audit entry has %d fields, want 5: %q", len(f), out)
	}
}

// Spec R43: under a soft RLIMIT_NPROC below what capq needs it exits 1
// with a message naming the limit, not with the runtime's abort (exit 2)
// when a thread cannot be created later. Root is not bound by the limit,
// so as root the command runs as nobody.
func TestTinyProcessLimit(t *testing.T) {
	capq, err := exec.LookPath("capq")
	if err != nil {
		t.Skip("no capq binary on PATH")
	}
	if _, err := exec.LookPath("prlimit"); err != nil {
		t.Skip("no prlimit to set RLIMIT_NPROC")
	}
	prefix := ""
	if os.Geteuid() == 0 {
		if _, err := exec.LookPath("setpriv"); err != nil {
			t.Skip("running as root without setpriv")
		}
		prefix = "setpriv --reuid=65534 --regid=65534 --clear-groups "
		// A copy nobody can run: the test's own directories are 0700.
		bin, err := os.MkdirTemp("", "capq-nproc")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(bin) })
		data, err := os.ReadFile(capq)
		if err != nil {
			t.Fatal(err)
		}
		capq = filepath.Join(bin, "capq")
		if err := os.WriteFile(capq, data, 0o755); err != nil || os.Chmod(bin, 0o755) != nil {
			t.Fatal("cannot copy capq")
		}
	}
	checked := 0
	for _, n := range []int{8, 16, 24, 31} {
		code, _, errOut := runCapqSh(t, fmt.Sprintf("%sprlimit --nproc=%d %s --dir /nonexistent count", prefix, n, capq))
		if code == 126 || code == 127 {
			t.Skipf("capq cannot be run as nobody here: %s", errOut)
		}
		if strings.Contains(errOut, "pthread_create failed") || strings.Contains(errOut, "failed to create new OS thread") {
			// The runtime gave up before main ran (a race-built
			// binary needs more threads): R28, nothing to catch.
			t.Logf("RLIMIT_NPROC %d: the runtime aborted before main", n)
			continue
		}
		checked++
		if code != exitFail || !strings.Contains(errOut, "RLIMIT_NPROC") || strings.Contains(errOut, "fatal error") {
			t.Errorf("RLIMIT_NPROC %d: exit %d, stderr %q; want exit 1 and a message naming RLIMIT_NPROC", n, code, errOut)
		}
	}
	if checked == 0 {
		t.Error("the runtime aborted before main under every limit tried: nothing checked")
	}
}
