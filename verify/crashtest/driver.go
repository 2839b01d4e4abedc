package crashtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/capq/capq/internal/layout"
	"github.com/capq/capq/internal/mutate"
	"github.com/capq/capq/queue"
	"github.com/capq/capq/ulid"
)

// Config configures a kill-crash run. The zero value (with Dir set) is a
// short run: 2 appenders, 2 consumers, 5 rounds of at most 150ms.
type Config struct {
	// Dir is the queue directory the children share. It is created if
	// missing; it should be empty.
	Dir string
	// Appenders and Consumers are how many children of each role run in
	// every round. Zero means 2 each; use a negative value for none.
	Appenders, Consumers int
	// Rounds is how many start-kill rounds run. Zero means 5, unless
	// Duration is set, in which case rounds run until Duration has passed.
	Rounds int
	// Duration, if positive, stops starting rounds once it has passed
	// (at least one round always runs).
	Duration time.Duration
	// MaxRound is the longest a child lives in a round before it is
	// SIGKILLed; each child's kill moment is drawn in [MaxRound/10,
	// MaxRound]. Zero means 150ms.
	MaxRound time.Duration
	// Seed seeds every random choice of the driver and its children.
	Seed uint64
	// MaxSize is the queue's MaxSize in the children: small values make
	// overflow prunes (and their audit lines) part of the run. Zero
	// means 100.
	MaxSize int
	// FailRate is the probability that a consumer's handler fails a
	// delivery. Zero means 0.1; negative means never.
	FailRate float64
	// MaxAttempts is the consumers' IngestOptions.MaxAttempts. Zero
	// means 3.
	MaxAttempts int
	// Mutants plants bugs (internal/mutate) in the children's queues, not
	// in the final drain: a test of the checks themselves. The children
	// must be built with -tags capqmutants (Run refuses otherwise).
	Mutants mutate.Set
	// Command returns the command that starts a child: the driver adds
	// the environment (EnvChild, EnvConfig) and takes over its stdout.
	// Nil re-executes os.Executable() with no arguments, which suits a
	// command that calls MaybeRunChild in main or a test binary that
	// calls it in TestMain.
	Command func() (*exec.Cmd, error)
	// Progress, if set, is called after every round with the round
	// number (from 1) and the report so far.
	Progress func(round int, r *Report)

	// ExecConsumers is how many consumers per round run `capq drain
	// --follow --exec HANDLER` (spec R39) instead of the queue API, with
	// a handler that is this executable re-executed as RoleHandler: it
	// holds an O_EXCL marker file outside the queue while it runs, so a
	// record handed to two handlers at once is seen. Zero means none;
	// DrainCommand must be set.
	ExecConsumers int
	// DrainCommand returns the command that starts capq (the driver adds
	// "--dir DIR drain --follow --max-attempts N --exec HANDLER").
	DrainCommand func() (*exec.Cmd, error)
	// HangupRate is the probability that an exec consumer is ended by
	// SIGHUP (a closed terminal: it must finish the record in hand and
	// exit by itself, status 0 or 1) rather than SIGKILL. Zero means 0.3;
	// negative means never.
	HangupRate float64
	// MaxHandle is the longest a handler works on one record: kills land
	// in the middle of handlers. Zero means 20ms.
	MaxHandle time.Duration
}

// Report is what a run saw. A run passed when Violations is empty.
type Report struct {
	Rounds       int // rounds run
	Children     int // child processes started
	Kills        int // children ended by SIGKILL
	Acked        int // appends acknowledged (printed "A") by appenders
	Delivered    int // distinct records delivered, by children or the final drain
	Redelivered  int // extra deliveries of a record whose delivery was cut by a kill (allowed)
	Failed       int // handler failures injected by consumers
	Dropped      int // acknowledged records dropped by overflow, with an audit line
	DeadLettered int // acknowledged records in the dead-letter folder at the end
	FinalDrained int // records the final drain delivered
	Hangups      int // exec consumers ended by SIGHUP
	// HandlersKilled counts handlers that died with their capq in the
	// middle of a record (their marker was found stale, or is left over).
	HandlersKilled int
	Violations     []string
}

