package model

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/capq/capq/queue"
	"github.com/capq/capq/ulid"
)

// This file is the model: the spec as a few maps, with no I/O. Requirement
// numbers are those of spec/SPEC.md.

// Loc is a set of the places where a record's file is.
type Loc uint8

// The places. A record is usually in at most one; a power cut in the middle
// of a move (dead-lettering, quarantine) can leave it in two (spec R28).
const (
	InPending    Loc = 1 << iota // pending-<ULID>.json in the queue directory
	InDeadLetter                 // dead-letter/pending-<ULID>.json (R17)
	InQuarantine                 // quarantine/pending-<ULID>.json[.N] (R21)
	InUnsafe                     // a symlink under the pending name: never counted nor followed, quarantined by Ingest (R21, R22)
)

// String names the places in l, for failure messages.
func (l Loc) String() string {
	if l == 0 {
		return "gone"
	}
	var s []string
	for _, p := range []struct {
		l    Loc
		name string
	}{{InPending, "pending"}, {InDeadLetter, "dead-letter"}, {InQuarantine, "quarantine"}, {InUnsafe, "unsafe"}} {
		if l&p.l != 0 {
			s = append(s, p.name)
		}
	}
	return strings.Join(s, "+")
}

// Kind says what a pending file holds.
type Kind uint8

// The kinds of pending file.
const (
	Good    Kind = iota // a valid envelope: delivered to the handler
	Corrupt             // not a valid envelope: quarantined by Ingest and Prune (R21)
	Future              // an envelope of schema_version 2: stops Ingest, never quarantined (R14)
	Unsafe              // a symlink under a pending name (Loc InUnsafe)
)

// Tri is a yes, a no, or "either, until observed".
type Tri uint8

// The values of a Tri.
const (
	No Tri = iota
	Yes
	Maybe
)

// Record is the model of one record.
type Record struct {
	ID    ulid.ULID
	Data  []byte // the record's JSON exactly as the handler must receive it (R4); nil unless Good
	Kind  Kind
	Acked bool // Append returned the record's ULID (R9)

	// Loc is where the record's file is. Synced holds the bits of Loc
	// that a power cut cannot undo: those made durable by a directory
	// fsync that the spec requires (R9, R15, R17, R21). A place in which
	// Loc and Synced differ may go either way in a power cut.
	Loc, Synced Loc
	// Unsure holds the places whose durability a step cut short left
	// unknown: it may have fsynced a directory before it failed.
	Unsure Loc

	// PriorMin and PriorMax bound the earlier attempts the queue reads
	// from the record's lock file, so the next delivery's Attempt is in
	// [PriorMin+1, PriorMax+1]. They are equal, and exact, across process
	// crashes; a power cut or a fault leaves a range (R16).
	PriorMin, PriorMax int
	// Lock says whether the record's lock file exists: the crash marker
	// a failed or crashed delivery leaves (R11, R12, R25).
	Lock Tri
	// Held: a foreign consumer holds the record's lock, so Ingest and
	// Prune must skip it (R11, R18).
	Held bool
	// Torn: a power cut may have torn the lock file's last history line,
	// so the next line may merge with it and be lost: from then on the
	// count is only a lower bound, until the lock file goes (R16).
	Torn bool

	Calls     int  // handler calls for the record
	Highest   int  // the highest Attempt a handler call had
	Delivered int  // handler calls that succeeded
	Redeliver bool // another success is allowed: a crash, fault or power cut fell between a success and the durable delete (R15)
}

// AuditKey identifies an audit line by its reason and the ULID it names
// (dropped_ulid for drops, ulid for the others).
type AuditKey struct {
	Reason queue.Reason // the spec's reason strings are queue's constants (R20)
	ID     string
}

// Model is the specified state of one queue directory.
type Model struct {
	// MaxSize is the overflow bound of the queue (negative: none).
	MaxSize int
	// DeleteSyncEvery is the queue's Options.DeleteSyncEvery.
	DeleteSyncEvery int

	recs  map[ulid.ULID]*Record
	audit map[AuditKey]int // the lines of the audit log
	loose map[AuditKey]int // lines written but maybe not fsynced
}

