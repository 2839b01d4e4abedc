package model

import (
	"errors"
	"os"
	"slices"
	"strings"

	"github.com/capq/capq/internal/fsys"
	"github.com/capq/capq/internal/layout"
	"github.com/capq/capq/queue"
	"github.com/capq/capq/ulid"
)

// This file widens the machine's fault model (issue #11): permission
// errors on opens, special files at the names capq keeps its books under,
// a file system out of inodes, and consumers whose handler runs in a child
// process that outlives them.

// openErrnos are what an open can fail with beyond a failing disk:
// EACCES and EPERM (a file left by `sudo capq`, an immutable file).
var openErrnos = []error{fsys.EACCES, fsys.EPERM}

// faultErrno chooses the errno of a fault on op: the disk's (EIO, ENOSPC,
// EDQUOT), and for opens also the permission errors.
func faultErrno(c chooser, op fsys.Op) error {
	errs := []error{fsys.EIO, fsys.ENOSPC, fsys.EDQUOT}
	if op == fsys.OpOpen {
		errs = append(errs, openErrnos...)
	}
	return errs[c.Intn(len(errs), "errno")]
}

// actNoInodes runs one operation on a file system out of inodes: every
// create fails with ENOSPC, existing files still work (fsys.
// InodeExhaustion). The operation is checked as any cut short by a fault:
// each effect whole or not at all (R8), nothing acknowledged lost.
func (m *machine) actNoInodes(c chooser) {
	p := m.pick(c)
	drainOnly := c.Intn(2, "no inodes drain") == 0
	m.logf("NoInodes (process %d, drain %v)", p.n, drainOnly)
	for _, r := range fsys.InodeExhaustion() {
		p.fault.Inject(r)
	}
	if drainOnly {
		m.drainWithoutInodes(p)
	} else {
		m.cutShort(p, c)
	}
	p.fault.Reset()
	m.hook(p)
}

// drainWithoutInodes runs an Ingest, whose handler always succeeds, on a
// file system out of inodes. R32: draining can always free space. A claim
// whose lock file cannot be created turns a spare file into it, so while
// spares are left the drain delivers: with at least one spare and a record
// to deliver, at least one is delivered. The records it could not claim
// are left where they are (R33); each planned event happened or not, in
// order (R7), never half (R8).
func (m *machine) drainWithoutInodes(p *proc) {
	m.probing = false
	defer func() { m.probing = true }()
	spares := 0
	for _, name := range m.mem.Names(".") {
		if strings.HasPrefix(name, ".capq-spare-") {
			if fi, err := m.admin.Lstat(name); err == nil && fi.IsRegular() && fi.Size == 0 {
				spares++
			}
		}
	}
	// Plan past records of a newer schema: one the drain could not claim
	// is left, and the drain goes on (R33).
	var futures []ulid.ULID
	for _, id := range m.model.In(InPending) {
		if r := m.model.Record(id); r.Kind == Future && !r.Held {
			r.Held = true
			futures = append(futures, id)
		}
	}
	evs := m.model.PlanIngest(-1, Success, 0)
	for _, id := range futures {
		m.model.Record(id).Held = false
	}
	_, auditErr := m.admin.Lstat(layout.AuditLogName)
	calls, res, ierr := m.runDrain(p, drain{failAt: -1})
	var trs []Transition
	planned, ci := 0, 0
	stopped := errors.Is(ierr, queue.ErrSchemaVersion) // R14: a future record it could claim stops it
	reachedFuture := false
	for _, ev := range evs {
		r := m.model.Record(ev.ID)
		switch ev.Kind {
		case EvCall:
			if !stopped || !reachedFuture {
				planned++ // a record the drain must reach
			}
			if ci < len(calls) && calls[ci].id == ev.ID {
				tr, err := m.model.Call(calls[ci].id, calls[ci].data, calls[ci].attempt, Success, 0)
				if err != nil {
					m.fatalf("%v", err)
				}
				ci++
				trs = append(trs, tr)
				continue
			}
			trs = append(trs, Transition{ID: ev.ID, From: r.Loc, To: r.Loc}) // left
		case EvQuarantine:
			trs = append(trs, m.model.Quarantine(ev.ID))
		case EvSkip:
			if slices.Contains(futures, ev.ID) {
				reachedFuture = true
				trs = append(trs, Transition{ID: ev.ID, From: r.Loc, To: r.Loc})
			}
		}
	}
	if ci < len(calls) {
		m.fatalf("R7: out of inodes, the handler was called for %s out of the model's order %v", calls[ci].id, evs)
	}
	if ierr != nil && !stopped {
		m.fatalf("R32, R33: out of inodes, Ingest failed: %v", ierr)
	}
	// Each claim before the first deliverable record may use up a spare
	// (a corrupt record's, a future one's), and the first quarantine one
	// more for the audit log if it is missing: with as many spares as
	// that, the first deliverable record must be delivered.
	need, quarantines := 0, 0
	for _, ev := range evs {
		if ev.Kind == EvCall {
			need++
			break
		}
		if ev.Kind == EvQuarantine {
			quarantines++
		}
		if ev.Kind == EvQuarantine || slices.Contains(futures, ev.ID) {
			need++
		}
	}
	if auditErr != nil && quarantines > 0 {
		need++ // the first quarantine makes the missing audit log from a spare
	}
	if spares >= need && planned > 0 && res.Delivered == 0 {
		m.fatalf("R32: out of inodes with %d spare file(s), a drain of %d deliverable record(s) delivered none: %+v, %v", spares, planned, res, ierr)
	}
	m.settle(trs, false)
}