// OK reports whether the run found no violation.
func (r *Report) OK() bool { return len(r.Violations) == 0 }

func (r *Report) violate(format string, a ...any) {
	r.Violations = append(r.Violations, fmt.Sprintf(format, a...))
}

// delivery is one "D" or "F" line (or a delivery of the final drain).
type delivery struct {
	inst    int  // child instance; -1 for the final drain
	attempt int  // Delivery.Attempt
	ok      bool // "D": the handler succeeded
	last    bool // the last whole line of an instance that was SIGKILLed
}

// instance is one child process.
type instance struct {
	role   string
	cmd    *exec.Cmd
	out    bytes.Buffer
	errOut bytes.Buffer
	killed bool
	hangup bool // ended by SIGHUP: it must exit by itself
	// outFile holds an exec consumer's output: a file, not a pipe, so
	// that waiting for capq does not wait for a handler that outlived it
	// (which then overlaps the next round, as it would in real life).
	outFile *os.File
}

func (c *Config) defaults() {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Appenders, 2)
	def(&c.Consumers, 2)
	def(&c.MaxSize, 100)
	def(&c.MaxAttempts, 3)
	if c.Rounds == 0 && c.Duration <= 0 {
		c.Rounds = 5
	}
	if c.MaxRound <= 0 {
		c.MaxRound = 150 * time.Millisecond
	}
	if c.FailRate == 0 {
		c.FailRate = 0.1
	}
	if c.HangupRate == 0 {
		c.HangupRate = 0.3
	}
	if c.MaxHandle <= 0 {
		c.MaxHandle = 20 * time.Millisecond
	}
	if c.Command == nil {
		c.Command = func() (*exec.Cmd, error) {
			exe, err := os.Executable()
			if err != nil {
				return nil, err
			}
			return exec.Command(exe), nil
		}
	}
}

// Run runs the kill-crash rounds of cfg, drains the directory and checks
// the outcome. Violations of the spec are in the report; the error is for
// a run that could not be carried out (a child that cannot start, a
// cancelled ctx, a directory that cannot be opened).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Mutants != 0 && cfg.Command == nil && !mutate.Built {
		// The children would be this binary, which has no mutants.
		return nil, fmt.Errorf("crashtest: Config.Mutants: %w", mutate.ErrNotBuilt)
	}
	cfg.defaults()
	if cfg.Dir == "" {
		return nil, errors.New("crashtest: Config.Dir is empty")
	}
	if cfg.ExecConsumers > 0 && cfg.DrainCommand == nil {
		return nil, errors.New("crashtest: Config.ExecConsumers needs Config.DrainCommand")
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	if cfg.ExecConsumers > 0 {
		if err := os.MkdirAll(markerDir(cfg.Dir), 0o700); err != nil {
			return nil, err
		}
	}
	rep := &Report{}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6361707163726173))
	var insts []*instance
	start := time.Now()
	for round := 1; ; round++ {
		if cfg.Rounds > 0 && round > cfg.Rounds {
			break
		}
		if cfg.Duration > 0 && round > 1 && time.Since(start) >= cfg.Duration {
			break
		}
		got, err := runRound(ctx, &cfg, rng, rep)
		insts = append(insts, got...)
		if err != nil {
			return rep, err
		}
		rep.Rounds = round
		if cfg.Progress != nil {
			cfg.Progress(round, rep)
		}
	}
	if err := check(&cfg, insts, rep); err != nil {
		return rep, err
	}
	return rep, nil
}

