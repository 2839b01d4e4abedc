package model

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/capq/capq/internal/fsys"
	"github.com/capq/capq/internal/layout"
	"github.com/capq/capq/internal/queuefs"
	"github.com/capq/capq/queue"
	"github.com/capq/capq/ulid"
)

// This file is the machine: the real queue over the in-memory file system,
// driven by a chooser, checked against the model after every step.

// chooser supplies a machine's random choices. Rapid implements it in the
// tests (so that failures shrink), a seeded PRNG in RunCampaign.
type chooser interface {
	// Intn returns a number in [0, n), n > 0. label names the choice.
	Intn(n int, label string) int
}

// randChooser is a chooser over a seeded PRNG.
type randChooser struct{ r *rand.Rand }

func (c randChooser) Intn(n int, _ string) int { return c.r.IntN(n) }

// machineConfig configures a machine.
type machineConfig struct {
	// Procs is the number of processes (views of one Mem, each with its
	// own Queue) that share the queue directory; 0 lets the machine choose
	// 1 to 3.
	Procs int
	// MaxSize is the queues' Options.MaxSize; 0 lets the machine choose a
	// small one (or none), so that overflow happens.
	MaxSize int
	// NoFaults leaves out fault injection and crashes at a file-system
	// call; NoPowerCut leaves out power cuts.
	NoFaults, NoPowerCut bool
}

// failure is a violated invariant. Machines panic with it; the drivers
// recover it (rapid reports any panic as a failure).
type failure struct{ msg string }

func (f failure) Error() string { return f.msg }

// machine runs the queue and the model side by side.
type machine struct {
	cfg   machineConfig
	logf  func(format string, args ...any)
	model *Model

	clock   *fakeClock
	mem     *fsys.Mem
	procs   []*proc
	admin   *fsys.MemFS             // the test's own hands: planting files, probing locks
	obsq    *queue.Queue            // a queue on admin that only reads: the observer
	holder  *fsys.MemFS             // a foreign consumer that holds locks
	held    map[ulid.ULID]fsys.File // locks the holder has
	foreign map[string]bool         // planted names the queue must never touch
	ids     *ulid.Generator         // ULIDs of planted files
	seed    uint64
	incarn  int
	steps   int
	probing bool          // check the lock at every delete of a pending file
	mu      sync.Mutex    // guards violations (hooks run inside the queue)
	bad     []string      // violations found inside queue calls
	opts    queue.Options // the options every process opens with
	maxDep  int
}

// proc is one process: a view of the Mem with a Queue on it.
type proc struct {
	n      int
	view   *fsys.MemFS
	fault  *fsys.Fault
	q      *queue.Queue
	last   ulid.ULID // the last ULID this process's Append returned (R6)
	exact  bool      // no other writer added records since this process last counted (R19)
	tmps   []ulid.ULID
	crash  int // kill the process at this file-system call of the step (0: never)
	calls  int
	killed bool
}

// fakeClock is the machine's time: it only moves when an action moves it,
// so runs replay exactly.
type fakeClock struct {
	mu       sync.Mutex
	now, max time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	if c.now.After(c.max) {
		c.max = c.now
	}
}

// newMachine sets up a machine with the first choices of c.
func newMachine(c chooser, cfg machineConfig, logf func(string, ...any)) *machine {
	if cfg.Procs == 0 {
		cfg.Procs = 1 + c.Intn(3, "procs")
	}
	if cfg.MaxSize == 0 {
		cfg.MaxSize = []int{-1, 3, 5, 12, 25}[c.Intn(5, "max size")]
	}
	start := time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC)
	m := &machine{
		cfg: cfg, logf: logf,
		clock:   &fakeClock{now: start, max: start},
		held:    map[ulid.ULID]fsys.File{},
		foreign: map[string]bool{},
		seed:    uint64(c.Intn(1<<30, "seed")),
		maxDep:  8,
		probing: true,
	}
	m.opts = queue.Options{
		MaxSize:         cfg.MaxSize,
		MaxDepth:        m.maxDep,
		DeleteSyncEvery: 1 + c.Intn(3, "delete sync every"),
		TmpGrace:        15 * time.Minute,
	}
	m.opts = queuefs.WithClock(m.opts, m.clock.Now)
	m.model = New(cfg.MaxSize, m.opts.DeleteSyncEvery)
	m.ids = m.generator(99)
	m.mem = fsys.NewMem(m.clock.Now)
	m.views()
	for i := range cfg.Procs {
		p := &proc{n: i}
		m.procs = append(m.procs, p)
		m.start(p)
	}
	m.logf("machine: %d process(es), MaxSize %d, DeleteSyncEvery %d", cfg.Procs, cfg.MaxSize, m.opts.DeleteSyncEvery)
	return m
}

// views makes the test's own views of the Mem, and the observer: a queue
// that skips recovery and only reads.
func (m *machine) views() {
	m.admin, m.holder = m.mem.FS(), m.mem.FS()
	if m.obsq != nil {
		m.obsq.Close()
	}
	opts := m.opts
	opts = queuefs.With(opts, m.admin)
	opts.SkipRecover, opts.MaxSize = true, -1
	q, err := queue.Open("mem", opts)
	if err != nil {
		m.fatalf("observer: %v", err)
	}
	m.obsq = q
}

// generator returns a ULID generator on the machine's clock with
// deterministic entropy, so that runs replay.
func (m *machine) generator(stream uint64) *ulid.Generator {
	var key [32]byte
	for i := range 8 {
		key[i] = byte(m.seed >> (8 * i))
		key[8+i] = byte(stream >> (8 * i))
	}
	return ulid.NewGenerator(ulid.GeneratorOptions{
		Clock:   m.clock.Now,
		Entropy: rand.NewChaCha8(key),
		Sleep:   m.clock.add,
	})
}

// violation records a broken invariant found where failing at once is not
// possible (inside a file-system hook or a handler).
func (m *machine) violation(format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.bad = append(m.bad, fmt.Sprintf(format, args...))
}

