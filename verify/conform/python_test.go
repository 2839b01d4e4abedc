//go:build unix

package conform

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// These tests judge Python queues with the reference's API through
// adapters/python: the reference as recorded (queue/testdata/refqueue.py's
// CaptureQueue), the same API without the reference's weaknesses
// (HardenedCaptureQueue), and deliberately weak variants of the latter
// (testdata/python/weak_*.py), each with exactly one weakness. Each weak
// report card must name the requirement of its weakness, and only that one
// beyond what the hardened queue itself fails.

func pythonImpl(t *testing.T, target string) string {
	t.Helper()
	if raceBuild {
		// The time goes to Python and fsync, where the race detector
		// finds nothing; .ci/run runs these tests without it.
		t.Skip("judging Python queues is left to the run without -race")
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skipf("python3 is not installed: %v", err)
	}
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	return fmt.Sprintf("%s %s --path %s --path %s %s", py, abs("../../adapters/python/capq_adapter.py"),
		abs("../../queue/testdata"), abs("testdata/python"), target)
}

// weakProbes are the rows the weak variants are judged on (the slow
// timing and tracing rows only where they matter).
var weakProbes = []string{"envelope", "verbatim-bytes", "invalid", "ulid-clock", "list-order",
	"handler-failure", "schema", "overflow-headroom", "prune-lock", "corrupt", "symlinks", "lookalike"}

func failedReqs(rep *Report) []string {
	var out []string
	for _, r := range rep.Results {
		if r.Verdict == Fail && !slices.Contains(out, r.Req) {
			out = append(out, r.Req)
		}
	}
	slices.Sort(out)
	return out
}