// sideNames are the side paths a drain may need besides the record:
// the quarantine and dead-letter folders and the audit log (R33).
var sideNames = []string{layout.QuarantineDir, layout.DeadLetterDir, layout.AuditLogName}

// savedPrefix names where a side path waits while a hostile entry takes its
// name: a name the queue ignores (kindForeign).
const savedPrefix = "saved-"

// actSideBroken plants a hostile entry at one side path (a FIFO, a
// symlink to outside the queue, or a regular file where a folder belongs)
// and drains, with a corrupt record planted so that the quarantine is
// needed, and maybe with a handler whose first call fails its last allowed
// attempt, so that a dead letter is needed. R33: a broken side path never
// stops the main path. Every record the model plans to deliver is
// delivered, in order, with its attempt number; a record that needs the
// broken side path stays where it is (a corrupt one, when the quarantine
// or the audit log, which every quarantine and dead letter writes first,
// is broken: untouched; one whose attempts are used up, when the
// dead-letter folder or the audit log is broken: pending with its lock
// file, to be moved after its next failure); no open blocks on the FIFO
// (R31).
func (m *machine) actSideBroken(c chooser) {
	name := sideNames[c.Intn(len(sideNames), "side path")]
	kind := c.Intn(3, "side kind")
	p := m.pick(c)
	saved := false
	if _, err := m.admin.Lstat(name); err == nil {
		if err := m.admin.Rename(name, savedPrefix+name); err != nil {
			m.fatalf("save %s: %v", name, err)
		}
		saved = true
	}
	var err error
	switch kind {
	case 0:
		err = m.mem.Mkfifo(name)
	case 1:
		err = m.mem.Symlink("/etc", name)
	default:
		if name == layout.AuditLogName {
			err = m.mem.Symlink("/etc/passwd", name)
		} else {
			err = m.mem.WriteFile(name, []byte("not a folder\n"), 0o600)
		}
	}
	if err != nil {
		m.fatalf("plant at %s: %v", name, err)
	}
	bad := m.newID()
	m.plant("pending-"+bad.String()+".json", []byte(`{"ulid":`))
	m.model.Add(Record{ID: bad, Kind: Corrupt, Loc: InPending, Synced: InPending})
	d := drain{failAt: -1}
	if c.Intn(2, "dead letter needed") == 0 {
		d = drain{failAt: 0, fail: Failure, maxAttempts: 1}
	}
	m.logf("SideBroken %s (kind %d), Ingest (process %d) %+v", name, kind, p.n, d)

	evs := m.model.PlanIngest(d.failAt, d.fail, d.maxAttempts)
	calls, res, ierr := m.runDrain(p, d)
	quarantineOff := name == layout.QuarantineDir || name == layout.AuditLogName
	deadOff := name == layout.DeadLetterDir || name == layout.AuditLogName

	// Put the side path back before anything looks at the directory.
	if err := m.admin.Remove(name); err != nil {
		m.fatalf("remove the planted %s: %v", name, err)
	}
	if saved {
		if err := m.admin.Rename(savedPrefix+name, name); err != nil {
			m.fatalf("restore %s: %v", name, err)
		}
	}
	if err := m.admin.SyncDir("."); err != nil {
		m.fatalf("%v", err)
	}

	var trs []Transition
	var want queue.Result
	ci := 0
	for _, ev := range evs {
		switch ev.Kind {
		case EvSkip:
			want.Skipped++
		case EvSchema:
			if !errors.Is(ierr, queue.ErrSchemaVersion) {
				m.fatalf("R14: drain with %s broken reached %s (schema_version 2) and returned %v", name, ev.ID, ierr)
			}
			ierr = nil
		case EvQuarantine:
			if quarantineOff {
				// R33: left in place, its bytes untouched; a lock file
				// its claim made may or may not be left (R16).
				want.Left++
				r := m.model.Record(ev.ID)
				r.Lock, r.PriorMin, r.PriorMax = Maybe, 0, max(r.PriorMax, 1)
				continue
			}
			want.Quarantined++
			trs = append(trs, m.model.Quarantine(ev.ID))
		case EvCall:
			if ci == len(calls) || calls[ci].id != ev.ID {
				m.fatalf("R33: with %s broken the drain did not deliver %s (handler calls %d of the plan %v; result %+v, %v)", name, ev.ID, ci, evs, res, ierr)
			}
			cl := calls[ci]
			ci++
			maxAttempts := d.maxAttempts
			if ev.Outcome == Failure {
				want.Failed++
				switch {
				case deadOff:
					// R33: stays pending with its lock file and history.
					want.Left++
					maxAttempts = 0
				default:
					want.DeadLettered++
				}
			} else {
				want.Delivered++
			}
			tr, err := m.model.Call(cl.id, cl.data, cl.attempt, ev.Outcome, maxAttempts)
			if err != nil {
				m.fatalf("%v", err)
			}
			trs = append(trs, tr)
		}
	}
	switch {
	case ierr != nil:
		m.fatalf("R33: Ingest with %s broken: %v", name, ierr)
	case ci < len(calls):
		m.fatalf("R7: handler called for %s beyond the plan %v", calls[ci].id, evs)
	case res.Delivered != want.Delivered || res.Quarantined != want.Quarantined || res.Left != want.Left ||
		res.Skipped != want.Skipped || res.Failed != want.Failed || res.DeadLettered != want.DeadLettered:
		m.fatalf("R33: Ingest with %s broken: result %+v, the model counts %+v", name, res, want)
	}
	m.settle(trs, true)
	m.model.Sync(InPending) // the restore fsynced the root
	m.model.Sync(movedTo(trs, InQuarantine|InDeadLetter))
	for _, o := range m.procs {
		o.exact = false
	}
}

// holdForChild plays the child process of a handler (R39): when the
// consumer dies in the middle of the handler, the child, which inherited
// the locked descriptor, keeps the record locked. The holder view takes the
// lock at the instant the consumer's view is killed (nothing runs in
// between, as nothing can on a real system: the lock never becomes free).
func (m *machine) holdForChild(id ulid.ULID) {
	f, err := m.holder.OpenFile("pending-"+id.String()+".lock", os.O_RDWR, 0)
	if err != nil {
		m.fatalf("R39: the child of the handler of %s cannot open its lock file: %v", id, err)
	}
	if err := f.Flock(fsys.LockExclusive | fsys.LockNonBlocking); err != nil {
		m.fatalf("R39: the child of the handler of %s cannot keep its lock: %v", id, err)
	}
	m.held[id] = f
}

// checkNoHang fails the run if any open of a FIFO was made without
// O_NONBLOCK: on a real system it would have hung (R31).
func (m *machine) checkNoHang() {
	if n := m.mem.BlockedOpens(); n > 0 {
		m.fatalf("R31: %d open(s) of a FIFO without O_NONBLOCK: each would hang", n)
	}
}