// fatalf stops the run with a failure.
func (m *machine) fatalf(format string, args ...any) {
	panic(failure{fmt.Sprintf("step %d: ", m.steps) + fmt.Sprintf(format, args...)})
}

// start (re)starts process p: a new view of the Mem, a fault seam, and a
// Queue opened on it, which runs Recover (R25).
func (m *machine) start(p *proc) {
	m.incarn++
	p.view = m.mem.FS()
	p.fault = fsys.NewFault(p.view)
	p.killed, p.crash, p.calls, p.tmps = false, 0, 0, nil
	m.hook(p)
	opts := m.opts
	opts = queuefs.With(opts, p.fault.WithNoReplace())
	opts = queuefs.WithULIDs(opts, m.generator(uint64(m.incarn)))
	p.last = ulid.ULID{}
	q, err := queue.Open("mem", opts)
	if err != nil {
		m.fatalf("R25: Open of process %d: %v", p.n, err)
	}
	p.q, p.exact = q, true
}

// hook installs the file-system hook of p: it learns the ULID of every tmp
// file an append creates (so a record whose append was cut short is known),
// kills the process at the chosen call, and checks that a pending file is
// only ever deleted under its lock (R11).
func (m *machine) hook(p *proc) {
	p.fault.SetHook(func(c fsys.Call) error {
		if c.Op == fsys.OpOpen && strings.HasSuffix(c.Name, ".json.tmp") {
			if id, err := ulid.Parse(strings.TrimSuffix(strings.TrimPrefix(c.Name, "pending-"), ".json.tmp")); err == nil {
				p.tmps = append(p.tmps, id)
			}
		}
		if p.crash > 0 {
			p.calls++
			if p.calls == p.crash {
				p.view.Kill()
				p.killed = true
				return fsys.EIO
			}
		}
		if m.probing && c.Op == fsys.OpRemove && !strings.Contains(c.Name, "/") && strings.HasPrefix(c.Name, "pending-") && strings.HasSuffix(c.Name, ".json") {
			lock := strings.TrimSuffix(c.Name, ".json") + ".lock"
			if held, exists := m.probeLock(lock); !held {
				m.violation("R11: %s deleted while its lock is not held (lock file exists: %v)", c.Name, exists)
			}
		}
		return nil
	})
}

// probeLock reports whether somebody holds the lock file name, by trying to
// take it from the test's own view without creating it.
func (m *machine) probeLock(name string) (held, exists bool) {
	f, err := m.admin.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return false, false
	}
	defer f.Close()
	if err := f.Flock(fsys.LockExclusive | fsys.LockNonBlocking); err != nil {
		return errors.Is(err, fsys.ErrWouldBlock), true
	}
	f.Flock(fsys.Unlock)
	return false, true
}

// stop ends process p: gracefully (Close) or as SIGKILL would.
func (m *machine) stop(p *proc, kill bool) {
	if kill {
		p.view.Kill()
	}
	p.q.Close()
	p.view.Close()
}

func (m *machine) pick(c chooser) *proc { return m.procs[c.Intn(len(m.procs), "process")] }

// ---- observation and checks ----

// observe reads the state of the queue directory through process p's queue
// and the test's view.
func (m *machine) observe() Observation {
	q := m.obsq
	obs := Observation{Locs: map[ulid.ULID]Loc{}, Audit: map[AuditKey]int{}}
	ids, err := q.List()
	if err != nil {
		m.fatalf("List: %v", err)
	}
	for _, id := range ids {
		obs.Locs[id] |= InPending
	}
	dead, err := q.DeadLetters()
	if err != nil {
		m.fatalf("DeadLetters: %v", err)
	}
	for _, id := range dead {
		obs.Locs[id] |= InDeadLetter
	}
	for _, name := range m.mem.Names(".") {
		if len(name) == 8+26+5 && strings.HasPrefix(name, "pending-") && strings.HasSuffix(name, ".json") {
			if fi, err := m.admin.Lstat(name); err == nil && fi.Mode&fs.ModeSymlink != 0 {
				if id, err := ulid.Parse(name[8 : 8+26]); err == nil && id.String() == name[8:8+26] {
					obs.Locs[id] |= InUnsafe
				}
			}
		}
	}
	for _, name := range m.mem.Names(layout.QuarantineDir) {
		if len(name) >= 8+26 && strings.HasPrefix(name, "pending-") {
			if id, err := ulid.Parse(name[8 : 8+26]); err == nil && strings.HasPrefix(name[8+26:], ".json") {
				obs.Locs[id] |= InQuarantine
			}
		}
	}
	entries, err := AuditAll(q)
	if err != nil {
		m.fatalf("Audit: %v", err)
	}
	for _, e := range entries {
		id := e.ULID
		if e.DroppedULID != "" {
			id = e.DroppedULID
		}
		obs.Audit[AuditKey{e.Reason, id}]++
	}
	return obs
}

// settle observes the queue after a step and resolves the model with the
// step's transitions (see Model.Resolve).
func (m *machine) settle(trs []Transition, certain bool) {
	if err := m.model.Resolve(m.observe(), trs, certain); err != nil {
		m.fatalf("%v", err)
	}
}

