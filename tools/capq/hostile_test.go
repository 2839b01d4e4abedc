//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/capq/capq/internal/layout"
	"github.com/capq/capq/queue"
	"github.com/capq/capq/ulid"
)

// cliDeadline is how long one subcommand may take on a planted entry
// before the matrix calls it a hang. Generous: it catches a blocked open
// (which never returns), not a slow machine.
const cliDeadline = 20 * time.Second

// secret is what the file outside the queue holds: no subcommand may print
// it, change it, or write beside it.
const secret = "outside-the-queue-secret"

// hostileName is one name capq uses, and how to plant an entry there.
type hostileName struct {
	name   string // relative to the queue
	folder bool   // capq expects a directory here
}

// hostileKind is a kind of entry planted at a name.
type hostileKind struct {
	name  string
	plant func(t *testing.T, path, outside string)
	// forFiles and forFolders say where the kind is hostile: a directory
	// at a folder name is what capq expects, a sparse huge file only
	// matters where capq reads a file.
	forFiles, forFolders bool
	// asUser runs capq as an unprivileged user on a queue it owns, the
	// planted entry left to root (a `sudo capq` leftover); only when the
	// test runs as root.
	asUser bool
}

// unprivileged is the user capq runs as for the asUser kinds: nobody.
const unprivileged = 65534

