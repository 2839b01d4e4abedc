package conform

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/capq/capq/internal/layout"
	"github.com/capq/capq/model"
	"github.com/capq/capq/queue"
	"github.com/capq/capq/ulid"
)

// The campaign: random requests and SIGKILLs at request boundaries,
// judged after every step by package model, the one model of the spec.
// Its steps are drawn from the seed before the run, and no step depends on
// timing, so that a failing run replays exactly and can be shrunk to a
// minimal list of steps. (A SIGKILL in the middle of an append falls where
// the timing puts it: that is the crash-append probe's, R8.)

// campStep is one step of the campaign.
type campStep struct {
	kind string // append, invalid, list, count, ingest, prune, restart, crash
	rec  string
	fail int // ingest: the failing call (-1: none)
	maxA int // ingest: max_attempts
	keep float64
}

func campaignSteps(seed uint64, n int) []campStep {
	rng := rand.New(rand.NewPCG(seed, 0x63616d70))
	out := make([]campStep, n)
	for i := range out {
		st := campStep{fail: -1}
		switch op := rng.IntN(100); {
		case op < 35:
			st.kind, st.rec = "append", campRecord(rng)
		case op < 40:
			st.kind, st.rec = "invalid", notJSON[rng.IntN(len(notJSON))]
		case op < 50:
			st.kind = "list"
		case op < 57:
			st.kind = "count"
		case op < 77:
			st.kind = "ingest"
			if rng.IntN(3) == 0 {
				st.fail = rng.IntN(4)
			}
			if rng.IntN(2) == 0 {
				st.maxA = 1 + rng.IntN(3)
			}
		case op < 84:
			st.kind, st.keep = "prune", rng.Float64()
		case op < 92:
			st.kind = "restart"
		default:
			st.kind, st.rec = "crash", campRecord(rng)
		}
		out[i] = st
	}
	return out
}

// notJSON are records no JSON parser accepts: the campaign's invalid
// appends. (Records a lenient parser takes, such as NaN or a bare array,
// are R5's probe; here they would fail every later step.)
var notJSON = []string{`{"a":1`, `{"a":1}{"b":2}`, `nope`, ``, `{"a":01}`, `{'a':1}`}

// campRecord returns one of the records every implementation keeps byte
// for byte (R4 has its own probes).
func campRecord(rng *rand.Rand) string {
	tmpl := []string{
		`{"n":%d}`, `{"s":"Привет 🧠 <a&b> %d"}`, `{"f":1.0,"z":-0.0,"i":%d}`, `{"big":1180591620717411303424,"k":%d}`,
		`{"nested":{"a":[1,{"b":null}],"k":%d}}`,
	}[rng.IntN(5)]
	return fmt.Sprintf(tmpl, rng.IntN(1000))
}

// campaign is the state of one campaign run.
type campaign struct {
	s    *Session
	m    *model.Model
	last string // the last ULID the running process returned (R6)
}

func probeCampaign(s *Session) error {
	steps := campaignSteps(s.seed, s.cfg.CampaignSteps)
	run := s.keep
	if run == nil {
		run = make([]int, len(steps))
		for i := range run {
			run[i] = i
		}
	}
	if err := s.Start(nil); err != nil {
		return err
	}
	c := &campaign{s: s, m: model.New(-1, 1)}
	for _, i := range run {
		if i < 0 || i >= len(steps) {
			continue
		}
		s.ranSteps = append(s.ranSteps, i)
		st := steps[i]
		s.note("step %d: %s", i, st.kind)
		if err := c.step(st); err != nil {
			return fmt.Errorf("step %d (%s): %w", i, st.kind, err)
		}
		if err := c.settle(nil); err != nil {
			return fmt.Errorf("after step %d (%s): %w", i, st.kind, err)
		}
	}
	return nil
}

func (c *campaign) restart() error {
	c.last = ""
	return c.s.Restart()
}