// check verifies the invariants that hold after every step.
func (m *machine) check() {
	m.mu.Lock()
	bad := m.bad
	m.bad = nil
	m.mu.Unlock()
	if len(bad) > 0 {
		m.fatalf("%s", strings.Join(bad, "\n"))
	}
	want := m.model.In(InPending)
	for _, p := range m.procs {
		ids, err := p.q.List()
		if err != nil {
			m.fatalf("List (process %d): %v", p.n, err)
		}
		if !slices.Equal(ids, want) {
			m.fatalf("R7: List (process %d) = %v, want %v (oldest first)", p.n, ids, want)
		}
		n, err := p.q.Count()
		if err != nil || n != len(want) {
			m.fatalf("R7: Count (process %d) = %d, %v; want %d", p.n, n, err, len(want))
		}
	}
	// Every pending file of a record is whole and holds the bytes that
	// were appended: nothing half-written is ever visible (R4, R8).
	for _, id := range want {
		r := m.model.Record(id)
		if r.Kind != Good {
			continue
		}
		name := "pending-" + id.String() + ".json"
		data, err := m.mem.ReadFile(name)
		if err != nil {
			m.fatalf("reading %s: %v", name, err)
		}
		env, err := queue.DecodeEnvelope(data)
		if err != nil {
			m.fatalf("R2/R3: %s does not decode: %v\n%q", name, err, data)
		}
		if env.ULID != id {
			m.fatalf("R2: %s holds ulid %s", name, env.ULID)
		}
		if string(env.Record) != string(r.Data) {
			m.fatalf("R4: %s holds %q, appended %q", name, env.Record, r.Data)
		}
	}
	m.checkNoHang()
	root := m.mem.Names(".")
	for name := range m.foreign {
		if !slices.Contains(root, name) {
			m.fatalf("R23: the queue removed the foreign file %s", name)
		}
	}
}

// ackULIDs checks the ULIDs an Append returned (R6): each strictly after
// the process's previous one, and never ahead of the clock.
func (m *machine) ackULIDs(p *proc, ids []ulid.ULID) {
	m.clock.mu.Lock()
	maxMs := uint64(m.clock.max.UnixMilli())
	m.clock.mu.Unlock()
	for _, id := range ids {
		if id.Compare(p.last) <= 0 {
			m.fatalf("R6: process %d returned ULID %s after %s", p.n, id, p.last)
		}
		if id.Ms() > maxMs {
			m.fatalf("R6: ULID %s has time %d ms, ahead of the clock's highest reading %d ms", id, id.Ms(), maxMs)
		}
		if m.model.Record(id) != nil {
			m.fatalf("R6: ULID %s returned twice", id)
		}
		p.last = id
	}
}

// ---- actions ----

// action is one kind of step.
type action struct {
	name   string
	weight int
	run    func(m *machine, c chooser)
}

// actions lists the machine's steps. Every action is valid in every state:
// where its usual target is missing it does something else useful
// (rapid's fuzz mode rejects actions that skip).
func (m *machine) actions() []action {
	as := []action{
		{"Append", 10, (*machine).actAppend},
		{"AppendBatch", 4, (*machine).actAppendBatch},
		{"AppendInvalid", 2, (*machine).actAppendInvalid},
		{"Ingest", 8, (*machine).actIngest},
		{"Hold", 3, (*machine).actHold},
		{"Release", 3, (*machine).actRelease},
		{"Reopen", 2, (*machine).actReopen},
		{"Prune", 2, (*machine).actPrune},
		{"Corrupt", 2, (*machine).actCorrupt},
		{"PlantForeign", 1, (*machine).actPlantForeign},
		{"PlantFuture", 1, (*machine).actPlantFuture},
		{"TakeFuture", 2, (*machine).actTakeFuture},
		{"Recover", 2, (*machine).actRecover},
		{"Requeue", 2, (*machine).actRequeue},
		{"Clock", 2, (*machine).actClock},
	}
	as = append(as, action{"SideBroken", 2, (*machine).actSideBroken})
	if !m.cfg.NoFaults {
		as = append(as, action{"Fault", 4, (*machine).actFault}, action{"CrashAt", 3, (*machine).actCrashAt},
			action{"NoInodes", 2, (*machine).actNoInodes})
	}
	if !m.cfg.NoPowerCut {
		as = append(as, action{"PowerCut", 2, (*machine).actPowerCut})
	}
	return as
}

func (m *machine) actClock(c chooser) {
	switch c.Intn(4, "clock") {
	case 0:
		m.clock.add(16 * time.Minute) // past TmpGrace
	case 1:
		m.clock.add(-time.Duration(c.Intn(3000, "back ms")) * time.Millisecond) // R6: steps back
	default:
		m.clock.add(time.Duration(1+c.Intn(2000, "ms")) * time.Millisecond)
	}
	m.settle(nil, true)
}

func (m *machine) actAppend(c chooser) {
	p := m.pick(c)
	rec := genRecord(c, m.maxDep)
	m.logf("Append (process %d) %q", p.n, rec)
	m.appendRecords(p, [][]byte{rec}, false)
}

func (m *machine) actAppendBatch(c chooser) {
	p := m.pick(c)
	recs := make([][]byte, 1+c.Intn(4, "batch"))
	for i := range recs {
		recs[i] = genRecord(c, m.maxDep)
	}
	m.logf("AppendBatch (process %d) of %d", p.n, len(recs))
	m.appendRecords(p, recs, true)
}

// appendRecords appends recs through p, without faults, and resolves the
// model: the records are durably pending (R9), and an overflow prune
// removes exactly the oldest unlocked records older than them (R18).
func (m *machine) appendRecords(p *proc, recs [][]byte, batch bool) {
	p.tmps = nil
	var ids []ulid.ULID
	var err error
	if batch {
		ids, err = p.q.AppendBatch(recs)
	} else {
		var id ulid.ULID
		id, err = p.q.Append(recs[0])
		ids = []ulid.ULID{id}
	}
	if err != nil {
		m.fatalf("R9: append (process %d): %v", p.n, err)
	}
	m.ackULIDs(p, ids)
	m.model.Append(ids, recs)
	m.afterAppend(p, ids, true)
}

