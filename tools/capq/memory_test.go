//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/capq/capq/internal/layout"
)

// memoryBound is the most resident memory a capq process may use reading
// a huge audit log or a huge input line (issue #11: 64 MiB).
const memoryBound = 64 << 20

// envBigTests=1 runs the memory tests at the sizes of issue #11 (a 400 MB
// audit log of whole lines takes about 25 seconds to write and read).
const envBigTests = "CAPQ_BIG_TESTS"

// bigSize is full with CAPQ_BIG_TESTS=1; else normal, or small under
// -short. normal is chosen to exceed the memory bound, so that a
// reader that loads the whole file still fails the test.
func bigSize(t *testing.T, full, normal, small int64) int64 {
	switch {
	case os.Getenv(envBigTests) == "1":
		return full
	case testing.Short():
		t.Logf("%d bytes instead of %d (-short; %s=1 for the full size)", small, full, envBigTests)
		return small
	}
	t.Logf("%d bytes instead of %d (%s=1 for the full size)", normal, full, envBigTests)
	return normal
}

// skipUnderRace skips a memory bound under the race detector: its runtime
// alone takes more than the bound, and the instrumented child is not what
// ships (and reads a big audit log slowly).
func skipUnderRace(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's runtime takes more than the bound by itself")
	}
}

// peakRSS runs cmd to the end and returns its exit status and the peak
// resident set size the kernel reports for it (getrusage's ru_maxrss).
// Memory is measured, not time.
func peakRSS(t *testing.T, cmd *exec.Cmd) (int, int64) {
	t.Helper()
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		t.Fatal("no rusage for the child")
	}
	if runtime.GOOS == "darwin" {
		return code, int64(ru.Maxrss) // bytes on macOS
	}
	return code, int64(ru.Maxrss) * 1024 // kilobytes on Linux and the BSDs (int32 on 386)
}

// writeAuditLog writes a valid audit log of about size bytes to path, in
// big writes of one repeated chunk of overflow lines.
func writeAuditLog(t *testing.T, path string, size int64) int {
	t.Helper()
	var chunk bytes.Buffer
	lines := 0
	for chunk.Len() < 1<<20 {
		fmt.Fprintf(&chunk, `{"ts":"2026-01-01T00:00:00.000000+00:00","dropped_ulid":"01ARZ3NDEKTSV4RRFFQ69G5FAV","appended_at":"2026-01-01T00:00:00.000000+00:00","reason":"queue_overflow","queue_size_before_prune":%d}`+"\n", lines)
		lines++
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	total := 0
	for written := int64(0); written < size; written += int64(chunk.Len()) {
		if _, err := f.Write(chunk.Bytes()); err != nil {
			t.Fatal(err)
		}
		total += lines
	}
	return total
}

// Spec R41: capq stats and capq audit stream the audit log, so a log of
// 400 MB (which the reference, never rotating, can leave behind) is read in
// bounded memory; and a log that is one line of hundreds of megabytes (no
// newline at all) is reported line by line, not loaded.
func TestAuditMemoryBound(t *testing.T) {
	skipUnderRace(t)
	for _, tc := range []struct {
		name  string
		valid bool // whole lines; else a sparse file of NUL bytes: one giant line
	}{
		{"lines", true},
		{"one-line", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A sparse log costs nothing to make: always full size.
			size := int64(400 << 20)
			if tc.valid {
				size = bigSize(t, 400<<20, 72<<20, 8<<20)
			}
			dir := t.TempDir()
			q := filepath.Join(dir, "q")
			appendOne(t, q, `{"n":1}`)
			log := filepath.Join(q, layout.AuditLogName)
			want := 0
			if tc.valid {
				want = writeAuditLog(t, log, size)
			} else if err := os.WriteFile(log, nil, 0o600); err != nil || os.Truncate(log, size) != nil {
				t.Fatal("cannot make the sparse log")
			}
			for _, args := range [][]string{{"stats", "--json"}, {"audit"}} {
				cmd, out, errOut := capqCmd(t, q, args...)
				// Count the lines as they go by rather than keep them.
				lines := &lineCounter{}
				if args[0] == "audit" {
					cmd.Stdout = lines
				}
				code, rss := peakRSS(t, cmd)
				t.Logf("capq %s on a %d MiB log: exit %d, peak RSS %.1f MiB", strings.Join(args, " "), size>>20, code, float64(rss)/(1<<20))
				if rss > memoryBound {
					t.Errorf("capq %v: peak RSS %d bytes, over the bound of %d", args, rss, memoryBound)
				}
				if code != 0 {
					t.Errorf("capq %v: exit %d: %s", args, code, errOut)
				}
				switch {
				case args[0] == "stats" && size > statsAuditLimit && !strings.Contains(out.String(), `"audit_not_counted":true`):
					t.Errorf("stats of a %d-byte log: want audit_not_counted (R44) in %s", size, out)
				case args[0] == "stats" && size > statsAuditLimit:
				case args[0] == "stats" && tc.valid && !strings.Contains(out.String(), fmt.Sprintf(`"audit_drops":%d,`, want)):
					t.Errorf("stats: want audit_drops %d in %s", want, out)
				case args[0] == "stats" && !tc.valid && !strings.Contains(out.String(), `"audit_bad_lines":1}`):
					t.Errorf("stats: want one bad line in %s", out)
				case args[0] == "audit" && tc.valid && lines.n != want:
					t.Errorf("audit printed %d lines, want %d", lines.n, want)
				case args[0] == "audit" && !tc.valid && (lines.n != 0 || !strings.Contains(errOut.String(), "skipped")):
					t.Errorf("audit of a log of one giant line: %d lines out, stderr %q", lines.n, errOut)
				}
			}
		})
	}
}