func (c *campaign) step(st campStep) error {
	s := c.s
	switch st.kind {
	case "append":
		rep, err := s.Call(Request{Op: "append", Record: str(st.rec)})
		if err != nil {
			return err
		}
		if !rep.OK {
			return fmt.Errorf("R5: append of the valid record %s was refused: %s", st.rec, jsonOf(rep))
		}
		id, err := ulid.Parse(rep.ULID)
		if err != nil || id.String() != rep.ULID {
			return fmt.Errorf("R1: append replied %q, not a canonical ULID", rep.ULID)
		}
		if rep.ULID <= c.last {
			return fmt.Errorf("R6: append replied %s after %s from the same process", rep.ULID, c.last)
		}
		if c.m.Record(id) != nil {
			return fmt.Errorf("R6: append replied %s, a ULID already used", rep.ULID)
		}
		c.last = rep.ULID
		c.m.Append([]ulid.ULID{id}, [][]byte{[]byte(st.rec)})
	case "invalid":
		rep, err := s.Call(Request{Op: "append", Record: str(st.rec)})
		if err != nil {
			return err
		}
		if rep.OK || rep.Error != ErrKindInvalidRecord {
			return fmt.Errorf("R5: append of %s, which is not JSON: want error invalid_record, got %s", jsonOf(st.rec), jsonOf(rep))
		}
	case "list":
		rep, err := s.must(Request{Op: "list"})
		if err != nil {
			return err
		}
		if want := idStrings(c.m.In(model.InPending)); !slices.Equal(rep.ULIDs, want) && !(len(want) == 0 && len(rep.ULIDs) == 0) {
			return fmt.Errorf("R7: list replied %v, want %v, oldest first", rep.ULIDs, want)
		}
	case "count":
		rep, err := s.must(Request{Op: "count"})
		if err != nil {
			return err
		}
		if want := len(c.m.In(model.InPending)); rep.Count == nil || *rep.Count != want {
			return fmt.Errorf("R7: count replied %s, want %d", jsonOf(rep), want)
		}
	case "ingest":
		return c.ingest(st)
	case "prune":
		if !s.Features[FeaturePrune] {
			return nil
		}
		n := len(c.m.In(model.InPending))
		keep := int(st.keep * float64(n+1))
		victims, _ := c.m.Victims(keep, ulid.ULID{})
		trs := c.m.PruneTransitions(victims, queue.ReasonPruned)
		rep, err := s.must(Request{Op: "prune", Keep: &keep})
		if err != nil {
			return err
		}
		if rep.Dropped == nil || *rep.Dropped != len(victims) {
			return fmt.Errorf("R18: prune keep=%d of %d replied %s, want dropped %d", keep, n, jsonOf(rep), len(victims))
		}
		return c.settle(trs)
	case "restart":
		return c.restart()
	case "crash":
		// An acknowledged append survives the SIGKILL that follows its
		// reply (R9: durable before the reply; a process crash loses
		// nothing acknowledged).
		if err := c.step(campStep{kind: "append", rec: st.rec}); err != nil {
			return err
		}
		return c.restart()
	}
	return nil
}