// afterAppend resolves the overflow rule after p appended ids (R18, R19).
// With certain unset a fault may have cut the prune short.
func (m *machine) afterAppend(p *proc, ids []ulid.ULID, certain bool) {
	for _, o := range m.procs {
		if o != p {
			o.exact = false // o sees p's appends only at its next count (R19)
		}
	}
	count := len(m.model.In(InPending))
	if !m.model.OverflowDue(count) {
		m.settle(nil, certain)
		return
	}
	victims, _ := m.model.Victims(m.cfg.MaxSize-Headroom(m.cfg.MaxSize), ids[len(ids)-1])
	trs := m.model.PruneTransitions(victims, queue.ReasonOverflow)
	switch {
	case !certain:
		m.settle(trs, false)
		return
	case p.exact:
		// A process that has seen every other writer's records knows the
		// count is past MaxSize: it must prune now.
		m.settle(trs, true)
	default:
		// It may not know yet; if it prunes, it prunes exactly these.
		obs := m.observe()
		pruned := false
		for _, tr := range trs {
			pruned = pruned || obs.Locs[tr.ID] != tr.From
		}
		if !pruned {
			trs = nil
		}
		if err := m.model.Resolve(obs, trs, true); err != nil {
			m.fatalf("%v", err)
		}
		if !pruned {
			return
		}
	}
	p.exact = true
	m.syncAfterPrune(trs)
}

// syncAfterPrune applies the directory fsyncs of a completed prune: the
// quarantine moves are durable (R21); deletions are fsynced too (R18).
func (m *machine) syncAfterPrune(trs []Transition) {
	if len(trs) > 0 {
		m.model.Sync(InPending | movedTo(trs, InQuarantine))
	}
}

// movedTo returns the folders among dirs that some transition of trs
// moved a record into.
func movedTo(trs []Transition, dirs Loc) Loc {
	var l Loc
	for _, tr := range trs {
		l |= tr.To &^ tr.From & dirs
	}
	return l
}

func (m *machine) actAppendInvalid(c chooser) {
	p := m.pick(c)
	rec := []byte(invalidRecords[c.Intn(len(invalidRecords), "invalid")])
	p.tmps = nil
	_, err := p.q.Append(rec)
	if !errors.Is(err, queue.ErrInvalidRecord) {
		m.fatalf("R5: Append(%q) = %v, want ErrInvalidRecord", rec, err)
	}
	if len(p.tmps) > 0 {
		m.fatalf("R5: Append(%q) created %v before refusing the record", rec, p.tmps)
	}
	m.settle(nil, true)
}

// drain is one planned Ingest call.
type drain struct {
	failAt      int
	fail        Outcome
	child       bool // a Crash with the handler's work in a child process, which keeps the lock (R39)
	maxRecords  int
	maxAttempts int
	budget      time.Duration
}

type call struct {
	id      ulid.ULID
	data    []byte
	attempt int
}

func chooseDrain(c chooser) drain {
	d := drain{failAt: -1}
	switch c.Intn(4, "handler") {
	case 0:
		d.failAt, d.fail = c.Intn(4, "fail at"), Failure
	case 1:
		d.failAt, d.fail = c.Intn(4, "crash at"), Crash
		d.child = c.Intn(2, "child handler") == 0
	}
	if c.Intn(3, "bounded") == 0 {
		d.maxRecords = 1 + c.Intn(4, "max records")
	}
	if c.Intn(3, "max attempts") == 0 {
		d.maxAttempts = 1 + c.Intn(3, "max attempts")
	}
	if c.Intn(8, "budget") == 0 {
		d.budget = time.Nanosecond
	}
	return d
}

// runDrain runs one Ingest on p whose handler follows d, and returns the
// handler calls in order. The handler checks, while it runs, that the
// record is still pending and its lock held (R11).
func (m *machine) runDrain(p *proc, d drain) ([]call, queue.Result, error) {
	var calls []call
	h := func(_ context.Context, dl queue.Delivery) error {
		calls = append(calls, call{dl.ULID, slices.Clone(dl.Record), dl.Attempt})
		m.logf("  handler: %s attempt %d", dl.ULID, dl.Attempt)
		name := "pending-" + dl.ULID.String()
		if m.probing {
			if held, exists := m.probeLock(name + ".lock"); !held {
				m.violation("R11: handler runs for %s while its lock is not held (lock file exists: %v)", dl.ULID, exists)
			}
			if _, err := m.admin.Lstat(name + ".json"); err != nil {
				m.violation("R11: handler runs for %s, whose pending file is gone: %v", dl.ULID, err)
			}
		}
		if len(calls)-1 == d.failAt {
			if d.fail == Crash {
				p.view.Kill()
				p.killed = true
				if d.child {
					m.holdForChild(dl.ULID)
				}
				return errors.New("consumer killed")
			}
			return errHandler
		}
		return nil
	}
	res, err := p.q.Ingest(context.Background(), h, queue.IngestOptions{
		MaxRecords: d.maxRecords, MaxAttempts: d.maxAttempts, Budget: d.budget,
	})
	return calls, res, err
}

var errHandler = errors.New("handler failed")

func (m *machine) actIngest(c chooser) {
	p := m.pick(c)
	d := chooseDrain(c)
	m.logf("Ingest (process %d) %+v", p.n, d)
	evs := m.model.PlanIngest(d.failAt, d.fail, d.maxAttempts)
	calls, res, err := m.runDrain(p, d)
	trs, deletes := m.matchDrain(evs, calls, res, err, d, p.killed)
	m.settle(trs, true)
	if p.killed && d.child && len(calls) > 0 {
		// The handler's child still runs and holds the lock: no drain
		// may take the record until it ends (Release).
		m.model.Hold(calls[len(calls)-1].id)
	}
	if p.killed {
		// The deletes before the last periodic fsync are durable (R15);
		// the moves to quarantine and dead-letter fsync themselves.
		k := m.model.DeleteSyncEvery
		m.model.SyncIDs(deletes[:len(deletes)/k*k], InPending)
		for _, tr := range trs {
			if tr.To&(InQuarantine|InDeadLetter) != 0 {
				m.model.SyncIDs([]ulid.ULID{tr.ID}, InPending|InQuarantine|InDeadLetter)
			}
		}
		m.stop(p, true)
		m.start(p)
		return
	}
	if len(deletes) > 0 {
		m.model.Sync(InPending) // R15: fsync at the end of every Ingest
	}
	m.model.Sync(movedTo(trs, InQuarantine|InDeadLetter)) // each move fsyncs its folder (R17, R21)
}