// lineCounter counts the lines written to it, keeping none.
type lineCounter struct{ n int }

func (c *lineCounter) Write(p []byte) (int, error) {
	c.n += bytes.Count(p, []byte{'\n'})
	return len(p), nil
}

// Spec R41: capq append reads its input in bounded memory: a line of 1 GB
// (more than any record may be) is refused with its line number and exit
// status 2, without ever being held whole.
func TestAppendMemoryBound(t *testing.T) {
	// A sparse input costs no disk; reading through it takes a few
	// seconds per GB, so the full size runs with CAPQ_BIG_TESTS=1.
	size := bigSize(t, 1<<30, 256<<20, 128<<20)
	dir := t.TempDir()
	q := filepath.Join(dir, "q")
	// A sparse file: costs no disk and no time to make. NUL bytes are not
	// JSON, but a reader that loads a line before checking it holds all of
	// them first.
	in := filepath.Join(dir, "line")
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("{\"n\":1}\n")
	f.Truncate(size)
	f.Seek(0, 0)
	defer f.Close()
	cmd, _, errOut := capqCmd(t, q, "append")
	cmd.Stdin = f
	code, rss := peakRSS(t, cmd)
	t.Logf("capq append of a %d MiB line: exit %d, peak RSS %.1f MiB: %s", size>>20, code, float64(rss)/(1<<20), strings.TrimSpace(errOut.String()))
	bound := int64(memoryBound)
	if raceEnabled {
		// The race detector's shadow memory alone takes the child past
		// 64 MiB; a reader holding the 1 GB line still fails by far.
		bound *= 2
	}
	if rss > bound {
		t.Errorf("capq append: peak RSS %d bytes, over the bound of %d", rss, bound)
	}
	if code != exitUsage || !strings.Contains(errOut.String(), "line 2") {
		t.Errorf("capq append: exit %d, stderr %q; want exit 2 naming line 2", code, errOut)
	}
}

// Spec R44: capq stats counts the drops of an audit log up to
// statsAuditLimit and reports a larger one (a sparse 10 GiB file here) as
// not counted instead of reading it for minutes.
func TestStatsAuditLimit(t *testing.T) {
	for _, tc := range []struct {
		name       string
		size       int64
		notCounted bool
	}{
		{"small", 0, false},
		{"sparse 10 GiB", 10 << 30, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := filepath.Join(t.TempDir(), "q")
			appendOne(t, q, `{"n":1}`)
			log := filepath.Join(q, layout.AuditLogName)
			line := `{"ts":"t","dropped_ulid":"x","appended_at":"","reason":"pruned","queue_size_before_prune":1}` + "\n"
			if err := os.WriteFile(log, []byte(line), 0o600); err != nil {
				t.Fatal(err)
			}
			if tc.size > 0 && os.Truncate(log, tc.size) != nil {
				t.Skip("cannot make a sparse file here")
			}
			cmd, out, errOut := capqCmd(t, q, "stats", "--json")
			done := make(chan error, 1)
			go func() { done <- cmd.Run() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("stats: %v: %s", err, errOut)
				}
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Fatal("stats did not finish within 20 s")
			}
			got := strings.Contains(out.String(), `"audit_not_counted":true`)
			if got != tc.notCounted || !tc.notCounted && !strings.Contains(out.String(), `"audit_drops":1,`) {
				t.Errorf("stats of a %d-byte log: %s; want not counted %v", tc.size, out, tc.notCounted)
			}
		})
	}
}