// New returns the model of an empty queue.
func New(maxSize, deleteSyncEvery int) *Model {
	return &Model{
		MaxSize: maxSize, DeleteSyncEvery: deleteSyncEvery,
		recs:  map[ulid.ULID]*Record{},
		audit: map[AuditKey]int{},
		loose: map[AuditKey]int{},
	}
}

// Record returns the model of id, or nil.
func (m *Model) Record(id ulid.ULID) *Record { return m.recs[id] }

// Records returns every record the model knows, in ULID order.
func (m *Model) Records() []*Record {
	out := make([]*Record, 0, len(m.recs))
	for _, r := range m.recs {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *Record) int { return a.ID.Compare(b.ID) })
	return out
}

// In returns the ULIDs of the records in place l, oldest first: with
// InPending, what List must return and Count must count (R7).
func (m *Model) In(l Loc) []ulid.ULID {
	var ids []ulid.ULID
	for _, r := range m.Records() {
		if r.Loc&l != 0 {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

// Audit returns a copy of the audit lines the log must hold.
func (m *Model) Audit() map[AuditKey]int {
	out := make(map[AuditKey]int, len(m.audit))
	for k, n := range m.audit {
		out[k] = n
	}
	return out
}

// Add records a record that exists, or may exist, before a step: an
// appended record (Loc InPending, Acked), a planted file, or one whose
// append was cut short (Loc 0; the step's transitions say it may appear).
// It panics on a ULID the model knows: ULIDs never collide (R6).
func (m *Model) Add(r Record) *Record {
	if m.recs[r.ID] != nil {
		panic(fmt.Sprintf("model: ULID %s added twice", r.ID))
	}
	if r.Kind == Good {
		r.Data = TrimJSONSpace(r.Data)
	}
	p := &r
	m.recs[r.ID] = p
	return p
}

// Append models a successful Append or AppendBatch of records: each is
// pending, and durably so, since the directory was fsynced before the
// call returned (R9).
func (m *Model) Append(ids []ulid.ULID, data [][]byte) {
	for i, id := range ids {
		m.Add(Record{ID: id, Data: data[i], Acked: true, Loc: InPending})
	}
	m.Sync(InPending)
}

// Sync models a directory fsync: of the queue directory (InPending), of
// dead-letter/ or of quarantine/. It makes the current entries of that
// directory durable, for every record at once.
func (m *Model) Sync(dirs Loc) {
	for _, r := range m.recs {
		r.Synced = r.Synced&^dirs | r.Loc&dirs
		r.Unsure &^= dirs
	}
}

// SyncIDs makes the places dirs of the records ids durable, and no
// other record's: for a step cut short after some of its fsyncs, where a
// Sync of everything would claim too much.
func (m *Model) SyncIDs(ids []ulid.ULID, dirs Loc) {
	for _, id := range ids {
		if r := m.recs[id]; r != nil {
			r.Synced = r.Synced&^dirs | r.Loc&dirs
			r.Unsure &^= dirs
		}
	}
}

// Headroom is how far below MaxSize an overflow prune goes: a tenth of
// MaxSize, at least 1 and at most 100 (R18).
func Headroom(maxSize int) int { return min(max(maxSize/10, 1), 100) }

// Victims returns the records a prune down to keep must remove or
// quarantine, oldest first, and the number of pending records it starts
// from. A prune never touches newest or anything newer (the record whose
// append triggered an overflow prune, R18), and skips records whose lock
// is held; those stay. A negative keep means no limit: nothing is a
// victim (R18).
func (m *Model) Victims(keep int, newest ulid.ULID) (victims []ulid.ULID, count int) {
	pending := m.In(InPending)
	count = len(pending)
	excess := count - keep
	if keep < 0 || excess <= 0 {
		return nil, count
	}
	for _, id := range pending[:excess] {
		if !newest.IsZero() && id.Compare(newest) >= 0 {
			break
		}
		if !m.recs[id].Held {
			victims = append(victims, id)
		}
	}
	return victims, count
}

// OverflowDue reports whether an append that leaves count records pending
// must be followed by an overflow prune (R18).
func (m *Model) OverflowDue(count int) bool { return m.MaxSize >= 0 && count > m.MaxSize }

// PruneTransitions returns what a prune does to its victims: a corrupt
// file is quarantined, any other is deleted; each with its audit line,
// written before the file goes (R18, R20, R21).
func (m *Model) PruneTransitions(victims []ulid.ULID, reason queue.Reason) []Transition {
	var trs []Transition
	for _, id := range victims {
		r := m.recs[id]
		tr := Transition{ID: id, From: r.Loc, To: r.Loc &^ InPending, Line: AuditKey{reason, id.String()}}
		if r.Kind == Corrupt {
			tr.To |= InQuarantine
			tr.Line.Reason = queue.ReasonQuarantined
		}
		trs = append(trs, tr)
	}
	return trs
}

// Outcome is what a handler does with one delivery.
type Outcome uint8

// The handler outcomes.
const (
	Success Outcome = iota // returns nil: the record is deleted
	Failure                // returns an error: the record stays, or is dead-lettered (R12, R17)
	Crash                  // the consumer process dies inside the handler (R16, R25)
)

// EventKind is what Ingest does with one listed record.
type EventKind uint8

// The events of a drain.
const (
	EvSkip       EventKind = iota // locked by another consumer: skipped (R11)
	EvQuarantine                  // corrupt: moved aside, the drain goes on (R21)
	EvSchema                      // another schema_version: the drain stops (R14)
	EvCall                        // the handler is called
)

// Event is one step of a drain as the model plans it.
type Event struct {
	Kind    EventKind
	ID      ulid.ULID
	Outcome Outcome // for EvCall
}

// PlanIngest returns the events of an unbounded drain, oldest record first
// (R7, R11), whose handler call number failAt (0-based; negative for
// none) has outcome fail; the rest succeed. A failure stops the drain
// unless maxAttempts is set (R12, R17); a crash always does. Bounds
// (MaxRecords, Budget) cut the plan short: the machine checks that the
// drain did a prefix of it (R13).
func (m *Model) PlanIngest(failAt int, fail Outcome, maxAttempts int) []Event {
	var evs []Event
	calls := 0
	for _, id := range m.In(InPending | InUnsafe) {
		r := m.recs[id]
		switch {
		case r.Held:
			evs = append(evs, Event{Kind: EvSkip, ID: id})
		case r.Loc&InPending == 0 || r.Kind == Corrupt:
			evs = append(evs, Event{Kind: EvQuarantine, ID: id})
		case r.Kind == Future:
			return append(evs, Event{Kind: EvSchema, ID: id})
		default:
			out := Success
			if calls == failAt {
				out = fail
			}
			calls++
			evs = append(evs, Event{Kind: EvCall, ID: id, Outcome: out})
			if out == Crash || out == Failure && maxAttempts <= 0 {
				return evs
			}
		}
	}
	return evs
}

// Call checks one handler call against the model and applies its effect
// on the record's counters. It returns the transition of the record's
// file, to be confirmed by observation: a success deletes the record; the
// failure of its last allowed attempt dead-letters it (R17); anything else
// leaves it pending, with its lock file as the crash marker (R12).
func (m *Model) Call(id ulid.ULID, data []byte, attempt int, out Outcome, maxAttempts int) (Transition, error) {
	r := m.recs[id]
	switch {
	case r == nil:
		return Transition{}, fmt.Errorf("handler called for %s, which was never appended", id)
	case r.Loc&InPending == 0:
		return Transition{}, fmt.Errorf("handler called for %s, which is not pending (%v)", id, r.Loc)
	case r.Kind != Good:
		return Transition{}, fmt.Errorf("handler called for %s, which is not a valid envelope", id)
	case !bytes.Equal(data, r.Data):
		return Transition{}, fmt.Errorf("R4: handler got %q for %s, appended %q", data, id, r.Data)
	case attempt < r.PriorMin+1 || attempt > r.PriorMax+1:
		return Transition{}, fmt.Errorf("R16: delivery of %s has Attempt %d, want %d..%d", id, attempt, r.PriorMin+1, r.PriorMax+1)
	case out == Success && r.Delivered > 0 && !r.Redeliver:
		return Transition{}, fmt.Errorf("%s delivered twice without a crash, fault or power cut in between", id)
	}
	r.Calls++
	r.Highest = max(r.Highest, attempt)
	tr := Transition{ID: id, From: r.Loc, To: r.Loc, Attempt: attempt}
	switch {
	case out == Success:
		r.Delivered++
		r.Redeliver = false
		r.Lock, r.PriorMin, r.PriorMax = No, 0, 0
		tr.To = r.Loc &^ InPending
		tr.Delivery = true
	case out == Failure && maxAttempts > 0 && attempt >= maxAttempts:
		r.Lock, r.PriorMin, r.PriorMax = No, 0, 0
		tr.To = r.Loc&^InPending | InDeadLetter
		tr.Line = AuditKey{queue.ReasonDeadLetter, id.String()}
	default:
		r.Lock, r.PriorMin, r.PriorMax = Yes, attempt, attempt
		if r.Torn {
			r.PriorMin = 1
		}
	}
	if r.Lock == No {
		r.Torn = false
	}
	return tr, nil
}

// Quarantine returns the transition of a corrupt pending file, or a
// symlink under a pending name, that Ingest moves aside (R21).
func (m *Model) Quarantine(id ulid.ULID) Transition {
	r := m.recs[id]
	from := InPending
	if r.Loc&InPending == 0 {
		from = InUnsafe
	}
	return Transition{ID: id, From: r.Loc, To: r.Loc&^from | InQuarantine, Line: AuditKey{queue.ReasonQuarantined, id.String()}}
}

// Requeue returns the transition of a dead letter put back (R17).
func (m *Model) Requeue(id ulid.ULID) Transition {
	r := m.recs[id]
	return Transition{ID: id, From: r.Loc, To: r.Loc&^InDeadLetter | InPending, Line: AuditKey{queue.ReasonRequeued, id.String()}}
}

// Transition is a change of one record's place that a step makes, or may
// make.
type Transition struct {
	ID       ulid.ULID
	From, To Loc
	// Line is the audit line that must be in the log once the record is
	// in To (an empty Reason for none): it is written before the move
	// (R20), so a step cut short may leave it with the record still in
	// From.
	Line AuditKey
	// Delivery marks a handler success: if the delete did not happen, the
	// record may be delivered again (R15).
	Delivery bool
	// Attempt is the attempt number of a handler call, for the lock file
	// a cut-short delivery leaves behind.
	Attempt int
}

// Observation is the state of the real queue after a step.
type Observation struct {
	Locs  map[ulid.ULID]Loc // where each record's file is (absent: gone)
	Audit map[AuditKey]int  // the lines of the audit log
}

// Resolve checks an observation against the model after a step that made
// the transitions trs, and adopts it. With certain set, the step
// completed and every transition must have happened; otherwise (a fault
// or a crash cut it short) each may or may not have, and the lines of
// those that did not are optional. Records without a transition must not
// have moved. A moved record needs its audit line; no line may appear
// that no transition explains; no line may vanish.
//
// Resolve does not change durability: the caller applies the directory
// fsyncs that the step's success guarantees (Sync).
func (m *Model) Resolve(obs Observation, trs []Transition, certain bool) error {
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	byID := make(map[ulid.ULID]Transition, len(trs))
	for _, tr := range trs {
		byID[tr.ID] = tr
	}
	for id, l := range obs.Locs {
		if m.recs[id] == nil && l != 0 {
			fail("unknown record %s in %v: nothing appended it", id, l)
		}
	}
	required, optional := map[AuditKey]int{}, map[AuditKey]int{}
	for _, r := range m.Records() {
		got := obs.Locs[r.ID]
		tr, ok := byID[r.ID]
		switch {
		case !ok:
			if got != r.Loc {
				fail("%s is %v, want %v (no step moved it)", r.ID, got, r.Loc)
			}
		case got == tr.To && (certain || got != tr.From):
			if tr.Line.Reason != "" && tr.From != tr.To {
				required[tr.Line]++
			}
		case got == tr.From && !certain:
			if tr.Line.Reason != "" {
				optional[tr.Line]++
			}
			if tr.Delivery { // the handler succeeded, the delete did not happen
				r.Redeliver = true
				r.Lock, r.PriorMin, r.PriorMax = Maybe, 0, max(r.PriorMax, tr.Attempt)
			}
		default:
			want := tr.To.String()
			if !certain {
				want = tr.From.String() + " or " + tr.To.String()
			}
			fail("%s is %v, want %s", r.ID, got, want)
		}
		if ok && !certain && !tr.Delivery {
			// A fault or crash may leave a fresh lock file behind, or
			// remove one: the attempt count is a range now (R16).
			r.Lock, r.PriorMin, r.PriorMax = Maybe, 0, max(r.PriorMax, tr.Attempt, 1)
		}
	}
	added := false
	for _, k := range keys(obs.Audit, m.audit, required) {
		have, was := obs.Audit[k], m.audit[k]
		switch {
		case have < was:
			fail("R20: audit log lost %d line(s) %v", was-have, k)
		case have-was < required[k]:
			fail("R20: %s %s moved without an audit line (%s)", k.ID, what(trs, k), k.Reason)
		case have-was > required[k]+optional[k]:
			fail("R20: audit log has %d unexplained line(s) %v", have-was-required[k], k)
		}
		if have > was {
			added = true
			if !certain {
				m.loose[k] += have - was
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	for id, r := range m.recs {
		if got := obs.Locs[id]; !certain && got != r.Loc {
			// The step may have fsynced the source or the destination
			// of the move before it was cut short, or neither.
			r.Unsure |= got ^ r.Loc
		}
		r.Loc = obs.Locs[id]
	}
	for k := range m.audit {
		delete(m.audit, k)
	}
	for k, n := range obs.Audit {
		m.audit[k] = n
	}
	if added && certain {
		// A successful audit write fsyncs the whole log (R20).
		clear(m.loose)
	}
	return nil
}

func what(trs []Transition, k AuditKey) string {
	for _, tr := range trs {
		if tr.Line == k {
			return "went from " + tr.From.String() + " to " + tr.To.String()
		}
	}
	return "moved"
}

func keys(maps ...map[AuditKey]int) []AuditKey {
	var ks []AuditKey
	for _, mp := range maps {
		for k := range mp {
			if !slices.Contains(ks, k) {
				ks = append(ks, k)
			}
		}
	}
	slices.SortFunc(ks, func(a, b AuditKey) int { return strings.Compare(string(a.Reason)+a.ID, string(b.Reason)+b.ID) })
	return ks
}

// PowerCut checks the state found after a power cut and adopts it. Every
// record must be where a power cut can leave it: in each place where its
// current and its durable state differ it may be in either, but a record
// that was durably somewhere and still is somewhere is never lost
// altogether (a rename is one journal transaction). So an acknowledged
// append is never lost (R9), and a record delivered since the last
// directory fsync may come back (R15). Audit lines that were written but
// maybe not fsynced may vanish; no other line may (R20). Lock files and
// their histories are not fsynced, so attempt counts become ranges (R16).
func (m *Model) PowerCut(obs Observation) error {
	var errs []string
	for id, l := range obs.Locs {
		if m.recs[id] == nil && l != 0 {
			errs = append(errs, fmt.Sprintf("unknown record %s in %v after the power cut", id, l))
		}
	}
	for _, r := range m.Records() {
		got := obs.Locs[r.ID]
		fixed := ^(r.Loc ^ r.Synced) &^ r.Unsure // places where current and durable agree
		lost := got == 0 && r.Loc != 0 && r.Synced != 0 && r.Unsure == 0
		if got&^(r.Loc|r.Synced|r.Unsure) != 0 || (got^r.Loc)&fixed != 0 || lost {
			errs = append(errs, fmt.Sprintf("%s is %v after the power cut; it was %v, durably %v", r.ID, got, r.Loc, r.Synced))
		}
	}
	for _, k := range keys(obs.Audit, m.audit) {
		have, was := obs.Audit[k], m.audit[k]
		if have > was || have < was-m.loose[k] {
			errs = append(errs, fmt.Sprintf("R20: audit log has %d line(s) %v after the power cut, want %d..%d", have, k, was-m.loose[k], was))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	for _, r := range m.recs {
		r.Loc = obs.Locs[r.ID]
		r.Synced, r.Unsure = r.Loc, 0 // what survived is on the disk
		if r.Loc&InPending != 0 && r.Delivered > 0 {
			r.Redeliver = true // R15: the delete was not durable yet
		}
		// Locks do not survive; lock files and their histories are not
		// fsynced, so one may be gone, or back (a delete undone) with any
		// attempt it ever recorded, or empty: one.
		r.Held = false
		r.Lock, r.Torn = Maybe, true
		r.PriorMin, r.PriorMax = 0, max(r.PriorMax, r.Highest, 1)
	}
	clear(m.audit)
	for k, n := range obs.Audit {
		m.audit[k] = n
	}
	clear(m.loose)
	return nil
}

// InDoubt checks Recover's list of records in doubt against the model
// (R25): a pending record whose lock file exists and is not held. Where the
// model is unsure whether a lock file exists, the observation decides.
func (m *Model) InDoubt(got []ulid.ULID) error {
	var errs []string
	for _, r := range m.Records() {
		in := slices.Contains(got, r.ID)
		want := r.Loc&InPending != 0 && !r.Held && r.Lock != No
		sure := r.Lock != Maybe || !want
		switch {
		case in && !want:
			errs = append(errs, fmt.Sprintf("R25: Recover reports %s in doubt; it is %v, lock %v, held %v", r.ID, r.Loc, r.Lock, r.Held))
		case !in && want && sure:
			errs = append(errs, fmt.Sprintf("R25: Recover does not report %s in doubt; its lock file is there", r.ID))
		}
		if want && r.Lock == Maybe {
			if in {
				r.Lock, r.PriorMin = Yes, max(r.PriorMin, 1)
			} else {
				r.Lock, r.PriorMin, r.PriorMax, r.Torn = No, 0, 0, false
			}
		}
	}
	for _, id := range got {
		if m.recs[id] == nil {
			errs = append(errs, fmt.Sprintf("R25: Recover reports unknown record %s in doubt", id))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}

// Hold models a foreign consumer taking a record's lock, creating the lock
// file if it is missing. An empty lock file reads as one earlier attempt
// whose outcome nobody recorded (R16).
func (m *Model) Hold(id ulid.ULID) {
	r := m.recs[id]
	r.Held = true
	if r.Lock != Yes {
		r.PriorMin = max(r.PriorMin, 1)
		r.PriorMax = max(r.PriorMax, 1)
		r.Lock = Yes
	}
}

// Release models the foreign consumer letting the lock go.
func (m *Model) Release(id ulid.ULID) { m.recs[id].Held = false }

// TrimJSONSpace returns b without the JSON white space around it: the
// bytes a record keeps (R4).
func TrimJSONSpace(b []byte) []byte {
	return bytes.Trim(b, " \t\r\n")
}