// matchDrain checks a drain against the model's plan: the drain did a
// prefix of the planned events, in order (R7, R11), its handler calls are
// the planned ones with the appended bytes (R4) and attempt numbers (R16),
// it stopped where the spec says (R12, R13, R14), and its counts agree. It
// returns the transitions of the events done and the ULIDs deleted, in
// order.
func (m *machine) matchDrain(evs []Event, calls []call, res queue.Result, err error, d drain, killed bool) ([]Transition, []ulid.ULID) {
	var trs []Transition
	var deletes []ulid.ULID
	var got queue.Result
	i, ci := 0, 0
	for ; i < len(evs); i++ {
		ev := evs[i]
		// R13: MaxRecords bounds the handler calls, successes and
		// failures alike (ci counts them), not the deliveries.
		if d.maxRecords > 0 && ci >= d.maxRecords {
			break
		}
		if ev.Kind == EvCall {
			if ci == len(calls) {
				break
			}
			cl := calls[ci]
			if cl.id != ev.ID {
				m.fatalf("R7: handler call %d is for %s, the model expects %s (events %v)", ci, cl.id, ev.ID, evs)
			}
			ci++
			tr, err := m.model.Call(cl.id, cl.data, cl.attempt, ev.Outcome, d.maxAttempts)
			if err != nil {
				m.fatalf("%v", err)
			}
			trs = append(trs, tr)
			switch {
			case ev.Outcome == Success:
				got.Delivered++
				deletes = append(deletes, ev.ID)
			case tr.To&InDeadLetter != 0:
				got.Failed++
				got.DeadLettered++
				deletes = append(deletes, ev.ID)
			case ev.Outcome == Failure:
				got.Failed++
			}
			continue
		}
		if ci < len(calls) {
			// Events before a later handler call must all have happened.
		} else if ev.Kind == EvSkip && got.Skipped >= res.Skipped ||
			ev.Kind == EvQuarantine && got.Quarantined >= res.Quarantined ||
			ev.Kind == EvSchema && !errors.Is(err, queue.ErrSchemaVersion) {
			break // the drain stopped before this event (a bound)
		}
		switch ev.Kind {
		case EvSkip:
			got.Skipped++
		case EvQuarantine:
			got.Quarantined++
			trs = append(trs, m.model.Quarantine(ev.ID))
			deletes = append(deletes, ev.ID)
		case EvSchema:
			var se *queue.DataError
			if !errors.As(err, &se) || !errors.Is(err, queue.ErrSchemaVersion) || !strings.Contains(se.Name, ev.ID.String()) {
				m.fatalf("R14: drain reached %s (schema_version 2) and returned %v, want a *DataError (ErrSchemaVersion) naming it", ev.ID, err)
			}
		}
	}
	if ci < len(calls) {
		m.fatalf("R7: handler called for %s, beyond the model's plan %v", calls[ci].id, evs)
	}
	if killed {
		return trs, deletes
	}
	if !sameResult(got, res) {
		m.fatalf("Ingest result %+v, the model counts %+v (events %v; quarantine %v)", res, got, evs, m.mem.Names(layout.QuarantineDir))
	}
	done := i == len(evs)
	var last Event
	if i > 0 {
		last = evs[i-1]
	}
	switch {
	case done && last.Kind == EvSchema:
		// checked above
	case done && last.Kind == EvCall && last.Outcome == Failure && d.maxAttempts <= 0:
		var he *queue.HandlerError
		if !errors.As(err, &he) || !errors.Is(err, errHandler) || he.ULID != last.ID {
			m.fatalf("R12: drain stopped at %s's failure with %v, want a *HandlerError wrapping the handler's", last.ID, err)
		}
	case err != nil:
		m.fatalf("Ingest: %v", err)
	case !done && d.budget == 0 && !(d.maxRecords > 0 && (ci == d.maxRecords || i >= d.maxRecords)):
		m.fatalf("R13: drain stopped after %d of %d events (%+v) without reaching a bound %+v", i, len(evs), res, d)
	}
	return trs, deletes
}

func (m *machine) actHold(c chooser) {
	var free []ulid.ULID
	for _, id := range m.model.In(InPending) {
		if !m.model.Record(id).Held {
			free = append(free, id)
		}
	}
	if len(free) == 0 {
		m.actAppend(c)
		return
	}
	id := free[c.Intn(len(free), "hold")]
	f, err := m.holder.OpenFile("pending-"+id.String()+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		m.fatalf("holder: %v", err)
	}
	if err := f.Flock(fsys.LockExclusive | fsys.LockNonBlocking); err != nil {
		m.fatalf("R11: a foreign consumer cannot lock the idle record %s: %v", id, err)
	}
	m.logf("Hold %s", id)
	m.held[id] = f
	m.model.Hold(id)
	m.settle(nil, true)
}

func (m *machine) actRelease(c chooser) {
	if len(m.held) == 0 {
		m.actIngest(c)
		return
	}
	ids := sortedKeys(m.held)
	id := ids[c.Intn(len(ids), "release")]
	m.logf("Release %s", id)
	m.held[id].Close()
	delete(m.held, id)
	m.model.Release(id)
	m.settle(nil, true)
}

func sortedKeys[V any](mp map[ulid.ULID]V) []ulid.ULID {
	ids := make([]ulid.ULID, 0, len(mp))
	for id := range mp {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, ulid.ULID.Compare)
	return ids
}

func (m *machine) actReopen(c chooser) {
	p := m.pick(c)
	kill := c.Intn(2, "kill") == 0
	m.logf("Reopen process %d (kill %v)", p.n, kill)
	m.stop(p, kill)
	m.start(p)
	m.settle(nil, true)
}