// Spec R4, R5, R6, R9, R15, R18, R19, R21, R22, R23, R53, R54: each weak variant's
// report card names its requirement.
func TestWeakPythonQueues(t *testing.T) {
	if testing.Short() {
		t.Skip("judges ten Python queues (about a minute)")
	}
	// The hardened queue's only failure: a dict API cannot keep bytes (R4).
	base := []string{"R4"}
	tests := []struct {
		target string
		extra  []string // probes beyond weakProbes
		want   []string // failed requirements beyond base
		strace bool
	}{
		{"refqueue:HardenedCaptureQueue", []string{"cost", "durable-append", "durable-delete", "durable-audit", "lock-order", "tmp-files"}, nil, false},
		{"weak_no_dir_fsync", []string{"durable-append", "durable-delete", "durable-audit"}, []string{"R15", "R9"}, true},
		{"weak_corrupt_stops", nil, []string{"R21"}, false},
		{"weak_follows_symlinks", nil, []string{"R22"}, false},
		{"weak_headroom_100", nil, []string{"R18"}, false},
		{"weak_ulid_ahead", nil, []string{"R6"}, false},
		{"weak_count_every_append", []string{"cost"}, []string{"R19"}, false},
		{"weak_orphan_lock", nil, []string{"R18"}, false},
		{"weak_nan_accepted", nil, []string{"R5"}, false},
		{"weak_unbounded", nil, []string{"R5"}, false},
		{"weak_lookalikes", nil, []string{"R23"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			t.Parallel()
			if tt.strace && !haveStrace() {
				t.Skip("strace is not installed")
			}
			probes := append(slices.Clone(weakProbes), tt.extra...)
			if !haveStrace() {
				probes = slices.DeleteFunc(probes, tracedProbe)
			}
			rep, err := Run(t.Context(), Config{Impl: pythonImpl(t, tt.target), Seed: 1, Dir: t.TempDir(), Probes: probes, Timeout: 30 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			want := append(slices.Clone(base), tt.want...)
			slices.Sort(want)
			got := failedReqs(rep)
			for _, r := range rep.Results {
				if r.Verdict != Pass {
					t.Logf("%-18s %-5s %-12s %s", r.Probe, r.Req, r.Verdict, r.Evidence)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("failed requirements %v, want %v", got, want)
			}
		})
	}
}

// Spec R53: the reference as recorded reaches the reference level and no more: it
// passes every reference row and fails the durable ones (no directory
// fsync) and many hardened ones.
func TestReferencePythonQueueLevel(t *testing.T) {
	if testing.Short() {
		t.Skip("judges the Python reference (half a minute)")
	}
	rep, err := Run(t.Context(), Config{Impl: pythonImpl(t, "refqueue:CaptureQueue"), Seed: 2, Dir: t.TempDir(), Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		t.Logf("%-18s %-8s %-9s %-12s %s", r.Probe, r.Req, r.Level, r.Verdict, r.Evidence)
		if r.Level == LevelReference && r.Verdict != Pass {
			t.Errorf("%s (%s) is a reference row: %s: %s", r.Probe, r.Req, r.Verdict, r.Evidence)
		}
	}
	if rep.Reached != LevelReference {
		t.Errorf("reached %s, want reference (%s)", rep.Reached, rep.Blocked)
	}
	got := failedReqs(rep)
	for _, req := range []string{"R4", "R5", "R6", "R18", "R21", "R22", "R23"} {
		if !slices.Contains(got, req) {
			t.Errorf("the reference does not fail %s (it fails %v)", req, got)
		}
	}
	if haveStrace() && (!slices.Contains(got, "R9") || !slices.Contains(got, "R15")) {
		t.Errorf("the reference never fsyncs its directory, but it does not fail R9 and R15 (it fails %v)", got)
	}
}

// Spec R11, R18, R53, R54: the outside tester's protocol server
// (testdata/rawq/rawq.py) with the weaknesses that once passed the judge:
// a reply through a dup of fd 1, file data written through mmap, relative
// paths after chdir, a delete by a rename into a trash name, the lock
// released or its file unlinked before the record's delete, a prune that
// deletes a locked record, a .tmp file left behind or opened without
// O_EXCL|O_NOFOLLOW. Each must fail its requirement.
func TestRawWeakQueues(t *testing.T) {
	if testing.Short() {
		t.Skip("judges Python queues (half a minute)")
	}
	impl := pythonImpl(t, "") // the skips for -race and a missing python3
	py := strings.Fields(impl)[0]
	rawq, err := filepath.Abs("testdata/rawq/rawq.py")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		weak   string
		probes []string
		want   []string // failed requirements
		strace bool
	}{
		{"", []string{"durable-append", "durable-delete", "lock-order", "prune-lock", "tmp-files"}, nil, true},
		{"reply_dup,no_file_fsync,no_dir_fsync", []string{"durable-append"}, []string{"R9"}, true},
		{"mmap,no_file_fsync", []string{"durable-append"}, []string{"R9"}, true},
		{"chdir,no_dir_fsync", []string{"durable-append"}, []string{"R9"}, true},
		{"delete_by_rename,no_delete_fsync", []string{"durable-delete"}, []string{"R15"}, true},
		{"lock_first", []string{"lock-order"}, []string{"R11"}, true},
		{"unlock_before", []string{"lock-order"}, []string{"R11"}, true},
		{"prune_ignores_lock", []string{"prune-lock"}, []string{"R18"}, false},
		{"leave_tmp", []string{"tmp-files"}, []string{"R22"}, true},
		{"no_excl", []string{"tmp-files"}, []string{"R22"}, true},
	}
	for _, tt := range tests {
		t.Run("weak="+tt.weak, func(t *testing.T) {
			t.Parallel()
			if tt.strace && !haveStrace() {
				t.Skip("strace is not installed")
			}
			rep, err := Run(t.Context(), Config{Impl: fmt.Sprintf("WEAK=%s %s %s", tt.weak, py, rawq), Seed: 3, Dir: t.TempDir(), Probes: tt.probes, Timeout: 30 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rep.Results {
				t.Logf("%-18s %-5s %-12s %s", r.Probe, r.Req, r.Verdict, r.Evidence)
				if r.Verdict != Pass && r.Verdict != Fail {
					t.Errorf("%s: %s, want pass or fail", r.Probe, r.Verdict)
				}
			}
			if got := failedReqs(rep); !slices.Equal(got, tt.want) {
				t.Errorf("failed requirements %v, want %v", got, tt.want)
			}
		})
	}
}
