package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/capq/capq/queue"
	"github.com/capq/capq/ulid"
)

// replyTimeout bounds the wait for one reply: an implementation that does
// not answer fails the check instead of hanging it.
const replyTimeout = 30 * time.Second

// stepsPerRun is how many requests one protocol run sends before it starts
// over with a fresh directory.
const stepsPerRun = 60

// impl is one running process of the implementation under check.
type impl struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	replies chan []byte
	stderr  *tailBuffer
}

// tailBuffer keeps the last few KiB written to it: the implementation's
// stderr, quoted in failure messages.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 4096 {
		t.buf = t.buf[len(t.buf)-4096:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}

// startImpl starts command by /bin/sh -c with CAPQ_DIR=dir, in its own
// process group so that kill reaches every process it started.
func startImpl(command, dir string) (*impl, error) {
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Env = append(os.Environ(), "CAPQ_DIR="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &impl{cmd: cmd, replies: make(chan []byte, 1), stderr: &tailBuffer{}}
	cmd.Stderr = p.stderr
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		defer close(p.replies)
		r := bufio.NewReaderSize(out, 64<<10)
		for {
			line, err := r.ReadBytes('\n')
			if len(line) > 0 && err == nil {
				p.replies <- line
			}
			if err != nil {
				return
			}
		}
	}()
	return p, nil
}

// send writes one request without waiting for its reply.
func (p *impl) send(req protoRequest) error {
	line, err := json.Marshal(req)
	if err != nil {
		return err
	}
	_, err = p.stdin.Write(append(line, '\n'))
	return err
}

// call sends one request and decodes its reply.
func (p *impl) call(req protoRequest) (protoReply, error) {
	var rep protoReply
	if err := p.send(req); err != nil {
		return rep, fmt.Errorf("%s: write request: %v (stderr: %s)", req.Op, err, p.stderr)
	}
	select {
	case line, ok := <-p.replies:
		if !ok {
			return rep, fmt.Errorf("%s: the implementation exited without replying (stderr: %s)", req.Op, p.stderr)
		}
		if err := json.Unmarshal(line, &rep); err != nil {
			return rep, fmt.Errorf("%s: reply %q is not a protocol reply: %v", req.Op, line, err)
		}
		return rep, nil
	case <-time.After(replyTimeout):
		return rep, fmt.Errorf("%s: no reply within %s", req.Op, replyTimeout)
	}
}

// kill SIGKILLs the implementation's process group and reaps it.
func (p *impl) kill() {
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	p.stdin.Close()
	p.cmd.Wait()
}

// protoRec is a pending record of the model.
type protoRec struct {
	id       string
	record   string
	attempts int // failed or crashed deliveries so far
}

// protoModel is what the spec says the queue holds: pending records in
// ULID order, and what left the queue other than by delivery.
type protoModel struct {
	pending []protoRec
	dead    map[string]bool
}

func (m *protoModel) ids() []string {
	out := make([]string, len(m.pending))
	for i, r := range m.pending {
		out[i] = r.id
	}
	return out
}

func (m *protoModel) add(r protoRec) {
	i, _ := slices.BinarySearchFunc(m.pending, r.id, func(a protoRec, id string) int { return strings.Compare(a.id, id) })
	m.pending = slices.Insert(m.pending, i, r)
}

// protoRun is one run against the implementation: a fresh directory, a
// model, and the running process.
type protoRun struct {
	command  string
	dir      string
	rng      *rand.Rand
	m        protoModel
	p        *impl
	features map[string]bool
	last     string   // the last ULID this process returned (R6)
	log      []string // the requests of the run, for the failure message
}

// protocolPhase checks the implementation behind --impl against the model,
// run after run, until the budget is spent.
func protocolPhase(p *phaseRun) phaseResult {
	var res phaseResult
	start := time.Now()
	for run := uint64(0); time.Since(start) < p.budget && p.ctx.Err() == nil; run++ {
		r := &protoRun{command: p.impl, dir: filepath.Join(p.dir, fmt.Sprintf("run-%d", run)),
			rng: rand.New(rand.NewPCG(p.seed, run)), m: protoModel{dead: map[string]bool{}}}
		steps, err := r.run()
		res.Runs++
		res.Steps += steps
		if err != nil {
			res.Failed = true
			res.Message = fmt.Sprintf("run %d, step %d: %v\n  requests: %s", run, steps, err, strings.Join(r.tail(8), "; "))
			return res
		}
		os.RemoveAll(r.dir)
		p.progress(float64(time.Since(start))/float64(p.budget), fmt.Sprintf("%d runs, %d requests", res.Runs, res.Steps))
	}
	return res
}