func (m *machine) actPrune(c chooser) {
	p := m.pick(c)
	n := len(m.model.In(InPending))
	keep := c.Intn(n+2, "keep") - 1
	m.logf("Prune(%d) (process %d)", keep, p.n)
	victims, _ := m.model.Victims(keep, ulid.ULID{})
	trs := m.model.PruneTransitions(victims, queue.ReasonPruned)
	res, err := p.q.Prune(context.Background(), keep)
	if err != nil {
		m.fatalf("Prune: %v", err)
	}
	var want queue.Result
	for _, tr := range trs {
		if tr.To&InQuarantine != 0 {
			want.Quarantined++
		} else {
			want.Dropped++
		}
	}
	excess := 0 // a negative keep means no limit (R18): nothing is examined
	if keep >= 0 {
		excess = max(0, n-keep)
	}
	for _, id := range m.model.In(InPending)[:excess] {
		if m.model.Record(id).Held {
			want.Skipped++
		}
	}
	if !sameResult(res, want) {
		m.fatalf("R18: Prune(%d) = %+v, want %+v", keep, res, want)
	}
	m.settle(trs, true)
	p.exact = true
	m.syncAfterPrune(trs)
}

// plant writes a file as another program would, durably: the test's
// WriteFile fsyncs the directory, which makes every current entry durable.
func (m *machine) plant(name string, data []byte) {
	if err := m.mem.WriteFile(name, data, 0o600); err != nil {
		m.fatalf("plant %s: %v", name, err)
	}
	m.model.Sync(InPending)
	for _, p := range m.procs {
		p.exact = false
	}
}

func (m *machine) actCorrupt(c chooser) {
	var good []ulid.ULID
	for _, id := range m.model.In(InPending) {
		if m.model.Record(id).Kind == Good {
			good = append(good, id)
		}
	}
	if len(good) == 0 {
		m.actPlantFuture(c)
		return
	}
	id := good[c.Intn(len(good), "corrupt")]
	name := "pending-" + id.String() + ".json"
	orig, err := m.mem.ReadFile(name)
	if err != nil {
		m.fatalf("%v", err)
	}
	other := m.newID()
	bad := [][]byte{
		nil, []byte("{"), []byte("null"), []byte("[]"), []byte("not json at all"),
		orig[:len(orig)-1-c.Intn(len(orig)-1, "cut")],
		[]byte(strings.Replace(string(orig), id.String(), other.String(), 1)),
		[]byte(strings.Replace(string(orig), `"schema_version"`, `"extra":0,"schema_version"`, 1)),
		[]byte(strings.Replace(string(orig), `"record":{`, `"record":"x","r":{`, 1)),
		append(slices.Clone(orig), " trailing"...),
	}[c.Intn(10, "corruption")]
	m.logf("Corrupt %s: %q", name, bad)
	m.plant(name, bad)
	r := m.model.Record(id)
	r.Kind, r.Data = Corrupt, nil
	m.settle(nil, true)
}

// newID returns a ULID for a planted file, never one the queue has used.
func (m *machine) newID() ulid.ULID {
	id, err := m.ids.New()
	if err != nil {
		m.fatalf("ULID: %v", err)
	}
	return id
}

func (m *machine) actPlantForeign(c chooser) {
	id := m.newID()
	var name string
	switch c.Intn(6, "foreign") {
	case 0:
		name = "pending-.json"
	case 1:
		name = "pending-" + strings.ToLower(id.String()) + ".json"
	case 2:
		name = "pending-" + id.String() + ".json.bak"
	case 3:
		name = "notes.txt"
	case 4:
		name = "pending-" + id.String()[:25] + ".json"
	case 5:
		// A symlink under a pending name: never followed, never counted,
		// quarantined by Ingest (R21, R22, R23).
		name = "pending-" + id.String() + ".json"
		if err := m.mem.Symlink("/etc/passwd", name); err != nil {
			m.fatalf("symlink: %v", err)
		}
		m.model.Sync(InPending) // Symlink fsyncs the directory
		m.model.Add(Record{ID: id, Kind: Unsafe, Loc: InUnsafe, Synced: InUnsafe})
		m.logf("PlantForeign symlink %s", name)
		m.settle(nil, true)
		return
	}
	if !m.foreign[name] {
		m.logf("PlantForeign %s", name)
		m.plant(name, envelope(id, `{"foreign":true}`, 1))
		m.foreign[name] = true
	}
	m.settle(nil, true)
}

func envelope(id ulid.ULID, record string, version int) []byte {
	return fmt.Appendf(nil, `{"ulid":"%s","appended_at":"2026-11-25T18:00:00+00:00","record":%s,"schema_version":%d}`, id, record, version)
}

func (m *machine) actPlantFuture(c chooser) {
	id := m.newID()
	if c.Intn(2, "future age") == 0 {
		// An old one, ahead of every pending record.
		id = ulid.MustParse("00" + id.String()[2:])
	}
	m.logf("PlantFuture %s", id)
	m.plant("pending-"+id.String()+".json", envelope(id, `{"v":2}`, 2))
	m.model.Add(Record{ID: id, Kind: Future, Loc: InPending, Synced: InPending})
	m.settle(nil, true)
}

// actTakeFuture plays a newer consumer that takes a schema_version 2 file
// (or, with none, runs Ingest).
func (m *machine) actTakeFuture(c chooser) {
	var fut []ulid.ULID
	for _, id := range m.model.In(InPending) {
		if r := m.model.Record(id); r.Kind == Future && !r.Held {
			fut = append(fut, id)
		}
	}
	if len(fut) == 0 {
		m.actIngest(c)
		return
	}
	id := fut[c.Intn(len(fut), "future")]
	m.logf("TakeFuture %s", id)
	if err := m.admin.Remove("pending-" + id.String() + ".json"); err != nil {
		m.fatalf("%v", err)
	}
	if err := m.admin.SyncDir("."); err != nil {
		m.fatalf("%v", err)
	}
	r := m.model.Record(id)
	m.settle([]Transition{{ID: id, From: r.Loc, To: r.Loc &^ InPending}}, true)
	m.model.Sync(InPending)
}