// runRound starts every child, kills each at its own random moment and
// waits for all of them.
func runRound(ctx context.Context, cfg *Config, rng *rand.Rand, rep *Report) ([]*instance, error) {
	var insts []*instance
	var wg sync.WaitGroup
	defer wg.Wait()
	roles := make([]string, 0, max(cfg.Appenders, 0)+max(cfg.Consumers, 0))
	for range max(cfg.Appenders, 0) {
		roles = append(roles, RoleAppender)
	}
	for range max(cfg.Consumers, 0) {
		roles = append(roles, RoleConsumer)
	}
	for range max(cfg.ExecConsumers, 0) {
		roles = append(roles, roleExecConsumer)
	}
	for _, role := range roles {
		child, _ := json.Marshal(ChildConfig{
			Dir: cfg.Dir, Seed: rng.Uint64(), MaxSize: cfg.MaxSize,
			FailRate: max(cfg.FailRate, 0), MaxAttempts: cfg.MaxAttempts, Mutants: cfg.Mutants,
			MaxHandle: cfg.MaxHandle,
		})
		var cmd *exec.Cmd
		var err error
		if role == roleExecConsumer {
			cmd, err = execConsumerCmd(cfg)
		} else {
			cmd, err = cfg.Command()
		}
		if err != nil {
			return insts, err
		}
		if role == roleExecConsumer {
			// The handler reads its settings from EnvConfig; capq itself,
			// without EnvChild, ignores it.
			cmd.Env = append(cmd.Environ(), EnvConfig+"="+string(child))
		} else {
			cmd.Env = append(cmd.Environ(), EnvChild+"="+role, EnvConfig+"="+string(child))
		}
		in := &instance{role: role, cmd: cmd}
		cmd.Stdout = &in.out
		cmd.Stderr = &in.errOut
		if role == roleExecConsumer {
			f, err := os.CreateTemp("", "capq-crashtest-out-*")
			if err != nil {
				return insts, err
			}
			os.Remove(f.Name()) // open, it lives until closed
			in.outFile = f
			cmd.Stdout, cmd.Stderr = f, f
		}
		// A handler holds capq's output pipes; if one outlived capq, Wait
		// must not wait for it forever (the check sees what it printed).
		cmd.WaitDelay = 10 * time.Second
		// Children must not outlive a driver that dies.
		cmd.SysProcAttr = childProcAttr()
		if err := cmd.Start(); err != nil {
			return insts, fmt.Errorf("crashtest: start %s: %w", role, err)
		}
		rep.Children++
		insts = append(insts, in)
		lo := int64(cfg.MaxRound / 10)
		wait := time.Duration(lo + rng.Int64N(int64(cfg.MaxRound)-lo+1))
		in.hangup = role == roleExecConsumer && rng.Float64() < cfg.HangupRate
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
			if in.hangup {
				// A closed terminal: capq must finish the record in hand
				// and exit by itself (spec R39); after a generous wait
				// it is killed and the check reports it.
				in.cmd.Process.Signal(hangupSignal)
				stopped := make(chan struct{})
				go func() {
					select {
					case <-stopped:
					case <-time.After(30 * time.Second):
						in.cmd.Process.Kill()
					}
				}()
				in.cmd.Wait()
				close(stopped)
				return
			}
			in.killed = true
			in.cmd.Process.Kill()
			in.cmd.Wait()
		}()
	}
	wg.Wait()
	for _, in := range insts {
		st := in.cmd.ProcessState
		switch {
		case in.hangup && st.Exited() && st.ExitCode() <= 1:
			// Exit 1 only says a handler failed during the run (R40).
			rep.Hangups++
		case in.hangup:
			rep.violate("%s did not stop by itself after SIGHUP (spec R39): %v: %s", in.role, in.cmd.ProcessState, in.stderrText())
		case killedBySIGKILL(st):
			rep.Kills++
		default:
			// It ended before its kill: a failed operation.
			in.killed = false
			rep.violate("%s child exited by itself (%v): %s", in.role, in.cmd.ProcessState, in.stderrText())
		}
	}
	return insts, ctx.Err()
}

// stderrText is what the child printed on stderr so far (for an exec
// consumer, capq's lines of its output file), for a violation message.
func (in *instance) stderrText() string {
	if in.outFile == nil {
		return strings.TrimSpace(in.errOut.String())
	}
	b, _ := io.ReadAll(io.NewSectionReader(in.outFile, 0, 1<<40))
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "capq ") || strings.HasPrefix(l, "crashtest ") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// parseLines returns the whole lines of out (a kill may cut the last).
func parseLines(out []byte) []string {
	s := string(out)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	} else {
		return nil
	}
	return strings.Split(s, "\n")
}