func (r *protoRun) tail(n int) []string {
	var out []string
	for _, l := range r.log[max(0, len(r.log)-n):] {
		if len(l) > 100 {
			l = l[:100] + "..."
		}
		out = append(out, l)
	}
	return out
}

func (r *protoRun) start() error {
	p, err := startImpl(r.command, r.dir)
	if err != nil {
		return err
	}
	r.p, r.last = p, ""
	rep, err := p.call(protoRequest{Op: "hello"})
	if err != nil {
		return err
	}
	if !rep.OK || rep.Protocol != protocolVersion {
		return fmt.Errorf("hello: want ok and protocol %d, got %+v", protocolVersion, rep)
	}
	r.features = map[string]bool{}
	for _, f := range rep.Features {
		r.features[f] = true
	}
	return nil
}

func (r *protoRun) run() (int, error) {
	if err := os.MkdirAll(r.dir, 0o700); err != nil {
		return 0, err
	}
	if err := r.start(); err != nil {
		return 0, err
	}
	defer func() { r.p.kill() }()
	for step := 1; step <= stepsPerRun; step++ {
		if err := r.step(); err != nil {
			return step, err
		}
		if err := r.inspect(); err != nil {
			return step, fmt.Errorf("on disk after %s: %v", r.log[len(r.log)-1], err)
		}
	}
	r.p.call(protoRequest{Op: "quit"})
	return stepsPerRun, nil
}

// invalidRecords are records every implementation must refuse (spec R5).
// Invalid UTF-8 is not among them: a JSON string cannot carry it.
var invalidRecords = []string{`[1,2]`, `"text"`, `{"a":1`, `{"a":1}{"b":2}`, `nope`, ``, `null`, `{"a":NaN}`}

func (r *protoRun) step() error {
	switch op := r.rng.IntN(100); {
	case op < 35:
		return r.appendOK(string(randomRecord(r.rng)))
	case op < 40:
		return r.appendInvalid(invalidRecords[r.rng.IntN(len(invalidRecords))])
	case op < 50:
		return r.list()
	case op < 57:
		return r.count()
	case op < 77:
		return r.ingest()
	case op < 83 && r.features["prune"]:
		return r.prune()
	case op < 91:
		r.log = append(r.log, "restart")
		r.p.kill()
		return r.start()
	default:
		return r.crashAppend()
	}
}

func (r *protoRun) appendOK(rec string) error {
	r.log = append(r.log, "append "+rec)
	rep, err := r.p.call(protoRequest{Op: "append", Record: &rec})
	if err != nil {
		return err
	}
	if !rep.OK {
		return fmt.Errorf("append of a valid record failed: %s: %s", rep.Error, rep.Message)
	}
	if !ulid.Valid(rep.ULID) {
		return fmt.Errorf("append replied ULID %q, not a canonical ULID (spec R1)", rep.ULID)
	}
	if rep.ULID <= r.last {
		return fmt.Errorf("append replied ULID %s after %s from the same process (spec R6)", rep.ULID, r.last)
	}
	for _, p := range r.m.pending {
		if p.id == rep.ULID {
			return fmt.Errorf("append replied ULID %s, which is already pending (spec R6)", rep.ULID)
		}
	}
	r.last = rep.ULID
	r.m.add(protoRec{id: rep.ULID, record: rec})
	return nil
}

func (r *protoRun) appendInvalid(rec string) error {
	r.log = append(r.log, fmt.Sprintf("append %q", rec))
	rep, err := r.p.call(protoRequest{Op: "append", Record: &rec})
	if err != nil {
		return err
	}
	if rep.OK || rep.Error != "invalid_record" {
		return fmt.Errorf("append of invalid record %q: want error invalid_record, got %+v (spec R5)", rec, rep)
	}
	return nil
}