func (m *machine) actRecover(c chooser) {
	p := m.pick(c)
	rep, err := p.q.Recover(context.Background())
	if err != nil {
		m.fatalf("Recover: %v", err)
	}
	m.logf("Recover (process %d): %+v", p.n, rep)
	if err := m.model.InDoubt(rep.InDoubt); err != nil {
		m.fatalf("%v", err)
	}
	for _, name := range rep.Removed {
		if !strings.HasSuffix(name, layout.LockSuffix) || strings.Contains(name, "/") {
			continue // a stray tmp file, or a half-done dead-letter move
		}
		id, err := ulid.Parse(strings.TrimSuffix(strings.TrimPrefix(name, layout.PendingPrefix), layout.LockSuffix))
		if r := m.model.Record(id); err == nil && r != nil && r.Loc&InPending != 0 {
			m.fatalf("R25: Recover removed the lock %s of a pending record", name)
		}
	}
	// Stray tmp files older than the grace period are gone (R25).
	now := m.clock.Now()
	for _, name := range m.mem.Names(".") {
		if !strings.HasSuffix(name, ".json.tmp") || m.foreign[name] {
			continue
		}
		fi, err := m.admin.Lstat(name)
		if err == nil && now.Sub(fi.ModTime) >= m.opts.TmpGrace {
			m.fatalf("R25: Recover left the stray %s, %v old", name, now.Sub(fi.ModTime))
		}
	}
	m.settle(nil, true)
}

func (m *machine) actRequeue(c chooser) {
	var dead []ulid.ULID
	for _, id := range m.model.In(InDeadLetter) {
		if !m.model.Record(id).Held {
			dead = append(dead, id)
		}
	}
	if len(dead) == 0 {
		m.actIngest(c)
		return
	}
	p := m.pick(c)
	id := dead[c.Intn(len(dead), "requeue")]
	m.logf("Requeue %s (process %d)", id, p.n)
	tr := m.model.Requeue(id)
	if err := p.q.Requeue(id); err != nil {
		m.fatalf("R17: Requeue(%s): %v", id, err)
	}
	m.settle([]Transition{tr}, true)
	r := m.model.Record(id)
	r.Lock, r.PriorMin, r.PriorMax, r.Torn = No, 0, 0, false // a fresh attempt count
	m.model.Sync(InPending | InDeadLetter)
	for _, p := range m.procs {
		p.exact = false
	}
}

// ---- faults, crashes, power cuts ----

// faultOps are the file-system steps of append and ingest that a fault can
// hit, with the errnos a real disk returns.
var faultOps = []fsys.Op{fsys.OpOpen, fsys.OpWrite, fsys.OpSync, fsys.OpRename, fsys.OpSyncDir, fsys.OpRemove, fsys.OpFlock, fsys.OpRead, fsys.OpClose, fsys.OpSyncFS}

func (m *machine) actFault(c chooser) {
	p := m.pick(c)
	op := faultOps[c.Intn(len(faultOps), "fault op")]
	r := fsys.Rule{
		Op:    op,
		After: c.Intn(4, "fault after"),
		Times: 1,
		Err:   faultErrno(c, op),
		Short: c.Intn(2, "short") == 0,
	}
	m.logf("Fault (process %d) %v after %d: %v", p.n, r.Op, r.After, r.Err)
	p.fault.Inject(r)
	m.cutShort(p, c)
	p.fault.Reset()
	m.hook(p)
}

func (m *machine) actCrashAt(c chooser) {
	p := m.pick(c)
	p.crash, p.calls = 1+c.Intn(30, "crash at"), 0
	m.logf("CrashAt (process %d) call %d", p.n, p.crash)
	m.cutShort(p, c)
	p.crash = 0
	if p.killed {
		m.stop(p, true)
		m.start(p)
	}
}