var hostileKinds = []hostileKind{
	{"fifo", func(t *testing.T, p, _ string) { must(t, syscall.Mkfifo(p, 0o600)) }, true, true, false},
	{"dir", func(t *testing.T, p, _ string) { must(t, os.Mkdir(p, 0o700)) }, true, false, false},
	{"symlink-out", func(t *testing.T, p, out string) {
		target := filepath.Join(out, "secret")
		if strings.HasSuffix(p, layout.QuarantineDir) || strings.HasSuffix(p, layout.DeadLetterDir) {
			target = out // a folder name pointing at a folder outside
		}
		must(t, os.Symlink(target, p))
	}, true, true, false},
	{"huge", func(t *testing.T, p, _ string) {
		// Sparse, made in no time: far over the record limit (R24) and
		// the audit line limit (R29), yet quick to read through where a
		// reader must (the audit log has no size limit of its own).
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		must(t, err)
		must(t, f.Truncate(256<<20))
		must(t, f.Close())
	}, true, false, false},
	{"file", func(t *testing.T, p, _ string) { must(t, os.WriteFile(p, []byte("junk\n"), 0o600)) }, false, true, false},
	{"root-000", func(t *testing.T, p, _ string) {
		// Owned by root, mode 000: unreadable and unwritable for capq.
		if strings.HasSuffix(p, layout.QuarantineDir) || strings.HasSuffix(p, layout.DeadLetterDir) {
			must(t, os.Mkdir(p, 0))
		} else {
			must(t, os.WriteFile(p, []byte(`{"ulid":"01ARZ3NDEKTSV4RRFFQ69G5FAV"}`), 0))
		}
		must(t, os.Chmod(p, 0))
	}, true, true, true},
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// hostileOp is one subcommand run in every cell.
type hostileOp struct {
	name string
	args func(good, bad string) []string
}

var hostileOps = []hostileOp{
	{"ls", func(_, _ string) []string { return []string{"ls"} }},
	{"count", func(_, _ string) []string { return []string{"count"} }},
	{"show", func(_, bad string) []string { return []string{"show", bad} }},
	{"stats", func(_, _ string) []string { return []string{"stats"} }},
	{"verify", func(_, _ string) []string { return []string{"verify"} }},
	{"audit", func(_, _ string) []string { return []string{"audit"} }},
	{"requeue", func(_, _ string) []string { return []string{"requeue", "--all"} }},
	{"recover", func(_, _ string) []string { return []string{"recover"} }},
	{"prune", func(_, _ string) []string { return []string{"prune", "--to", "1"} }},
	{"drain", func(_, _ string) []string {
		return []string{"drain", "--max-attempts", "3", "--exec", `cat > "$CAPQ_HANDLED/$CAPQ_ULID"`}
	}},
}

// Spec R44: the command column of the hostile-environment matrix. Every
// subcommand, run as the real binary against a queue holding one good
// record and a hostile entry at one of capq's names, finishes within a
// deadline, never panics or reports a usage error, never reads, prints or
// writes anything outside the queue through a symlink, and a drain still
// delivers the good record (spec R41, R42). `go test -v` prints the
// matrix: each cell is the subcommand's exit status, "T" for a hang, "!"
// for a broken promise.
func TestCLIHostileMatrix(t *testing.T) {
	bad := ulid.MustParse("01ARZ3NDEKTSV4RRFFQ69G5FAV") // older than any record appended now
	badPending := "pending-" + bad.String() + ".json"
	names := []hostileName{
		{name: badPending},
		{name: "pending-" + bad.String() + ".json.tmp"},
		{name: "lock-of-good"}, // resolved per cell: the good record's lock
		{name: layout.AuditLogName},
		{name: layout.AuditLogRotatedName},
		{name: layout.QuarantineDir, folder: true},
		{name: layout.DeadLetterDir, folder: true},
		{name: layout.DeadLetterDir + "/" + badPending},
		{name: layout.DeadLetterDir + "/pending-" + bad.String() + ".history"},
	}
	ops := hostileOps
	kinds := hostileKinds
	switch {
	case raceEnabled:
		// Every child runs under the race detector, slowly: the
		// subcommands where hangs and escapes were found, without the
		// huge files (reading through them is what takes the time).
		ops = []hostileOp{hostileOps[2], hostileOps[3], hostileOps[5], hostileOps[9]}
		kinds = slices.DeleteFunc(slices.Clone(hostileKinds), func(k hostileKind) bool { return k.name == "huge" })
	case testing.Short():
		ops = []hostileOp{hostileOps[2], hostileOps[3], hostileOps[5], hostileOps[9]}
	}
	var userExe string // the capq binary where an unprivileged user can run it
	if os.Geteuid() == 0 {
		userExe = userBinary(t)
	}
	t.Parallel()
	var table strings.Builder
	fmt.Fprintf(&table, "%-58s", "name / kind")
	for _, op := range ops {
		fmt.Fprintf(&table, " %-7s", op.name)
	}
	table.WriteString("\n")
	var rows []*strings.Builder // in the table's order, filled by the rows' subtests
	t.Run("cells", func(t *testing.T) {
		for _, hn := range names {
			for _, kind := range kinds {
				if hn.folder && !kind.forFolders || !hn.folder && !kind.forFiles || kind.asUser && userExe == "" {
					continue
				}
				row := &strings.Builder{}
				rows = append(rows, row)
				fmt.Fprintf(row, "%-58s", hn.name+" / "+kind.name)
				// Each cell has its own queue, outside folder and
				// process, and the time goes to starting processes and
				// waiting for them: the rows run side by side.
				t.Run(hn.name+"/"+kind.name, func(t *testing.T) {
					t.Parallel()
					for _, op := range ops {
						cell := runHostileCell(t, hn, kind, op, bad, userExe)
						fmt.Fprintf(row, " %-7s", cell)
					}
				})
			}
		}
	})
	for _, row := range rows {
		table.WriteString(row.String() + "\n")
	}
	t.Logf("hostile matrix (exit status; T: hang; !: a promise broken):\n%s", table.String())
}

// runHostileCell builds a fresh queue, plants the entry, runs the
// subcommand and checks the cell's promises. It returns the cell's text.
func runHostileCell(t *testing.T, hn hostileName, kind hostileKind, op hostileOp, bad ulid.ULID, userExe string) string {
	t.Helper()
	root := t.TempDir()
	if kind.asUser {
		// The unprivileged user must reach the queue: a fresh folder
		// outside the test's private temporary directory.
		var err error
		root, err = os.MkdirTemp("", "capq-hostile-")
		must(t, err)
		t.Cleanup(func() { os.RemoveAll(root) })
		must(t, os.Chmod(root, 0o755))
	}
	dir := filepath.Join(root, "q")
	outside := filepath.Join(root, "outside")
	handled := filepath.Join(root, "handled")
	must(t, os.Mkdir(outside, 0o700))
	must(t, os.Mkdir(handled, 0o700))
	must(t, os.WriteFile(filepath.Join(outside, "secret"), []byte(secret+"\n"), 0o600))
	// A valid record outside, where a folder symlink (dead-letter ->
	// outside) would lead a reader that follows it.
	outsideEnv := fmt.Sprintf(`{"ulid":"%s","appended_at":"2016-07-30T23:54:10.259000+00:00","record":{"s":"%s"},"schema_version":1}`, bad, secret)
	must(t, os.WriteFile(filepath.Join(outside, "pending-"+bad.String()+".json"), []byte(outsideEnv), 0o600))
	q, err := queue.Open(dir, queue.Options{NoSync: true})
	must(t, err)
	good, err := q.Append([]byte(`{"good":1}`))
	must(t, err)
	q.Close()
	name := hn.name
	if name == "lock-of-good" {
		name = "pending-" + good.String() + ".lock"
	}
	if strings.HasPrefix(name, layout.DeadLetterDir+"/") {
		must(t, os.MkdirAll(filepath.Join(dir, layout.DeadLetterDir), 0o700))
		if strings.HasSuffix(name, ".history") {
			// A dead letter whose history is hostile.
			env := fmt.Sprintf(`{"ulid":"%s","appended_at":"2016-07-30T23:54:10.259000+00:00","record":{"dead":1},"schema_version":1}`, bad)
			must(t, os.WriteFile(filepath.Join(dir, layout.DeadLetterDir, "pending-"+bad.String()+".json"), []byte(env), 0o600))
		}
	}
	exe := "capq"
	if kind.asUser {
		exe = userExe
		for _, p := range []string{dir, handled} {
			must(t, filepath.Walk(p, func(path string, _ os.FileInfo, err error) error {
				if err != nil {
					return err
				}
				return os.Lchown(path, unprivileged, unprivileged)
			}))
		}
	}
	kind.plant(t, filepath.Join(dir, name), outside)

	cmd := exec.Command(exe, append([]string{"--dir", dir}, op.args(good.String(), bad.String())...)...)
	cmd.Env = append(os.Environ(), "CAPQ_HANDLED="+handled)
	if kind.asUser {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: unprivileged, Gid: unprivileged}}
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	ctx, cancel := context.WithTimeout(context.Background(), cliDeadline)
	defer cancel()
	must(t, cmd.Start())
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var werr error
	select {
	case werr = <-waited:
	case <-ctx.Done():
		cmd.Process.Kill()
		<-waited
		t.Errorf("%s / %s: capq %s hangs (killed after %v)", name, kind.name, op.name, cliDeadline)
		return "T"
	}
	code, _ := exitOf(werr) // an error that is no exit status leaves code 0
	cell := fmt.Sprint(code)
	broken := func(format string, a ...any) {
		cell = fmt.Sprintf("%d!", code)
		t.Errorf("%s / %s: capq %s: %s\nstdout: %.300s\nstderr: %.500s", name, kind.name, op.name, fmt.Sprintf(format, a...), out.String(), errOut.String())
	}
	switch {
	case code != 0 && code != exitFail:
		broken("exit status %d: only 0 or 1 (a failed operation) fit a hostile entry", code)
	case strings.Contains(errOut.String(), "panic:") || strings.Contains(errOut.String(), "fatal error:") || strings.Contains(errOut.String(), "goroutine "):
		broken("crashed")
	case strings.Contains(out.String(), secret) || strings.Contains(errOut.String(), secret):
		broken("printed a file outside the queue")
	}
	if b, err := os.ReadFile(filepath.Join(outside, "secret")); err != nil || string(b) != secret+"\n" {
		broken("the file outside the queue changed")
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 2 {
		broken("wrote %d entries outside the queue", len(ents)-2)
	}
	switch op.name {
	case "show":
		if hn.name == "pending-"+bad.String()+".json" && kind.name != "dir" && code != exitFail {
			broken("show of a %s record must fail (exit 1), not print it", kind.name)
		}
	case "drain":
		if kind.asUser && name == "pending-"+bad.String()+".json" &&
			(code != exitFail || !strings.Contains(errOut.String(), "problem: "+name) || !strings.Contains(errOut.String(), "left 1")) {
			// R33, R40: the unreadable record is left, named, and the
			// drain says it did not finish its job.
			broken("a record left in place must be named on stderr and make the exit status 1")
		}
		// The good record flows: delivered now, or by the next drain
		// when this one had to set the hostile entry aside first.
		if kind.asUser && hn.name == "lock-of-good" {
			break // the good record's own lock is unusable: its problem, reported (R33)
		}
		if _, err := os.Stat(filepath.Join(handled, good.String())); err != nil {
			again := exec.Command(exe, "--dir", dir, "drain", "--max-attempts", "3", "--exec", `cat > "$CAPQ_HANDLED/$CAPQ_ULID"`)
			again.Env = cmd.Env
			again.SysProcAttr = cmd.SysProcAttr
			again.Run()
			if _, err := os.Stat(filepath.Join(handled, good.String())); err != nil {
				broken("the good record was not delivered by two drains")
			}
		}
	}
	return cell
}

// userBinary copies the capq binary (this test binary, which runs as capq
// under that name) where the unprivileged user can run it.
func userBinary(t *testing.T) string {
	t.Helper()
	src, err := exec.LookPath("capq")
	must(t, err)
	dir, err := os.MkdirTemp("", "capq-bin-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	must(t, os.Chmod(dir, 0o755))
	data, err := os.ReadFile(src)
	must(t, err)
	dst := filepath.Join(dir, "capq")
	must(t, os.WriteFile(dst, data, 0o755))
	return dst
}