func (r *protoRun) list() error {
	r.log = append(r.log, "list")
	rep, err := r.p.call(protoRequest{Op: "list"})
	if err != nil {
		return err
	}
	if want := r.m.ids(); !rep.OK || !slices.Equal(nonNil(rep.ULIDs), want) {
		return fmt.Errorf("list: got %v, want %v oldest first (spec R7)", rep.ULIDs, want)
	}
	return nil
}

func (r *protoRun) count() error {
	r.log = append(r.log, "count")
	rep, err := r.p.call(protoRequest{Op: "count"})
	if err != nil {
		return err
	}
	if !rep.OK || rep.Count == nil || *rep.Count != len(r.m.pending) {
		return fmt.Errorf("count: got %+v, want %d (spec R7)", rep, len(r.m.pending))
	}
	return nil
}

func (r *protoRun) ingest() error {
	outcomes := make([]string, len(r.m.pending)+1)
	for i := range outcomes {
		outcomes[i] = "ok"
		if r.rng.IntN(4) == 0 {
			outcomes[i] = "fail"
		}
	}
	maxAttempts := 0
	if r.features["dead_letter"] && r.rng.IntN(2) == 0 {
		maxAttempts = 2 + r.rng.IntN(2)
	}
	r.log = append(r.log, fmt.Sprintf("ingest outcomes=%v max_attempts=%d", outcomes, maxAttempts))
	rep, err := r.p.call(protoRequest{Op: "ingest", Outcomes: outcomes, MaxAttempts: maxAttempts})
	if err != nil {
		return err
	}
	if !rep.OK {
		return fmt.Errorf("ingest failed: %s: %s", rep.Error, rep.Message)
	}
	// What the spec says happens (R11, R12, R16, R17).
	var want []protoDelivery
	var keep []protoRec
	stopped := false
	for i, rec := range r.m.pending {
		if stopped {
			keep = append(keep, rec)
			continue
		}
		want = append(want, protoDelivery{ULID: rec.id, Attempt: rec.attempts + 1, Record: rec.record})
		if outcomes[i] == "ok" {
			continue
		}
		rec.attempts++
		switch {
		case maxAttempts > 0 && rec.attempts >= maxAttempts:
			r.m.dead[rec.id] = true
		case maxAttempts > 0:
			keep = append(keep, rec)
		default:
			keep = append(keep, rec)
			stopped = true
		}
	}
	got := rep.Deliveries
	for i := 0; i < max(len(got), len(want)); i++ {
		switch {
		case i >= len(got):
			return fmt.Errorf("ingest: delivery %d missing: want %s (spec R11)", i+1, want[i].ULID)
		case i >= len(want):
			return fmt.Errorf("ingest: delivery %d of %s is one too many (spec R11, R12)", i+1, got[i].ULID)
		case got[i].ULID != want[i].ULID:
			return fmt.Errorf("ingest: delivery %d is %s, want %s, oldest first (spec R11)", i+1, got[i].ULID, want[i].ULID)
		case got[i].Record != want[i].Record:
			return fmt.Errorf("ingest: %s delivered as %s, appended as %s (spec R4)", got[i].ULID, got[i].Record, want[i].Record)
		case r.features["attempts"] && got[i].Attempt != want[i].Attempt:
			return fmt.Errorf("ingest: %s delivered with attempt %d, want %d (spec R16)", got[i].ULID, got[i].Attempt, want[i].Attempt)
		}
	}
	r.m.pending = keep
	return nil
}