func (c *campaign) ingest(st campStep) error {
	s := c.s
	maxA := 0
	if s.Features[FeatureDeadLetter] {
		maxA = st.maxA
	}
	evs := c.m.PlanIngest(st.fail, model.Failure, maxA)
	var outcomes []string
	calls := 0
	for _, ev := range evs {
		if ev.Kind == model.EvCall {
			calls++
		}
	}
	for i := range max(calls, st.fail+1) {
		o := "ok"
		if i == st.fail {
			o = "fail"
		}
		outcomes = append(outcomes, o)
	}
	rep, err := s.Call(Request{Op: "ingest", Outcomes: outcomes, MaxAttempts: maxA})
	if err != nil {
		return err
	}
	if !rep.OK {
		return fmt.Errorf("ingest failed: %s", jsonOf(rep))
	}
	var trs []model.Transition
	ci := 0
	for _, ev := range evs {
		if ev.Kind != model.EvCall {
			continue
		}
		if ci >= len(rep.Deliveries) {
			return fmt.Errorf("R11: ingest delivered %d records, want %d: %s missing", len(rep.Deliveries), calls, ev.ID)
		}
		d := rep.Deliveries[ci]
		if d.ULID != ev.ID.String() {
			return fmt.Errorf("R11: delivery %d is %s, want %s (oldest first, stopping at a failure)", ci+1, d.ULID, ev.ID)
		}
		r := c.m.Record(ev.ID)
		attempt := d.Attempt
		if !s.Features[FeatureAttempts] {
			attempt = r.PriorMin + 1 // not announced: not judged
		}
		tr, err := c.m.Call(ev.ID, []byte(d.Record), attempt, ev.Outcome, maxA)
		if err != nil {
			return err
		}
		trs = append(trs, tr)
		ci++
	}
	if ci < len(rep.Deliveries) {
		return fmt.Errorf("R11, R12: delivery %d of %s is one too many", ci+1, rep.Deliveries[ci].ULID)
	}
	return c.settle(trs)
}

// settle observes the directory and resolves the model (model.Resolve):
// every transition done, nothing else moved, every pending file whole with
// the record's bytes.
func (c *campaign) settle(trs []model.Transition) error {
	obs, err := c.observe(trs)
	if err != nil {
		return err
	}
	if err := c.m.Resolve(obs, trs, true); err != nil {
		return err
	}
	for _, id := range c.m.In(model.InPending) {
		r := c.m.Record(id)
		got, err := readRecord(c.s.Dir, id.String())
		if err != nil {
			return fmt.Errorf("R3: %v", err)
		}
		if r.Data != nil && !bytes.Equal(model.TrimJSONSpace(got), r.Data) {
			return fmt.Errorf("R4: pending-%s.json holds %s, appended as %s", id, got, r.Data)
		}
	}
	return nil
}

// observe reads where each record is: pending, dead-letter/, quarantine/,
// and the audit log's lines (synthesised from the transitions when the
// implementation does not announce audit).
func (c *campaign) observe(trs []model.Transition) (model.Observation, error) {
	dir := c.s.Dir
	obs := model.Observation{Locs: map[ulid.ULID]model.Loc{}, Audit: map[model.AuditKey]int{}}
	on, err := pendingOnDisk(dir)
	if err != nil {
		return obs, err
	}
	for _, id := range on {
		obs.Locs[ulid.MustParse(id)] |= model.InPending
	}
	for sub, loc := range map[string]model.Loc{layout.DeadLetterDir: model.InDeadLetter, layout.QuarantineDir: model.InQuarantine} {
		ents, _ := os.ReadDir(filepath.Join(dir, sub))
		for _, e := range ents {
			n := e.Name()
			if len(n) >= 8+26 && strings.HasPrefix(n, "pending-") && strings.HasPrefix(n[8+26:], ".json") {
				if id, err := ulid.Parse(n[8 : 8+26]); err == nil {
					obs.Locs[id] |= loc
				}
			}
		}
	}
	if !c.s.Features[FeatureAudit] {
		obs.Audit = c.m.Audit()
		for _, tr := range trs {
			if tr.Line.Reason != "" && tr.From != tr.To && obs.Locs[tr.ID] == tr.To {
				obs.Audit[tr.Line]++
			}
		}
		return obs, nil
	}
	es, _ := auditEntries(dir)
	for _, e := range es {
		id, reason := e.DroppedULID, e.Reason
		if id == "" {
			id = e.ULID
		}
		if reason == queue.ReasonOverflow {
			reason = queue.ReasonPruned // the reference writes one reason for both
		}
		obs.Audit[model.AuditKey{Reason: reason, ID: id}]++
	}
	return obs, nil
}

func idStrings(ids []ulid.ULID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}