// cutShort runs one operation on p while a fault or a crash is armed, and
// resolves the model with the outcomes that allows: each effect of the
// operation happened or not, but never half (R8), nothing else moved, and
// the attempt counts it touched become ranges.
func (m *machine) cutShort(p *proc, c chooser) {
	m.probing = false
	defer func() { m.probing = true }()
	p.tmps = nil
	switch c.Intn(5, "op") {
	case 0, 1:
		recs := make([][]byte, 1+c.Intn(3, "batch"))
		for i := range recs {
			recs[i] = genRecord(c, m.maxDep)
		}
		ids, err := p.q.AppendBatch(recs)
		var be *queue.BatchError
		switch {
		case err != nil && !p.killed && errors.As(err, &be) && len(be.Unwrap()) < len(recs):
			// R51: a fault failed some records; the others were
			// appended durably, and a fault may still have cut the
			// overflow prune short. A failed record left nothing (R8).
			var okIDs []ulid.ULID
			var okRecs [][]byte
			for i, e := range be.Errs {
				if e == nil {
					okIDs, okRecs = append(okIDs, ids[i]), append(okRecs, recs[i])
				}
			}
			for _, id := range p.tmps {
				if _, err := m.admin.Lstat("pending-" + id.String() + ".json.tmp"); err == nil {
					m.fatalf("R8: batch append (%v) left pending-%s.json.tmp", be, id)
				}
			}
			m.ackULIDs(p, okIDs)
			m.model.Append(okIDs, okRecs)
			m.afterAppend(p, okIDs, false)
			return
		case err == nil:
			// Committed; a fault or a crash may still have cut the
			// overflow prune short.
			m.ackULIDs(p, ids)
			m.model.Append(ids, recs)
			m.afterAppend(p, ids, false)
			return
		case p.killed:
			// The process died: each record whose tmp file was created
			// may have been renamed into place, not durably (R8, R9).
			var trs []Transition
			for i, id := range p.tmps {
				if i < len(recs) && m.model.Record(id) == nil {
					m.model.Add(Record{ID: id, Data: recs[i]})
					trs = append(trs, Transition{ID: id, To: InPending})
				}
			}
			for _, o := range m.procs {
				o.exact = o.exact && o == p
			}
			m.settle(trs, false)
		default:
			// A failed append leaves no pending file and no tmp file (R8).
			for _, id := range p.tmps {
				if _, err := m.admin.Lstat("pending-" + id.String() + ".json.tmp"); err == nil {
					m.fatalf("R8: failed append (%v) left pending-%s.json.tmp", err, id)
				}
			}
			m.settle(nil, true)
		}
	case 2, 3:
		d := drain{failAt: -1}
		if c.Intn(2, "max attempts") == 0 {
			d.maxAttempts = 1 + c.Intn(2, "max attempts")
			d.failAt, d.fail = c.Intn(3, "fail at"), Failure
		}
		evs := m.model.PlanIngest(d.failAt, d.fail, d.maxAttempts)
		calls, _, ierr := m.runDrain(p, d)
		var trs []Transition
		ci := 0
		left := false
		var se *queue.DataError
		if n := len(evs); n > 0 && evs[n-1].Kind == EvSchema && !(errors.As(ierr, &se) && errors.Is(ierr, queue.ErrSchemaVersion) && strings.Contains(se.Name, evs[n-1].ID.String())) {
			// R33: the drain did not stop at the record of a newer
			// schema: the fault hit its claim or read, it was left in
			// place, and the drain went on past it (or the fault stopped
			// the drain before, and nothing after happened): plan again
			// with that record passed over. Events past it may have
			// happened or not, which the uncertain settle allows.
			id := evs[n-1].ID
			r := m.model.Record(id)
			trs = append(trs, Transition{ID: id, From: r.Loc, To: r.Loc})
			r.Held = true
			evs = m.model.PlanIngest(d.failAt, d.fail, d.maxAttempts)
			r.Held = false
			left = true
		}
		for _, ev := range evs {
			if ev.Kind == EvCall {
				if ci == len(calls) {
					// The drain may have been cut short while it claimed
					// this record: a fresh lock file left behind reads
					// as one earlier attempt (R16).
					r := m.model.Record(ev.ID)
					trs = append(trs, Transition{ID: ev.ID, From: r.Loc, To: r.Loc})
					// Or the fault left this record (R33) and the
					// drain went on: later events may have happened.
					continue
				}
				cl := calls[ci]
				if cl.id != ev.ID && !left {
					// R33: the fault hit this record's claim or read;
					// it was left in place and the drain went on. One
					// fault leaves at most one record.
					left = true
					r := m.model.Record(ev.ID)
					trs = append(trs, Transition{ID: ev.ID, From: r.Loc, To: r.Loc})
					continue
				}
				if cl.id != ev.ID {
					m.fatalf("R7: handler call %d is for %s, the model expects %s", ci, cl.id, ev.ID)
				}
				// The handler fails its call number failAt, which is
				// not the planned event's index once a record was left.
				outcome := ev.Outcome
				if left {
					outcome = Success
					if ci == d.failAt {
						outcome = d.fail
					}
				}
				ci++
				tr, err := m.model.Call(cl.id, cl.data, cl.attempt, outcome, d.maxAttempts)
				if err != nil {
					m.fatalf("%v", err)
				}
				trs = append(trs, tr)
			} else if ev.Kind == EvQuarantine {
				trs = append(trs, m.model.Quarantine(ev.ID))
			} else if ev.Kind == EvSchema {
				r := m.model.Record(ev.ID) // claimed, then left: maybe a fresh lock file
				trs = append(trs, Transition{ID: ev.ID, From: r.Loc, To: r.Loc})
			}
		}
		if ci < len(calls) {
			m.fatalf("R7: handler called for %s, beyond the model's plan", calls[ci].id)
		}
		m.settle(trs, false)
	case 4:
		n := len(m.model.In(InPending))
		keep := c.Intn(n+1, "keep")
		victims, _ := m.model.Victims(keep, ulid.ULID{})
		trs := m.model.PruneTransitions(victims, queue.ReasonPruned)
		p.q.Prune(context.Background(), keep)
		m.settle(trs, false)
	}
}

func (m *machine) actPowerCut(c chooser) {
	// Always an adversarial outcome: Crash(nil) can lose a file moved
	// between two directories when only the source was fsynced since,
	// which a journaling file system never does (and Crash(rng) never
	// does either).
	rng := rand.New(rand.NewPCG(m.seed, uint64(c.Intn(1<<30, "crash seed"))))
	m.logf("PowerCut")
	m.mem = m.mem.Crash(rng)
	m.held = map[ulid.ULID]fsys.File{}
	m.views()
	for _, p := range m.procs {
		p.q.Close()
		m.start(p)
	}
	if err := m.model.PowerCut(m.observe()); err != nil {
		m.fatalf("power cut: %v", err)
	}
}

// run executes one step chosen by c among the actions, then the checks.
func (m *machine) step(c chooser, as []action, total int) {
	w := c.Intn(total, "action")
	for _, a := range as {
		if w < a.weight {
			m.steps++
			a.run(m, c)
			m.check()
			return
		}
		w -= a.weight
	}
}

// close releases what the machine holds.
func (m *machine) close() {
	for _, f := range m.held {
		f.Close()
	}
	for _, p := range m.procs {
		if p.q != nil {
			p.q.Close()
		}
	}
}

// AuditAll collects the audit log's entries through AuditEntries, skipping
// unreadable lines (a torn last line) and returning any other error: what
// the model and the fuzz targets compare with the lines they expect.
func AuditAll(q *queue.Queue) ([]queue.AuditEntry, error) {
	var out []queue.AuditEntry
	for e, err := range q.AuditEntries(context.Background()) {
		if errors.Is(err, queue.ErrAuditLine) {
			continue
		}
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
	return out, nil
}

// sameResult compares the counts of two Ingest or Prune results; the
// problems listed (R33) are not modelled, their count is (Left).
func sameResult(a, b queue.Result) bool {
	return [...]int{a.Delivered, a.Dropped, a.Skipped, a.Quarantined, a.DeadLettered, a.Failed, a.Left} ==
		[...]int{b.Delivered, b.Dropped, b.Skipped, b.Quarantined, b.DeadLettered, b.Failed, b.Left}
}