func (r *protoRun) prune() error {
	keep := r.rng.IntN(len(r.m.pending) + 1)
	r.log = append(r.log, fmt.Sprintf("prune keep=%d", keep))
	rep, err := r.p.call(protoRequest{Op: "prune", Keep: &keep})
	if err != nil {
		return err
	}
	n := len(r.m.pending) - keep
	if !rep.OK || rep.Dropped == nil || *rep.Dropped != n {
		return fmt.Errorf("prune keep=%d of %d: got %+v, want %d dropped", keep, len(r.m.pending), rep, n)
	}
	dropped := r.m.pending[:n]
	r.m.pending = slices.Clone(r.m.pending[n:])
	if !r.features["audit"] {
		return nil
	}
	// Every drop has its audit line (spec R20).
	lines := map[string]bool{}
	if data, err := os.ReadFile(filepath.Join(r.dir, queue.AuditLogName)); err == nil {
		for line := range bytes.Lines(data) {
			var a queue.AuditEntry
			if json.Unmarshal(line, &a) == nil {
				lines[a.DroppedULID] = true
			}
		}
	}
	for _, d := range dropped {
		if !lines[d.id] {
			return fmt.Errorf("prune dropped %s without an audit line (spec R20)", d.id)
		}
	}
	return nil
}

// crashAppend SIGKILLs the implementation while an append may be in
// progress, restarts it, and adopts the record if it made it to disk whole
// (spec R8: all or nothing).
func (r *protoRun) crashAppend() error {
	rec := string(randomRecord(r.rng))
	delay := time.Duration(r.rng.IntN(3000)) * time.Microsecond
	r.log = append(r.log, fmt.Sprintf("append %s, SIGKILL after %s", rec, delay))
	if err := r.p.send(protoRequest{Op: "append", Record: &rec}); err != nil {
		return err
	}
	time.Sleep(delay)
	r.p.kill()
	if err := r.start(); err != nil {
		return err
	}
	on, err := pendingOnDisk(r.dir)
	if err != nil {
		return err
	}
	for _, id := range on {
		if slices.ContainsFunc(r.m.pending, func(p protoRec) bool { return p.id == id }) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(r.dir, "pending-"+id+".json"))
		if err != nil {
			return err
		}
		env, err := queue.DecodeEnvelope("pending-"+id+".json", data)
		if err != nil {
			return fmt.Errorf("the append cut by SIGKILL left a torn pending file %s: %v (spec R8)", id, err)
		}
		if string(env.Record) != rec {
			return fmt.Errorf("pending file %s appeared with %s; the append in flight was %s", id, env.Record, rec)
		}
		r.m.add(protoRec{id: id, record: rec})
		rec = "" // at most one
	}
	return nil
}

// pendingOnDisk lists the ULIDs of the regular files named
// pending-<ULID>.json in dir, in order.
func pendingOnDisk(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range ents {
		id, ok := strings.CutSuffix(strings.TrimPrefix(e.Name(), "pending-"), ".json")
		if ok && e.Type().IsRegular() && strings.HasPrefix(e.Name(), "pending-") && ulid.Valid(id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// inspect compares the directory with the model: the same pending files,
// each a valid envelope holding the record's exact bytes (R2, R3, R4), the
// dead letters in their folder (R17), and nothing queue.Verify calls a
// violation (R26).
func (r *protoRun) inspect() error {
	on, err := pendingOnDisk(r.dir)
	if err != nil {
		return err
	}
	if want := r.m.ids(); !slices.Equal(on, want) {
		return fmt.Errorf("pending files %v, want %v", on, want)
	}
	for _, rec := range r.m.pending {
		name := "pending-" + rec.id + ".json"
		data, err := os.ReadFile(filepath.Join(r.dir, name))
		if err != nil {
			return err
		}
		env, err := queue.DecodeEnvelope(name, data)
		if err != nil {
			return fmt.Errorf("%s: %v (spec R3)", name, err)
		}
		if string(env.Record) != rec.record {
			return fmt.Errorf("%s holds %s, appended as %s (spec R4)", name, env.Record, rec.record)
		}
	}
	if r.features["dead_letter"] {
		for id := range r.m.dead {
			if _, err := os.Lstat(filepath.Join(r.dir, queue.DeadLetterDir, "pending-"+id+".json")); err != nil {
				return fmt.Errorf("dead letter %s not in %s/: %v (spec R17)", id, queue.DeadLetterDir, err)
			}
		}
	}
	findings, err := queue.Verify(r.dir)
	if err != nil {
		return err
	}
	for _, f := range findings {
		if f.Kind.Violation() {
			return fmt.Errorf("verify: %s %s: %s", f.Kind, f.Name, f.Detail)
		}
	}
	return nil
}
