//go:build unix

package conform

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as capq's adapter: with CONFORM_TEST_ADAPTER set
// it serves the protocol (Serve) for the queue in $CAPQ_DIR, broken as the
// variable says ("ok" for not broken).
func TestMain(m *testing.M) {
	if mode := os.Getenv("CONFORM_TEST_ADAPTER"); mode != "" {
		if mode == "ok" {
			mode = ""
		}
		if err := Serve(os.Getenv("CAPQ_DIR"), os.Stdin, os.Stdout, mode); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if raceBuild && !strings.Contains(os.Getenv("GORACE"), "atexit_sleep_ms") {
		// Every adapter process of these tests is this binary, built
		// with the race detector, whose runtime sleeps a second at exit
		// (atexit_sleep_ms) to let other threads report: each probe's
		// quit waited a second for it, a campaign's shrinking forty
		// times. The children's race reports still go to their stderr.
		os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	}
	os.Exit(m.Run())
}

// adapterCmd is the command line of capq's adapter, broken as mode says.
func adapterCmd(t *testing.T, mode string) string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if mode == "" {
		mode = "ok"
	}
	return fmt.Sprintf("CONFORM_TEST_ADAPTER=%s exec %s", mode, exe)
}

func haveStrace() bool {
	_, err := exec.LookPath("strace")
	return err == nil
}