// check drains what is left and compares the children's reports with the
// directory.
func check(cfg *Config, insts []*instance, rep *Report) error {
	acked := map[string]bool{}
	deliveries := map[string][]delivery{}
	for _, in := range insts {
		if in.outFile != nil {
			// Handler lines and capq's messages share the file; the
			// check reads the handler lines (capq prints none on stdout
			// with --exec) and keeps capq's lines apart.
			b, _ := io.ReadAll(io.NewSectionReader(in.outFile, 0, 1<<40))
			in.outFile.Close()
			in.outFile = nil
			for _, l := range strings.SplitAfter(string(b), "\n") {
				if strings.HasPrefix(l, "capq ") || strings.HasPrefix(l, "crashtest ") {
					in.errOut.WriteString(l)
				} else {
					in.out.WriteString(l)
				}
			}
		}
	}
	for i, in := range insts {
		lines := parseLines(in.out.Bytes())
		for j, line := range lines {
			f := strings.Fields(line)
			bad := func() { rep.violate("%s child printed a malformed line %q", in.role, line) }
			if len(f) < 2 || !ulid.Valid(f[1]) {
				bad()
				continue
			}
			switch {
			case f[0] == "A" && len(f) == 2:
				acked[f[1]] = true
			case f[0] == "S" && len(f) == 3:
				rep.HandlersKilled++
			case f[0] == "X" && len(f) == 3:
				rep.violate("record %s handed to a second handler while handler %s still ran (spec R39)", f[1], f[2])
			case (f[0] == "D" || f[0] == "F") && len(f) == 3:
				att, err := strconv.Atoi(f[2])
				if err != nil {
					bad()
					continue
				}
				deliveries[f[1]] = append(deliveries[f[1]], delivery{
					inst: i, attempt: att, ok: f[0] == "D", last: in.killed && j == len(lines)-1,
				})
				if f[0] == "F" {
					rep.Failed++
				}
			default:
				bad()
			}
		}
	}
	rep.Acked = len(acked)
	if ents, err := os.ReadDir(markerDir(cfg.Dir)); err == nil {
		rep.HandlersKilled += len(ents) // left by handlers killed mid-record, never taken over
	}

	// The final drain: a fresh process recovering the directory, whose
	// handler always succeeds.
	q, err := queue.Open(cfg.Dir, queue.Options{MaxSize: cfg.MaxSize})
	if err != nil {
		return err
	}
	defer q.Close()
	final := func(_ context.Context, d queue.Delivery) error {
		id := d.ULID.String()
		deliveries[id] = append(deliveries[id], delivery{inst: -1, attempt: d.Attempt, ok: true})
		rep.FinalDrained++
		return nil
	}
	for {
		res, err := q.Ingest(context.Background(), final, queue.IngestOptions{MaxAttempts: cfg.MaxAttempts})
		if err != nil {
			rep.violate("final drain: %v", err)
			break
		}
		if res.Delivered+res.Quarantined+res.DeadLettered == 0 {
			break
		}
	}
	if n, err := q.Count(); err != nil || n != 0 {
		rep.violate("after the final drain %d records are pending (%v)", n, err)
	}

	// Deliveries: distinct attempts (exact across process crashes, so
	// they order a record's deliveries); every successful delivery but the
	// latest must have been cut by a kill before its delete.
	for id, ds := range deliveries {
		sort.Slice(ds, func(i, j int) bool { return ds[i].attempt < ds[j].attempt })
		oks := 0
		for i, d := range ds {
			if i > 0 && ds[i-1].attempt == d.attempt {
				rep.violate("record %s delivered twice with attempt %d (spec R16): %s", id, d.attempt, describe(insts, ds))
			}
			if !d.ok {
				continue
			}
			oks++
			if !d.last && slices.ContainsFunc(ds[i+1:], func(l delivery) bool { return l.ok }) {
				rep.violate("record %s delivered again (attempt %d) after a delivery (attempt %d) that no kill cut before its delete (spec R11): %s",
					id, lastOK(ds).attempt, d.attempt, describe(insts, ds))
			}
		}
		if oks > 0 {
			rep.Delivered++
			rep.Redelivered += oks - 1
		}
	}

	// Nothing acknowledged lost.
	dropped, quarantined := map[string]bool{}, map[string]bool{}
	for a, err := range q.AuditEntries(context.Background()) {
		if errors.Is(err, queue.ErrAuditLine) {
			continue // a torn line: it describes nothing that happened (R20)
		}
		if err != nil {
			return err
		}
		switch a.Reason {
		case queue.ReasonOverflow, queue.ReasonPruned:
			dropped[a.DroppedULID] = true
		case queue.ReasonQuarantined:
			quarantined[a.ULID] = true
			rep.violate("quarantined after process crashes only: %s (%s)", a.File, a.Detail)
		}
	}
	dead, err := q.DeadLetters()
	if err != nil {
		return err
	}
	deadSet := map[string]bool{}
	for _, id := range dead {
		deadSet[id.String()] = true
	}
	numbered := numberedDeadLetters(cfg.Dir)
	var lost []string
	for id := range acked {
		delivered := false
		for _, d := range deliveries[id] {
			delivered = delivered || d.ok
		}
		switch {
		case delivered:
		case dropped[id]:
			rep.Dropped++
		case deadSet[id]:
			rep.DeadLettered++
		case quarantined[id]:
		case numbered[id] != "":
			// Kept, so not lost; but a numbered pair is only for a ULID
			// dead-lettered before, which one record never is: a crash
			// left something at its own name that should not stay there.
			rep.DeadLettered++
			rep.violate("acknowledged record %s dead-lettered to the numbered pair %s, which DeadLetters and Requeue do not see: process crashes alone must not cause one (spec R36)", id, numbered[id])
		default:
			lost = append(lost, id)
		}
	}
	sort.Strings(lost)
	for _, id := range lost {
		rep.violate("acknowledged record %s lost: not delivered, dropped, quarantined or dead-lettered (spec R9)", id)
	}

	// No half-written file, nothing else against the spec.
	findings, err := queue.Verify(context.Background(), cfg.Dir, queue.Options{})
	if err != nil {
		return err
	}
	for _, f := range findings {
		if f.Violation {
			rep.violate("verify: %s %s: %s", f.Kind, f.Name, f.Detail)
		}
	}
	sort.Strings(rep.Violations)
	return nil
}