// Spec R2 to R23, R53: capq's own queue passes every row at the
// strictest level. Only the timing row may be inconclusive (a noisy
// machine), and the durability rows when strace is missing.
func TestCapqPassesEveryProbe(t *testing.T) {
	rep, err := Run(t.Context(), Config{Impl: adapterCmd(t, ""), Seed: 5, Dir: t.TempDir(), Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != len(Probes()) {
		t.Fatalf("%d rows, want %d", len(rep.Results), len(Probes()))
	}
	for _, r := range rep.Results {
		t.Logf("%-18s %-8s %-12s %6.2fs %s", r.Probe, r.Req, r.Verdict, r.Elapsed.Seconds(), r.Evidence)
		switch {
		case r.Verdict == Pass:
		case r.Verdict == Inconclusive && r.Probe == "cost":
		case r.Verdict == Inconclusive && tracedProbe(r.Probe) && !haveStrace():
		default:
			t.Errorf("%s (%s): %s: %s\n%s", r.Probe, r.Req, r.Verdict, r.Evidence, r.Detail)
		}
	}
	if rep.Claimed != LevelHardened {
		t.Errorf("claimed %s, want hardened (hello's level)", rep.Claimed)
	}
	if !rep.Failed() && rep.Reached != LevelHardened && !strings.Contains(rep.Blocked, "inconclusive") {
		t.Errorf("reached %s (%s), want hardened", rep.Reached, rep.Blocked)
	}
}

// Spec R54, R56: each deliberately broken variant of capq's adapter fails
// the row of the requirement it breaks, with a transcript that replays the
// failure.
func TestBrokenAdaptersFail(t *testing.T) {
	t.Parallel() // as TestCampaignShrinks
	tests := []struct {
		mode, probe, req string
		strace           bool
	}{
		{"reverse-list", "list-order", "R7", false},    // Spec R7
		{"reverse-list", "campaign", "R7-R17", false},  // Spec R7
		{"lose-append", "list-order", "R7", false},     // Spec R7
		{"lose-append", "campaign", "R7-R17", false},   // Spec R9 (a record vanishes)
		{"no-delete", "handler-failure", "R12", false}, // Spec R11
		{"no-delete", "campaign", "R7-R17", false},     // Spec R11
		{"no-sync", "durable-append", "R9", true},      // Spec R9
		{"no-sync", "durable-delete", "R15", true},     // Spec R15
		{"reverse-list", "overflow", "R18", false},     // passes: list order is not what overflow judges
		{"no-sync", "list-order", "R7", false},         // passes: NoSync survives process crashes
	}
	for _, tt := range tests {
		t.Run(tt.mode+"/"+tt.probe, func(t *testing.T) {
			// Each case has its own adapter processes and directories, and
			// no timing probe: they run side by side (they wait on fsync
			// and on their processes far more than they compute).
			t.Parallel()
			if tt.strace && !haveStrace() {
				t.Skip("strace is not installed")
			}
			dir := t.TempDir()
			rep, err := Run(t.Context(), Config{Impl: adapterCmd(t, tt.mode), Seed: 3, Dir: dir, Probes: []string{tt.probe}, Timeout: 20 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			r := rep.Results[0]
			wantFail := !(tt.mode == "reverse-list" && tt.probe == "overflow") && !(tt.mode == "no-sync" && tt.probe == "list-order")
			if !wantFail {
				if r.Verdict != Pass {
					t.Fatalf("%s: %s: %s", tt.probe, r.Verdict, r.Evidence)
				}
				return
			}
			if r.Verdict != Fail || r.Req != tt.req {
				t.Fatalf("%s: %s %s: %s, want a failure of %s", tt.probe, r.Req, r.Verdict, r.Evidence, tt.req)
			}
			if !rep.Failed() {
				t.Errorf("Failed() is false with a failing row at the claimed level")
			}
			tr, err := ReadTranscript(r.Repro)
			if err != nil {
				t.Fatalf("repro %q: %v", r.Repro, err)
			}
			res, _, err := Replay(t.Context(), Config{Impl: adapterCmd(t, tt.mode), Dir: t.TempDir()}, tr)
			if err != nil || res.Verdict != Fail {
				t.Errorf("replay of %s: %v %s: %s", r.Repro, err, res.Verdict, res.Evidence)
			}
			res, _, err = Replay(t.Context(), Config{Impl: adapterCmd(t, ""), Dir: t.TempDir()}, tr)
			if err != nil || res.Verdict != Pass {
				t.Errorf("replay of %s against the correct adapter: %v %s: %s", r.Repro, err, res.Verdict, res.Evidence)
			}
		})
	}
}

// Spec R56: a failing campaign is shrunk: its transcript keeps only the steps needed,
// and fewer than the run that found the failure.
func TestCampaignShrinks(t *testing.T) {
	// Parallel top-level tests start after the sequential ones, so this
	// never runs beside TestCapqPassesEveryProbe's timing row or beside
	// TestNoProcessLeftBehind's process count.
	t.Parallel()
	for _, seed := range []uint64{9, 21} {
		cfg := Config{Impl: adapterCmd(t, "reverse-list"), Seed: seed, Probes: []string{"campaign"}, CampaignSteps: 80}
		cfg.Dir, cfg.NoShrink = t.TempDir(), true
		raw, err := Run(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Dir, cfg.NoShrink = t.TempDir(), false
		rep, err := Run(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if raw.Results[0].Verdict != Fail || rep.Results[0].Verdict != Fail {
			t.Fatalf("seed %d: campaign against reverse-list: %s, %s", seed, raw.Results[0].Evidence, rep.Results[0].Evidence)
		}
		orig, err := ReadTranscript(raw.Results[0].Repro)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := ReadTranscript(rep.Results[0].Repro)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("seed %d: %d steps shrunk to %v: %s", seed, len(orig.Keep), tr.Keep, tr.Evidence)
		// reverse-list needs two appends and a list.
		if len(tr.Keep) > 3 || len(orig.Keep) > 3 && len(tr.Keep) >= len(orig.Keep) {
			t.Errorf("seed %d: the campaign failed after %d steps and was shrunk to %v", seed, len(orig.Keep), tr.Keep)
		}
	}
}

// groupGone reports whether no live process is left in process group
// pgid. Zombies do not count: a killed background child is reparented to
// the container's init, which may be slow to reap it.
func groupGone(pgid int) bool {
	if errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH) {
		return true
	}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(b[i+1:]))
		// Z (zombie) and X (dead, being reaped) are killed processes
		// not yet gone from /proc: counting X as alive made this check
		// flip from gone to alive under load.
		if len(fields) > 2 && fields[2] == fmt.Sprint(pgid) && fields[0] != "Z" && fields[0] != "X" {
			return false
		}
	}
	return true
}

// Spec R55: an implementation that never answers hello makes Run fail within the
// reply timeout and leaves no process behind; so does one whose context is
// cancelled (capq's SIGINT and SIGTERM).
func TestNoProcessLeftBehind(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	impl := fmt.Sprintf("echo $$ > %s; sleep 300 & sleep 300", pidFile)
	start := time.Now()
	_, err := Run(t.Context(), Config{Impl: impl, Dir: filepath.Join(dir, "run"), Timeout: 500 * time.Millisecond})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("Run against a silent implementation: %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run took %s with a 500ms reply timeout", d)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	var pgid int
	fmt.Sscan(string(b), &pgid)
	if pgid == 0 || !groupGone(pgid) {
		t.Errorf("process group %d is still there after Run returned", pgid)
	}
	if r := Running(); len(r) > 0 {
		t.Errorf("Running() = %v after Run returned", r)
	}

	ctx, cancel := context.WithCancel(t.Context())
	p, err := startProc(ctx, "sleep 300 & sleep 300", dir, nil, nil, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for !groupGone(p.pgid) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !groupGone(p.pgid) {
		t.Errorf("process group %d survives the cancellation of its context", p.pgid)
	}
}

// Spec R55: a descendant that leaves the implementation's process group
// (setsid) and keeps its stdout and stderr open does not hold the judge
// past its timeout, and is killed with the implementation, so that it
// cannot go on writing into the queue directory.
func TestEscapedDescendantKilled(t *testing.T) {
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("setsid is not installed")
	}
	if runtime.GOOS != "linux" {
		t.Skip("escaped processes are found through /proc")
	}
	dir := t.TempDir()
	impl := `trap '' TERM; setsid sh -c 'while :; do : > "$CAPQ_DIR/junk-$$"; sleep 0.05; done' & exec sleep 60`
	done := make(chan error, 1)
	go func() {
		_, err := Run(t.Context(), Config{Impl: impl, Dir: filepath.Join(dir, "run"), Timeout: 500 * time.Millisecond})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrTimeout) {
			t.Errorf("Run against a silent implementation: %v, want ErrTimeout", err)
		}
	case <-time.After(15 * time.Second):
		t.Errorf("Run still running 15s after a 500ms reply timeout: it waits for the escaped descendant")
	}
	time.Sleep(200 * time.Millisecond)
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err == nil && strings.Contains(string(env), "CAPQ_DIR="+filepath.Join(dir, "run")) {
			t.Errorf("process %s of the implementation is still running after Run returned", e.Name())
			if pid, err := strconv.Atoi(e.Name()); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
}

// Spec R55: a reply line over MaxReplyLine is a protocol error, found
// without buffering the rest of it.
func TestReplyTooLong(t *testing.T) {
	p, err := startProc(t.Context(), fmt.Sprintf("read l; head -c %d /dev/zero | tr '\\0' x; echo; sleep 30", MaxReplyLine+1), t.TempDir(), nil, nil, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	if _, _, err := p.Call(Request{Op: "hello"}); !errors.Is(err, ErrReplyTooLong) {
		t.Errorf("a reply of %d bytes: %v, want ErrReplyTooLong", MaxReplyLine+1, err)
	}
}

// Spec R53: the report card grades levels: the highest level with no failing or
// inconclusive row at or below it; a failure above the claimed level does
// not fail the check; an inconclusive row at or below it does.
func TestGrade(t *testing.T) {
	tests := []struct {
		rows    []Result
		claimed Level
		reached Level
		failed  bool
	}{
		{[]Result{{Level: LevelReference, Verdict: Pass}, {Level: LevelHardened, Verdict: Pass}}, LevelHardened, LevelHardened, false},
		{[]Result{{Level: LevelReference, Verdict: Pass}, {Level: LevelDurable, Verdict: Fail}}, LevelReference, LevelReference, false},
		{[]Result{{Level: LevelReference, Verdict: Pass}, {Level: LevelDurable, Verdict: Fail}}, LevelDurable, LevelReference, true},
		{[]Result{{Level: LevelReference, Verdict: Fail}}, LevelReference, LevelNone, true},
		{[]Result{{Level: LevelDurable, Verdict: Inconclusive}, {Level: LevelHardened, Verdict: Pass}}, LevelHardened, LevelReference, true},
		{[]Result{{Level: LevelDurable, Verdict: Inconclusive}, {Level: LevelReference, Verdict: Pass}}, LevelReference, LevelReference, false},
		{[]Result{{Level: LevelHardened, Verdict: Inconclusive}}, LevelHardened, LevelDurable, true},
		{[]Result{{Level: LevelHardened, Verdict: Unsupported}, {Level: LevelHardened, Verdict: NA}}, LevelHardened, LevelHardened, false},
	}
	for i, tt := range tests {
		r := &Report{Results: tt.rows, Claimed: tt.claimed}
		r.grade()
		if r.Reached != tt.reached || r.Failed() != tt.failed {
			t.Errorf("case %d: reached %s, failed %v; want %s, %v", i, r.Reached, r.Failed(), tt.reached, tt.failed)
		}
	}
}

// Spec R9, R15, R20, R54: the durability model on hand-written traces: what a
// crash state can lose.
func TestDurabilityModel(t *testing.T) {
	const q = "/q"
	id := "01M8P2KV56M5ZXR1EWRPX1S2SN"
	tmp, fin := q+"/pending-"+id+".json.tmp", q+"/pending-"+id+".json"
	read := func(op string) string {
		return `1 read(0<pipe:[1]>, "{\"op\":\"` + op + `\"}\n", 8192) = 20`
	}
	reply := `1 write(1<pipe:[2]>, "{\"ok\":true}\n", 12) = 12`
	appendOK := []string{
		read("append"),
		`1 openat(AT_FDCWD</>, "` + tmp + `", O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC, 0600) = 3<` + tmp + `>`,
		`1 write(3<` + tmp + `>, "{}", 2) = 2`,
		`1 fsync(3<` + tmp + `>) = 0`,
		`1 rename("` + tmp + `", "` + fin + `") = 0`,
		`1 openat(AT_FDCWD</>, "` + q + `", O_RDONLY|O_DIRECTORY) = 4<` + q + `>`,
		`1 fsync(4<` + q + `>) = 0`,
		reply,
	}
	without := func(lines []string, drop string) []string {
		return slices.DeleteFunc(slices.Clone(lines), func(l string) bool { return strings.Contains(l, drop) })
	}
	ingest := []string{
		read("ingest"),
		`1 unlink("` + fin + `") = 0`,
		`1 openat(AT_FDCWD</>, "` + q + `", O_RDONLY|O_DIRECTORY) = 4<` + q + `>`,
		`1 fsync(4<` + q + `>) = 0`,
		reply,
	}
	audit := q + "/.overflow-audit.log"
	prune := []string{
		read("prune"),
		`1 openat(AT_FDCWD</>, "` + audit + `", O_WRONLY|O_CREAT|O_APPEND, 0600) = 5<` + audit + `>`,
		`1 write(5<` + audit + `>, "{\"dropped_ulid\":\"` + id + `\"}\n", 40) = 40`,
		`1 fsync(5<` + audit + `>) = 0`,
		`1 unlink("` + fin + `") = 0`,
		reply,
	}
	threaded := []string{ // group commit: the directory fsync on another thread
		read("append"),
		`1 openat(AT_FDCWD</>, "` + tmp + `", O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC, 0600) = 3<` + tmp + `>`,
		`1 write(3<` + tmp + `>, "{}", 2) = 2`,
		`1 fsync(3<` + tmp + `>) = 0`,
		`1 renameat(4<` + q + `>, "pending-` + id + `.json.tmp", 4<` + q + `>, "pending-` + id + `.json") = 0`,
		`2 fsync(4<` + q + `> <unfinished ...>`,
		`1 futex(0x1, FUTEX_WAIT, 0) = 0`,
		`2 <... fsync resumed>) = 0`,
		reply,
	}
	dupReply := func(dup, fd string, lines []string) []string { // replies through a duplicate of fd 1
		out := []string{dup}
		for _, l := range lines {
			out = append(out, strings.Replace(l, "write(1<pipe", "write("+fd+"<pipe", 1))
		}
		return out
	}
	mmapped := slices.Concat(appendOK[:2], []string{
		`1 mmap(NULL, 2, PROT_READ|PROT_WRITE, MAP_SHARED, 3<` + tmp + `>, 0) = 0x7f0000001000`,
	}, appendOK[4:])
	msynced := slices.Insert(slices.Clone(mmapped), 3, `1 msync(0x7f0000001000, 2, MS_SYNC) = 0`)
	truncated := slices.Insert(slices.Clone(appendOK), 4, `1 ftruncate(3<`+tmp+`>, 4096) = 0`)
	chdir := []string{ // relative paths after chdir into the queue
		read("append"),
		`1 chdir("` + q + `") = 0`,
		`1 open("pending-` + id + `.json.tmp", O_WRONLY|O_CREAT|O_EXCL, 0600) = 3<` + tmp + `>`,
		`1 write(3<` + tmp + `>, "{}", 2) = 2`,
		`1 fsync(3<` + tmp + `>) = 0`,
		`1 rename("pending-` + id + `.json.tmp", "pending-` + id + `.json") = 0`,
		reply,
	}
	trashIngest := []string{ // a delete by a rename into a trash name
		read("ingest"),
		`1 rename("` + fin + `", "` + q + `/.trash-1") = 0`,
		reply,
	}
	tests := []struct {
		name          string
		lines         []string
		r9, r15, r20  bool
		appends, dels int
		replies       int  // 0: as many as reads of a request
		unknown       bool // the model cannot follow a write path
	}{
		{"durable append", appendOK, false, false, false, 1, 0, 0, false},
		{"reply through a dup of fd 1, no directory fsync", dupReply(`1 dup(1<pipe:[2]>) = 5<pipe:[2]>`, "5", without(appendOK, "fsync(4")), true, false, false, 1, 0, 0, false},
		{"reply through an fcntl F_DUPFD of fd 1", dupReply(`1 fcntl(1<pipe:[2]>, F_DUPFD_CLOEXEC, 7) = 7<pipe:[2]>`, "7", without(appendOK, "fsync(3")), true, false, false, 1, 0, 0, false},
		{"reply on a pipe the trace cannot tie to fd 1", []string{appendOK[0], strings.Replace(reply, "write(1<pipe:[2]", "write(9<pipe:[7]", 1)}, false, false, false, 0, 0, -1, false},
		{"file data written through mmap, never synced", mmapped, true, false, false, 1, 0, 0, false},
		{"file data written through mmap, msync before the rename", msynced, false, false, false, 1, 0, 0, false},
		{"ftruncate after the fsync", truncated, true, false, false, 1, 0, 0, false},
		{"io_uring", append([]string{`1 io_uring_setup(8, {}) = 6<anon_inode:[io_uring]>`}, appendOK...), false, false, false, 1, 0, 0, true},
		{"relative paths after chdir, no directory fsync", chdir, true, false, false, 1, 0, 0, false},
		{"delete by rename to a trash name, no directory fsync", append(slices.Clone(appendOK), trashIngest...), false, true, false, 1, 1, 0, false},
		{"no directory fsync", without(appendOK, "fsync(4"), true, false, false, 1, 0, 0, false},
		{"no file fsync", without(appendOK, "fsync(3"), true, false, false, 1, 0, 0, false},
		{"directory fsync after the reply", append(without(appendOK, "fsync(4"), `1 fsync(4<`+q+`>) = 0`), true, false, false, 1, 0, 0, false},
		{"group commit on another thread", threaded, false, false, false, 1, 0, 0, false},
		{"durable delete", append(slices.Clone(appendOK), ingest...), false, false, false, 1, 1, 0, false},
		{"delete not durable at the reply", append(slices.Clone(appendOK), without(ingest, "fsync(4")...), false, true, false, 1, 1, 0, false},
		{"audit line fsynced before the unlink", append(slices.Clone(appendOK), prune...), false, false, false, 1, 0, 0, false},
		{"audit line not fsynced", append(slices.Clone(appendOK), without(prune, "fsync(5")...), false, false, true, 1, 0, 0, false},
		{"sync makes everything durable", append(without(appendOK, "fsync("), reply), false, false, false, 1, 0, 0, false},
	}
	synced := without(appendOK, "fsync(")
	synced = slices.Insert(synced, 3, `1 sync() = 0`) // before the rename
	synced = slices.Insert(synced, 5, `1 sync() = 0`) // after it
	tests[len(tests)-1].lines = synced
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in strings.Builder
			for _, l := range tt.lines {
				in.WriteString(l + "\n")
			}
			calls, err := parseStrace(bufioScanner(in.String()))
			if err != nil {
				t.Fatal(err)
			}
			a := analyse(calls, q, "pipe:[1]", "pipe:[2]")
			if (len(a.r9) > 0) != tt.r9 || (len(a.r15) > 0) != tt.r15 || (len(a.r20) > 0) != tt.r20 {
				t.Errorf("R9 %q, R15 %q, R20 %q; want violations %v %v %v", a.r9, a.r15, a.r20, tt.r9, tt.r15, tt.r20)
			}
			if a.appends != tt.appends || a.deletes != tt.dels {
				t.Errorf("%d appends, %d deletes; want %d, %d", a.appends, a.deletes, tt.appends, tt.dels)
			}
			reads := 0
			for _, l := range tt.lines {
				if strings.Contains(l, " read(0<") {
					reads++
				}
			}
			if want := reads + tt.replies; a.replies != want {
				t.Errorf("%d replies found in the trace, want %d", a.replies, want)
			}
			if (len(a.unknown) > 0) != tt.unknown {
				t.Errorf("unknown write paths %q, want some: %v", a.unknown, tt.unknown)
			}
		})
	}
}

// Spec R11, R54: the lock protocol's order, read from a trace: a record is
// deleted under its lock, and its lock file goes after it.
func TestLockOrderFromTrace(t *testing.T) {
	const q = "/q"
	id := "01M8P2KV56M5ZXR1EWRPX1S2SN"
	fin, lock := q+"/pending-"+id+".json", q+"/pending-"+id+".lock"
	good := []string{
		`1 read(0<pipe:[1]>, "{\"op\":\"ingest\"}\n", 8192) = 20`,
		`1 openat(AT_FDCWD</>, "` + lock + `", O_WRONLY|O_CREAT, 0600) = 3<` + lock + `>`,
		`1 flock(3<` + lock + `>, LOCK_EX|LOCK_NB) = 0`,
		`1 unlink("` + fin + `") = 0`,
		`1 flock(3<` + lock + `>, LOCK_UN) = 0`,
		`1 unlink("` + lock + `") = 0`,
		`1 write(1<pipe:[2]>, "{\"ok\":true}\n", 12) = 12`,
	}
	move := func(from, to int) []string { // the line at from moved before the line at to
		l := slices.Clone(good)
		x := l[from]
		l = slices.Delete(l, from, from+1)
		return slices.Insert(l, to, x)
	}
	tests := []struct {
		name  string
		lines []string
		r11   bool
	}{
		{"record, then unlock, then lock file", good, false},
		{"unlock before the delete", move(4, 3), true},
		{"lock file unlinked before the record", move(5, 3), true},
		{"a failed delivery: unlocked, the record stays", slices.Delete(slices.Clone(good), 3, 4), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls, err := parseStrace(bufioScanner(strings.Join(tt.lines, "\n") + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			a := analyse(calls, q, "pipe:[1]", "pipe:[2]")
			if (len(a.r11) > 0) != tt.r11 {
				t.Errorf("R11 %q, want a violation: %v", a.r11, tt.r11)
			}
			if a.locked != 1 {
				t.Errorf("%d locks seen, want 1", a.locked)
			}
		})
	}
}

// Spec R8, R22, R54: temporary files read from a trace: created
// O_EXCL|O_NOFOLLOW, none left behind.
func TestTmpFilesFromTrace(t *testing.T) {
	const q = "/q"
	id := "01M8P2KV56M5ZXR1EWRPX1S2SN"
	tmp, fin := q+"/pending-"+id+".json.tmp", q+"/pending-"+id+".json"
	open := func(flags string) string {
		return `1 openat(AT_FDCWD</>, "` + tmp + `", ` + flags + `, 0600) = 3<` + tmp + `>`
	}
	safe := open("O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC")
	tests := []struct {
		name         string
		lines        []string
		unsafe, left bool
	}{
		{"renamed into place", []string{safe, `1 rename("` + tmp + `", "` + fin + `") = 0`}, false, false},
		{"linked into place, the tmp kept", []string{safe, `1 link("` + tmp + `", "` + fin + `") = 0`}, false, true},
		{"linked, then the tmp unlinked", []string{safe, `1 link("` + tmp + `", "` + fin + `") = 0`, `1 unlink("` + tmp + `") = 0`}, false, false},
		{"opened O_TRUNC without O_EXCL", []string{open("O_WRONLY|O_CREAT|O_TRUNC"), `1 rename("` + tmp + `", "` + fin + `") = 0`}, true, false},
		{"O_EXCL without O_NOFOLLOW", []string{open("O_WRONLY|O_CREAT|O_EXCL"), `1 rename("` + tmp + `", "` + fin + `") = 0`}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls, err := parseStrace(bufioScanner(strings.Join(tt.lines, "\n") + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			a := analyse(calls, q, "pipe:[1]", "pipe:[2]")
			if (len(a.unsafeTmp) > 0) != tt.unsafe || (len(a.leftTmp) > 0) != tt.left {
				t.Errorf("unsafe %q, left %q; want %v, %v", a.unsafeTmp, a.leftTmp, tt.unsafe, tt.left)
			}
			if a.tmps != 1 {
				t.Errorf("%d tmp files seen, want 1", a.tmps)
			}
		})
	}
}

// tracedProbe reports whether a probe judges the strace trace (and is
// inconclusive without strace).
func tracedProbe(name string) bool {
	return strings.HasPrefix(name, "durable-") || name == "lock-order" || name == "tmp-files"
}

func bufioScanner(s string) *bufio.Scanner { return bufio.NewScanner(strings.NewReader(s)) }