// numberedDeadLetters maps the ULID of each dead letter at a numbered name
// (dead-letter/pending-<ULID>.json.N, spec R36) to that name, so that a
// record moved there is told apart from a lost one.
func numberedDeadLetters(dir string) map[string]string {
	out := map[string]string{}
	ents, _ := os.ReadDir(filepath.Join(dir, layout.DeadLetterDir))
	for _, e := range ents {
		base, n, ok := strings.Cut(e.Name(), ".json.")
		id, isPending := strings.CutPrefix(base, "pending-")
		if _, err := strconv.Atoi(n); ok && isPending && err == nil && ulid.Valid(id) {
			out[id] = layout.DeadLetterDir + "/" + e.Name()
		}
	}
	return out
}

// lastOK returns the successful delivery with the highest attempt.
func lastOK(ds []delivery) delivery {
	for i := len(ds) - 1; i >= 0; i-- {
		if ds[i].ok {
			return ds[i]
		}
	}
	return delivery{}
}

// describe lists a record's deliveries for a violation message.
func describe(insts []*instance, ds []delivery) string {
	var b strings.Builder
	for i, d := range ds {
		if i > 0 {
			b.WriteString("; ")
		}
		who := "final drain"
		if d.inst >= 0 {
			who = fmt.Sprintf("%s #%d", insts[d.inst].role, d.inst)
			if insts[d.inst].killed {
				who += " (killed)"
			}
		}
		verdict := "failed"
		if d.ok {
			verdict = "succeeded"
		}
		fmt.Fprintf(&b, "attempt %d %s by %s", d.attempt, verdict, who)
		if d.last {
			b.WriteString(" as its last act")
		}
	}
	return b.String()
}
