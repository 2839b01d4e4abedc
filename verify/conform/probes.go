package conform

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/capq/capq/internal/layout"
	"github.com/capq/capq/ulid"
)

// probes is the report card's rows, in order. Each probe's comment says
// what it does; every message it fails with names the requirement.
var probes = []Probe{
	{Name: "envelope", Req: "R2", Title: "Envelope as written", Level: LevelReference, run: probeEnvelope},
	{Name: "read-capq", Req: "R3", Title: "Envelope as read (capq's and the reference's shapes)", Level: LevelReference, run: probeReadCapq},
	{Name: "verbatim-values", Req: "R4", Title: "Verbatim record: Unicode, big and odd numbers", Level: LevelReference, run: probeVerbatimValues},
	{Name: "verbatim-bytes", Req: "R4", Title: "Verbatim record: bytes a parse-and-rewrite would change", Level: LevelHardened, run: probeVerbatimBytes},
	{Name: "invalid", Req: "R5", Title: "Record validation (not one JSON object, NaN, bounds)", Level: LevelHardened, run: probeInvalid},
	{Name: "ulid-clock", Req: "R6", Title: "ULIDs increase and never run ahead of the clock", Level: LevelHardened, run: probeULIDClock},
	{Name: "list-order", Req: "R7", Title: "List and Count, oldest first", Level: LevelReference, run: probeListOrder},
	{Name: "crash-append", Req: "R8", Title: "Atomicity of an append cut by SIGKILL", Level: LevelReference, run: probeCrashAppend},
	{Name: "durable-append", Req: "R9", Title: "Durability of appends (system-call trace)", Level: LevelDurable, run: probeDurableAppend},
	{Name: "lock-skip", Req: "R11", Title: "Lock protocol: a held record is skipped", Level: LevelReference, run: probeLockSkip},
	{Name: "interop", Req: "R11", Title: "Drains one directory with a capq consumer: no duplicate, no loss", Level: LevelReference, run: probeInterop},
	{Name: "handler-failure", Req: "R12", Title: "Handler failure stops the drain, keeps record and lock", Level: LevelReference, run: probeHandlerFailure},
	{Name: "schema", Req: "R14", Title: "A future schema_version stops the drain", Level: LevelReference, run: probeSchema},
	{Name: "lock-order", Req: "R11", Title: "Lock protocol in the trace: a record deleted before its lock goes", Level: LevelDurable, run: probeLockOrder},
	{Name: "durable-delete", Req: "R15", Title: "Durability of deletes (system-call trace)", Level: LevelDurable, run: probeDurableDelete},
	{Name: "attempts", Req: "R16", Title: "Attempt count across failures and restarts", Level: LevelHardened, Needs: []string{FeatureAttempts}, run: probeAttempts},
	{Name: "dead-letter", Req: "R17", Title: "Dead letters after MaxAttempts", Level: LevelHardened, Needs: []string{FeatureDeadLetter}, run: probeDeadLetter},
	{Name: "overflow", Req: "R18", Title: "Overflow: at most MaxSize pending, the oldest dropped", Level: LevelReference, Needs: []string{FeatureMaxSize}, run: probeOverflow},
	{Name: "overflow-headroom", Req: "R18", Title: "Overflow headroom a tenth of MaxSize; the newest kept", Level: LevelHardened, Needs: []string{FeatureMaxSize}, run: probeOverflowHeadroom},
	{Name: "prune-lock", Req: "R18", Title: "Prune skips a locked record; a dropped record's lock file goes with it", Level: LevelHardened, Needs: []string{FeaturePrune}, run: probePruneLock},
	{Name: "cost", Req: "R19", Title: "Append cost does not grow with the queue", Level: LevelHardened, run: probeCost},
	{Name: "audit", Req: "R20", Title: "An audit line for every dropped record", Level: LevelReference, Needs: []string{FeatureAudit}, run: probeAudit},
	{Name: "durable-audit", Req: "R20", Title: "Audit line durable before the record goes (system-call trace)", Level: LevelDurable, Needs: []string{FeatureAudit}, run: probeDurableAudit},
	{Name: "corrupt", Req: "R21", Title: "Corrupt files are quarantined and the drain goes on", Level: LevelHardened, run: probeCorrupt},
	{Name: "symlinks", Req: "R22", Title: "Symlinks into and out of the queue are never followed", Level: LevelHardened, run: probeSymlinks},
	{Name: "tmp-files", Req: "R22", Title: "Temporary files created O_EXCL|O_NOFOLLOW, none left behind (system-call trace)", Level: LevelHardened, run: probeTmpFiles},
	{Name: "lookalike", Req: "R23", Title: "Look-alike names are ignored", Level: LevelHardened, run: probeLookalike},
	{Name: "campaign", Req: "R7-R17", Title: "Random requests and restarts, judged by the model", Level: LevelReference, run: probeCampaign, steps: true},
}

func init() {
	// The probes that need features check them when the session starts.
	for i := range probes {
		p := &probes[i]
		run, needs := p.run, p.Needs
		if len(needs) == 0 {
			continue
		}
		p.run = func(s *Session) error {
			// The features the first hello of the run announced: no
			// process is started for a probe that cannot run.
			for _, f := range needs {
				if !s.cfg.features[f] {
					return errUnsupported("feature %q not announced", f)
				}
			}
			return run(s)
		}
	}
}

// simple is a record every implementation keeps byte for byte: the probes
// that are not about R4 use only such records, so that a queue that
// rewrites records fails R4 alone.
func simple(i int) string { return fmt.Sprintf(`{"n":%d,"s":"r%d"}`, i, i) }

func (s *Session) ingest(outcomes []string, maxAttempts int) (Reply, error) {
	return s.Call(Request{Op: "ingest", Outcomes: outcomes, MaxAttempts: maxAttempts})
}

func (s *Session) list() ([]string, error) {
	rep, err := s.must(Request{Op: "list"})
	return rep.ULIDs, err
}

func (s *Session) count() (int, error) {
	rep, err := s.must(Request{Op: "count"})
	if err != nil {
		return 0, err
	}
	if rep.Count == nil {
		return 0, fmt.Errorf("count replied %s without a count", jsonOf(rep))
	}
	return *rep.Count, nil
}

func deliveredIDs(ds []Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ULID
	}
	return out
}

var isoRe = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{6})?\+00:00$`)

// probeEnvelope: the file of an append is exactly the reference's envelope
// (R2): compact, keys in order, isoformat time, schema_version 1, mode 0600.
func probeEnvelope(s *Session) error {
	if err := s.Start(nil); err != nil {
		return err
	}
	rec := `{"surface":"Привет 🧠 <a&b>","n":1}`
	id, err := s.Append(rec)
	if err != nil {
		return err
	}
	path := filepath.Join(s.Dir, "pending-"+id+".json")
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("R1: append replied %s but pending-%s.json is not in the queue directory: %v", id, id, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("R1: pending-%s.json is not a regular file (%v)", id, fi.Mode())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	pre := `{"ulid":"` + id + `","appended_at":"`
	post := `","record":` + rec + `,"schema_version":1}`
	at, ok := strings.CutPrefix(string(data), pre)
	if ok {
		at, ok = strings.CutSuffix(at, post)
	}
	if !ok || !isoRe.MatchString(at) {
		return fmt.Errorf("R2: pending-%s.json holds %q; want %s<isoformat UTC>%s (compact, keys in order, non-ASCII raw, no newline)", id, data, pre, post)
	}
	if fi.Mode().Perm() != 0o600 {
		return fmt.Errorf("R2: pending-%s.json has mode %o, want 0600", id, fi.Mode().Perm())
	}
	return nil
}

// probeReadCapq plants envelopes in every shape a reader must accept (R3)
// and requires them delivered, oldest first.
func probeReadCapq(s *Session) error {
	ids := newIDSource(s.seed, time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC))
	shapes := []struct{ what, at, rec string }{
		{"isoformat with microseconds", "2020-01-02T03:04:05.120000+00:00", `{"shape":"micro"}`},
		{"isoformat without a fraction", "2020-01-02T03:04:05+00:00", `{"shape":"plain"}`},
		{"Z instead of +00:00", "2020-01-02T03:04:05.120000Z", `{"shape":"zulu"}`},
		{"three fraction digits", "2020-01-02T03:04:05.120Z", `{"shape":"millis"}`},
	}
	var want []string
	for _, sh := range shapes {
		id := ids.next()
		want = append(want, id)
		if err := s.Plant("pending-"+id+".json", envelope(id, sh.at, sh.rec, "1")); err != nil {
			return err
		}
	}
	// Keys in another order, as a reader must accept.
	id := ids.next()
	want = append(want, id)
	if err := s.Plant("pending-"+id+".json", fmt.Appendf(nil, `{"schema_version":1,"record":{"shape":"reordered"},"appended_at":"2020-01-02T03:04:05+00:00","ulid":"%s"}`, id)); err != nil {
		return err
	}
	if err := s.Start(nil); err != nil {
		return err
	}
	rep, err := s.ingest(nil, 0)
	if err != nil {
		return err
	}
	if !rep.OK {
		return fmt.Errorf("R3: ingest of envelopes capq and the reference write failed: %s", jsonOf(rep))
	}
	if got := deliveredIDs(rep.Deliveries); !slices.Equal(got, want) {
		return fmt.Errorf("R3: ingest delivered %v, want %v (shapes: micro, plain, Z, millis, reordered keys)", got, want)
	}
	return nil
}

// verbatimValues are records in the reference's own spellings (json.dumps
// with ensure_ascii off): every queue must hand them back byte for byte.
var verbatimValues = []string{
	`{"surface":"Привет, world! 🧠 Δ ∑ — combining e` + "\u0301" + ` vs é","cue":"c"}`,
	`{"n":1180591620717411303424,"f":1.0,"z":-0.0,"g":1e+16,"h":1.5e-07}`,
	`{"u64":18446744073709551615,"neg":-1180591620717411303424,"tiny":5e-324,"max":1.7976931348623157e+308,"f01":0.1}`,
	`{"ctl":"\u0000\u0001\t\n","html":"<script>&amp;</script>","seps":"line` + "\u2028" + `para` + "\u2029" + `"}`,
	`{"planes":"𐍈 𠀀 ` + "\U000f0000" + ` 👨` + "\u200d" + `👩","nested":{"a":[1,[2,{"b":null}]],"e":{},"l":[]},"t":true}`,
}

func probeVerbatimValues(s *Session) error { return verbatim(s, verbatimValues) }

// verbatimBytes are records a queue that decodes and re-encodes them
// would change (R4: the bytes are kept, not just the values).
var verbatimBytes = []string{
	`{"a": 1, "b" : [1, 2]}`,
	`{"n":1E5}`,
	`{"s":"\u00e9"}`,
	`{"a":1,"a":2}`,
	`{"x":1.10,"y":0e0,"z":-0}`,
	`{"big":123456789012345678901234567890.5}`,
	`{"s":"\/"}`,
	` {"ws":true}` + "\n",
}

func probeVerbatimBytes(s *Session) error { return verbatim(s, verbatimBytes) }

func verbatim(s *Session, recs []string) error {
	if err := s.Start(nil); err != nil {
		return err
	}
	var ids []string
	for _, r := range recs {
		rep, err := s.Call(Request{Op: "append", Record: str(r)})
		if err != nil {
			return err
		}
		if !rep.OK {
			return fmt.Errorf("R4: append of the valid record %s was refused: %s", r, jsonOf(rep))
		}
		ids = append(ids, rep.ULID)
	}
	rep, err := s.ingest(nil, 0)
	if err != nil {
		return err
	}
	if !rep.OK {
		return fmt.Errorf("ingest failed: %s", jsonOf(rep))
	}
	got := map[string]string{}
	for _, d := range rep.Deliveries {
		got[d.ULID] = d.Record
	}
	for i, id := range ids {
		want := strings.Trim(recs[i], " \t\r\n")
		r, ok := got[id]
		switch {
		case !ok:
			return fmt.Errorf("R4: %s (appended as %s) was not delivered", id, want)
		case r != want:
			return fmt.Errorf("R4: %s came back as %s", want, r)
		}
	}
	return nil
}

// invalidRecords must be refused with invalid_record (R5). Invalid UTF-8
// is not among them: a JSON string cannot carry it.
var invalidRecords = []string{`[1,2]`, `"text"`, `42`, `null`, `{"a":1`, `{"a":1}{"b":2}`, `nope`, ``, `{"a":NaN}`, `{"a":Infinity}`, `{"a":-Infinity}`, `{"a":01}`}

func probeInvalid(s *Session) error {
	if err := s.Start(nil); err != nil {
		return err
	}
	for _, r := range invalidRecords {
		rep, err := s.Call(Request{Op: "append", Record: str(r)})
		if err != nil {
			return err
		}
		if rep.OK || rep.Error != ErrKindInvalidRecord {
			return fmt.Errorf("R5: append %s: want error invalid_record, got %s", jsonOf(r), jsonOf(rep))
		}
	}
	// Over the bounds (R5: MaxRecordSize 4 MiB, MaxDepth 512), each in
	// its own request: a queue without bounds takes memory without end.
	big := `{"s":"` + strings.Repeat("x", 4<<20) + `"}`
	deep := `{"d":` + strings.Repeat("[", 600) + strings.Repeat("]", 600) + `}`
	for _, b := range []struct{ what, rec string }{{"a record over MaxRecordSize (4 MiB)", big}, {"a record nested 601 deep (MaxDepth 512)", deep}} {
		rep, err := s.Call(Request{Op: "append", Record: str(b.rec)})
		if err != nil {
			return err
		}
		if rep.OK || rep.Error != ErrKindInvalidRecord {
			return fmt.Errorf("R5: append of %s: want error invalid_record, got %s", b.what, jsonOf(rep))
		}
	}
	if on, _ := pendingOnDisk(s.Dir); len(on) > 0 {
		return fmt.Errorf("R5: refused appends left pending files %v", on)
	}
	return nil
}

// probeULIDClock: ULIDs from one process strictly increase and their time
// is never ahead of the checker's clock (R6), for appends and, with the
// ulids feature, for a burst of 20,000 from the append path's generator.
func probeULIDClock(s *Session) error {
	if err := s.Start(nil); err != nil {
		return err
	}
	last := ""
	check := func(id string, after time.Time, what string) error {
		if !ulid.Valid(id) {
			return fmt.Errorf("R1, R6: %s replied %q, not a canonical ULID", what, id)
		}
		if id <= last {
			return fmt.Errorf("R6: %s replied %s after %s from the same process", what, id, last)
		}
		last = id
		t, _ := ulid.TimeOf(id)
		if ahead := t.Sub(after); ahead > time.Millisecond {
			return fmt.Errorf("R6: %s replied %s, whose time %s is %s ahead of the checker's clock after the reply", what, id, t.UTC().Format(time.RFC3339Nano), ahead.Round(time.Millisecond))
		}
		return nil
	}
	if _, err := s.appendN(20, func(ids []string) error {
		return check(ids[len(ids)-1], time.Now(), "append")
	}); err != nil {
		return err
	}
	if !s.Features[FeatureULIDs] {
		return passWith("20 appends; no burst (the ulids feature is not announced)")
	}
	rep, err := s.must(Request{Op: "ulids", Count: 20000})
	if err != nil {
		return err
	}
	after := time.Now()
	if len(rep.ULIDs) != 20000 {
		return fmt.Errorf("ulids count=20000 replied %d ULIDs", len(rep.ULIDs))
	}
	for i, id := range rep.ULIDs {
		if err := check(id, after, fmt.Sprintf("ulid %d of a burst of 20000", i+1)); err != nil {
			return err
		}
	}
	return nil
}

func probeListOrder(s *Session) error {
	ids, err := s.startAppend(nil, 20)
	if err != nil {
		return err
	}
	got, err := s.list()
	if err != nil {
		return err
	}
	if !slices.Equal(got, ids) {
		return fmt.Errorf("R7: list replied %v, want the appended ULIDs oldest first %v", got, ids)
	}
	n, err := s.count()
	if err != nil {
		return err
	}
	if n != len(ids) {
		return fmt.Errorf("R7: count replied %d, want %d", n, len(ids))
	}
	on, err := pendingOnDisk(s.Dir)
	if err != nil {
		return err
	}
	if !slices.Equal(on, ids) {
		return fmt.Errorf("R1: the pending files are %v, want %v", on, ids)
	}
	return nil
}

// probeCrashAppend SIGKILLs the implementation while an append is in
// flight, five times, after delays the seed chooses (where the kill lands
// in the append depends on timing, so this probe alone does not replay
// exactly), and requires every pending file whole afterwards (R8).
func probeCrashAppend(s *Session) error {
	if err := s.Start(nil); err != nil {
		return err
	}
	rng := s.rng()
	known := map[string]string{}
	for round := range 5 {
		rec := simple(round)
		delay := time.Duration(rng.IntN(4000)) * time.Microsecond
		s.note("append %s, SIGKILL after %s", rec, delay)
		line := Request{Op: "append", Record: str(rec)}
		if err := s.proc.Send(line); err != nil {
			return err
		}
		time.Sleep(delay)
		s.Kill()
		if err := s.start(); err != nil {
			return err
		}
		on, err := pendingOnDisk(s.Dir)
		if err != nil {
			return err
		}
		for _, id := range on {
			got, err := readRecord(s.Dir, id)
			if err != nil {
				return fmt.Errorf("R8: after a SIGKILL during append: %v", err)
			}
			if w, ok := known[id]; ok && w != string(got) {
				return fmt.Errorf("R8: pending-%s.json changed from %s to %s", id, w, got)
			}
			if _, ok := known[id]; !ok && string(got) != rec {
				return fmt.Errorf("R8: pending-%s.json appeared holding %s; the append in flight was %s", id, got, rec)
			}
			known[id] = string(got)
		}
	}
	n, err := s.count()
	if err != nil {
		return err
	}
	if n != len(known) {
		return fmt.Errorf("R7: count replied %d; %d whole pending files are on disk", n, len(known))
	}
	return nil
}

func probeLockSkip(s *Session) error {
	ids, err := s.startAppend(nil, 3)
	if err != nil {
		return err
	}
	s.note("the checker takes flock(LOCK_EX) on pending-%s.lock, as another consumer", ids[0])
	release, err := holdLock(s.Dir, ids[0])
	if err != nil {
		return err
	}
	rep, err := s.ingest(nil, 0)
	release()
	if err != nil {
		return err
	}
	if got := deliveredIDs(rep.Deliveries); !rep.OK || !slices.Equal(got, ids[1:]) {
		return fmt.Errorf("R11: with %s's lock held by another consumer, ingest delivered %v (reply %s), want %v", ids[0], got, jsonOf(rep), ids[1:])
	}
	if on, _ := pendingOnDisk(s.Dir); !slices.Equal(on, ids[:1]) {
		return fmt.Errorf("R11: pending after the drain: %v, want %v", on, ids[:1])
	}
	s.note("the checker releases the lock")
	rep, err = s.ingest(nil, 0)
	if err != nil {
		return err
	}
	if got := deliveredIDs(rep.Deliveries); !rep.OK || !slices.Equal(got, ids[:1]) {
		return fmt.Errorf("R11: after the lock was released, ingest delivered %v (reply %s), want %v", got, jsonOf(rep), ids[:1])
	}
	if l := lockFiles(s.Dir); len(l) > 0 {
		return fmt.Errorf("R11: lock files %v stay after their records were delivered", l)
	}
	return nil
}

func probeHandlerFailure(s *Session) error {
	ids, err := s.startAppend(nil, 2)
	if err != nil {
		return err
	}
	a, b := ids[0], ids[1]
	rep, err := s.ingest([]string{"fail"}, 0)
	if err != nil {
		return err
	}
	if got := deliveredIDs(rep.Deliveries); !rep.OK || !slices.Equal(got, []string{a}) {
		return fmt.Errorf("R12: ingest whose handler fails on the first call: delivered %v (reply %s), want [%s] and the drain stopped", got, jsonOf(rep), a)
	}
	if on, _ := pendingOnDisk(s.Dir); !slices.Equal(on, []string{a, b}) {
		return fmt.Errorf("R12: after the failed handler the pending files are %v, want [%s %s]", on, a, b)
	}
	if _, err := os.Lstat(filepath.Join(s.Dir, "pending-"+a+".lock")); err != nil {
		return fmt.Errorf("R12: after the failed handler pending-%s.lock is gone; it must stay as the crash marker", a)
	}
	rep, err = s.ingest(nil, 0)
	if err != nil {
		return err
	}
	if got := deliveredIDs(rep.Deliveries); !rep.OK || !slices.Equal(got, []string{a, b}) {
		return fmt.Errorf("R12: the next ingest delivered %v (reply %s), want [%s %s]", got, jsonOf(rep), a, b)
	}
	if on, _ := pendingOnDisk(s.Dir); len(on) > 0 {
		return fmt.Errorf("R11: delivered records stay pending: %v", on)
	}
	return nil
}

func probeSchema(s *Session) error {
	ids, err := s.startAppend(nil, 1)
	if err != nil {
		return err
	}
	a := ids[0]
	f := newIDSource(s.seed, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)).next()
	fdata := envelope(f, "2020-01-01T00:00:00+00:00", `{"v":2}`, "2")
	if err := s.Plant("pending-"+f+".json", fdata); err != nil {
		return err
	}
	rep, err := s.ingest(nil, 0)
	if err != nil {
		return err
	}
	if len(rep.Deliveries) > 0 {
		return fmt.Errorf("R14: ingest delivered %v past a file of schema_version 2 (pending-%s.json), which must stop the drain", deliveredIDs(rep.Deliveries), f)
	}
	if rep.OK || rep.Error != ErrKindSchema {
		return fmt.Errorf("R14: ingest at a file of schema_version 2 replied %s, want error schema", jsonOf(rep))
	}
	if !strings.Contains(rep.Message, "schema_version") {
		return fmt.Errorf("R14: the schema error's message %q does not name schema_version", rep.Message)
	}
	if got, err := os.ReadFile(filepath.Join(s.Dir, "pending-"+f+".json")); err != nil || !bytes.Equal(got, fdata) {
		return fmt.Errorf("R14: the schema_version 2 file did not stay in place for a newer consumer")
	}
	if on, _ := pendingOnDisk(s.Dir); !slices.Contains(on, a) {
		return fmt.Errorf("R14: %s is no longer pending after a drain that stopped before it", a)
	}
	return nil
}

func probeAttempts(s *Session) error {
	ids, err := s.startAppend(nil, 1)
	if err != nil {
		return err
	}
	a := ids[0]
	want := 1
	for _, step := range []string{"fail", "restart", "fail", "ok"} {
		if step == "restart" {
			if err := s.Restart(); err != nil {
				return err
			}
			continue
		}
		rep, err := s.ingest([]string{step}, 0)
		if err != nil {
			return err
		}
		if !rep.OK || len(rep.Deliveries) != 1 || rep.Deliveries[0].ULID != a {
			return fmt.Errorf("R12: ingest replied %s, want one delivery of %s", jsonOf(rep), a)
		}
		if got := rep.Deliveries[0].Attempt; got != want {
			return fmt.Errorf("R16: delivery %d of %s has attempt %d, want %d", want, a, got, want)
		}
		want++
	}
	return nil
}

func probeDeadLetter(s *Session) error {
	ids, err := s.startAppend(nil, 2)
	if err != nil {
		return err
	}
	a, b := ids[0], ids[1]
	rep, err := s.ingest([]string{"fail", "ok"}, 1)
	if err != nil {
		return err
	}
	if got := deliveredIDs(rep.Deliveries); !rep.OK || !slices.Equal(got, []string{a, b}) {
		return fmt.Errorf("R17: ingest with max_attempts 1 whose first call fails delivered %v (reply %s), want [%s %s]", got, jsonOf(rep), a, b)
	}
	if _, err := os.Lstat(filepath.Join(s.Dir, layout.DeadLetterDir, "pending-"+a+".json")); err != nil {
		return fmt.Errorf("R17: %s failed its last allowed attempt but is not in %s/: %v", a, layout.DeadLetterDir, err)
	}
	if on, _ := pendingOnDisk(s.Dir); len(on) > 0 {
		return fmt.Errorf("R17: pending after the drain: %v, want none", on)
	}
	return nil
}

// startAppend starts the implementation with maxSize (nil: its default)
// and appends n simple records, the opening of most probes; it returns
// their ULIDs, oldest first.
func (s *Session) startAppend(maxSize *int, n int) ([]string, error) {
	if err := s.Start(maxSize); err != nil {
		return nil, err
	}
	return s.appendN(n, nil)
}

// appendN appends n simple records and returns their ULIDs; after each, it
// calls each (if not nil) with the ULIDs so far.
func (s *Session) appendN(n int, each func(ids []string) error) ([]string, error) {
	var ids []string
	for i := range n {
		id, err := s.Append(simple(i))
		if err != nil {
			return ids, err
		}
		ids = append(ids, id)
		if each != nil {
			if err := each(ids); err != nil {
				return ids, err
			}
		}
	}
	return ids, nil
}

// probeOverflow: the seed suite's overflow test, through the protocol:
// 110 appends at MaxSize 100 leave at most 100 pending, the newest, and one
// audit line per dropped record when audit is announced (R18, R20).
func probeOverflow(s *Session) error {
	ids, err := s.startAppend(intp(100), 110)
	if err != nil {
		return err
	}
	on, err := pendingOnDisk(s.Dir)
	if err != nil {
		return err
	}
	if len(on) > 100 {
		return fmt.Errorf("R18: 110 appends at max_size 100 left %d pending", len(on))
	}
	if !slices.Equal(on, ids[len(ids)-len(on):]) {
		return fmt.Errorf("R18: 110 appends at max_size 100 left %v pending, not the newest", on)
	}
	if s.Features[FeatureAudit] {
		audited := auditedIDs(s.Dir)
		for _, id := range ids[:len(ids)-len(on)] {
			if audited[id] == 0 {
				return fmt.Errorf("R20: %s was dropped on overflow without an audit line", id)
			}
		}
	}
	return passWith("110 appends at max_size 100 left %d pending", len(on))
}

// probeOverflowHeadroom: capq's stricter overflow (R18): the headroom is
// a tenth of MaxSize (110 appends at 100 end with 99 pending), and a
// record just acknowledged is never dropped, even at MaxSize 5 and 1.
func probeOverflowHeadroom(s *Session) error {
	if _, err := s.startAppend(intp(100), 110); err != nil {
		return err
	}
	on, err := pendingOnDisk(s.Dir)
	if err != nil {
		return err
	}
	if len(on) != 99 {
		return fmt.Errorf("R18: 110 appends at max_size 100 left %d pending, want 99 (headroom a tenth of MaxSize)", len(on))
	}
	for _, max := range []int{5, 1} {
		s.Kill()
		if err := os.RemoveAll(s.Dir); err != nil {
			return err
		}
		if err := os.MkdirAll(s.Dir, 0o700); err != nil {
			return err
		}
		s.note("fresh directory, max_size %d", max)
		if err := s.Start(intp(max)); err != nil {
			return err
		}
		_, err := s.appendN(3*max+2, func(ids []string) error {
			on, err := pendingOnDisk(s.Dir)
			if err != nil {
				return err
			}
			last := ids[len(ids)-1]
			if !slices.Contains(on, last) {
				return fmt.Errorf("R18: at max_size %d, append %d dropped the record it had just acknowledged (%s); %d pending", max, len(ids), last, len(on))
			}
			if len(on) > max {
				return fmt.Errorf("R18: at max_size %d, %d records are pending after append %d", max, len(on), len(ids))
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func probePruneLock(s *Session) error {
	ids, err := s.startAppend(nil, 3)
	if err != nil {
		return err
	}
	if _, err := s.ingest([]string{"fail"}, 0); err != nil {
		return err
	}
	if _, err := os.Lstat(filepath.Join(s.Dir, "pending-"+ids[0]+".lock")); err != nil {
		return errNA("no lock file stays after a failed handler (R12 is judged on its own)")
	}
	// The newest record is under another consumer's handler (the checker
	// holds its lock): prune must skip it, never delete it.
	release, err := holdLock(s.Dir, ids[2])
	if err != nil {
		return errInconclusive("cannot take a record's lock: %v", err)
	}
	s.note("the checker takes flock(LOCK_EX) on pending-%s.lock, as another consumer, during prune", ids[2])
	rep, err := s.must(Request{Op: "prune", Keep: intp(0)})
	held, _ := pendingOnDisk(s.Dir)
	release()
	if err != nil {
		return err
	}
	if !slices.Contains(held, ids[2]) {
		return fmt.Errorf("R18: prune keep=0 deleted %s while another consumer held its lock (a locked record is skipped, never deleted under its handler); reply %s", ids[2], jsonOf(rep))
	}
	if rep.Dropped == nil || *rep.Dropped != 2 {
		return fmt.Errorf("R18: prune keep=0 of 3, one of them locked, replied %s, want dropped 2", jsonOf(rep))
	}
	for _, l := range lockFiles(s.Dir) {
		if l != "pending-"+ids[2]+".lock" {
			return fmt.Errorf("R18: prune dropped %s but its lock file %s stayed (a dropped record's lock file goes with it)", ids[0], l)
		}
	}
	return nil
}

// probeAudit: every record dropped by prune (or, without prune, by
// overflow) has an audit line naming it (R20).
func probeAudit(s *Session) error {
	var ids []string
	var err error
	switch {
	case s.cfg.features[FeaturePrune]:
		if ids, err = s.startAppend(nil, 3); err != nil {
			return err
		}
		if _, err = s.must(Request{Op: "prune", Keep: intp(0)}); err != nil {
			return err
		}
	case s.cfg.features[FeatureMaxSize]:
		all, err := s.startAppend(intp(2), 5)
		if err != nil {
			return err
		}
		on, _ := pendingOnDisk(s.Dir)
		for _, id := range all {
			if !slices.Contains(on, id) {
				ids = append(ids, id)
			}
		}
	default:
		return errUnsupported("neither prune nor max_size announced: nothing drops a record")
	}
	es, bad := auditEntries(s.Dir)
	if bad > 0 {
		return fmt.Errorf("R20: %s has %d line(s) that are not JSON", layout.AuditLogName, bad)
	}
	audited := auditedIDs(s.Dir)
	for _, id := range ids {
		if audited[id] == 0 {
			return fmt.Errorf("R20: %s was dropped without an audit line (%d lines in %s)", id, len(es), layout.AuditLogName)
		}
		if on, _ := pendingOnDisk(s.Dir); slices.Contains(on, id) {
			return fmt.Errorf("R18: %s is still pending after it was dropped", id)
		}
	}
	for _, e := range es {
		if e.TS == "" || e.Reason == "" {
			return fmt.Errorf("R20: audit line %s lacks ts or reason", jsonOf(e))
		}
	}
	return nil
}

// corruptions are files an implementation must quarantine and drain past
// (R21), each with what is wrong with it.
func corruptions(id, other string) []struct {
	what string
	data []byte
} {
	good := envelope(id, "2020-01-01T00:00:00+00:00", `{"c":1}`, "1")
	return []struct {
		what string
		data []byte
	}{
		{"empty file", nil},
		{"truncated envelope", good[:len(good)/2]},
		{"not JSON", []byte("not json at all")},
		{"not UTF-8", []byte(strings.Replace(string(good), `{"c":1}`, "{\"c\":\"\xff\xfe\"}", 1))},
		{"record is a string", []byte(strings.Replace(string(good), `{"c":1}`, `"text"`, 1))},
		{"ulid differs from the file name", envelope(other, "2020-01-01T00:00:00+00:00", `{"c":1}`, "1")},
		{"an extra top-level key", []byte(strings.Replace(string(good), `"schema_version"`, `"extra":0,"schema_version"`, 1))},
		{"schema_version 1.0", envelope(id, "2020-01-01T00:00:00+00:00", `{"c":1}`, "1.0")},
		{"JSON array", []byte(`[1,2,3]`)},
	}
}

func probeCorrupt(s *Session) error {
	ids := newIDSource(s.seed, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	type planted struct {
		id, what string
		data     []byte
	}
	var plants []planted
	for i := range len(corruptions("", "")) {
		id := ids.next()
		c := corruptions(id, ids.next())[i]
		plants = append(plants, planted{id, c.what, c.data})
	}
	for _, p := range plants {
		if err := s.Plant("pending-"+p.id+".json", p.data); err != nil {
			return err
		}
	}
	good, err := s.startAppend(nil, 2)
	if err != nil {
		return err
	}
	rep, err := s.ingest(nil, 0)
	if err != nil {
		return err
	}
	got := deliveredIDs(rep.Deliveries)
	for _, p := range plants {
		if slices.Contains(got, p.id) {
			return fmt.Errorf("R3, R21: a corrupt file (%s) was delivered as a record", p.what)
		}
	}
	if !slices.Equal(got, good) {
		on, _ := pendingOnDisk(s.Dir)
		first := ""
		for _, p := range plants {
			if slices.Contains(on, p.id) {
				first = p.what
				break
			}
		}
		return fmt.Errorf("R21: with corrupt files planted, ingest delivered %v (reply %s), want the good records %v; the first corrupt file still pending: %s", got, jsonOf(rep), good, first)
	}
	// Each is in quarantine/, bytes intact.
	var qdata [][]byte
	qents, _ := os.ReadDir(filepath.Join(s.Dir, layout.QuarantineDir))
	for _, e := range qents {
		if b, err := os.ReadFile(filepath.Join(s.Dir, layout.QuarantineDir, e.Name())); err == nil {
			qdata = append(qdata, b)
		}
	}
	for _, p := range plants {
		if !slices.ContainsFunc(qdata, func(b []byte) bool { return bytes.Equal(b, p.data) }) {
			return fmt.Errorf("R21: the corrupt file pending-%s.json (%s) is not in %s/ with its bytes intact", p.id, p.what, layout.QuarantineDir)
		}
	}
	return nil
}

// probeSymlinks plants symlinks out of the queue (a pending name linking
// to an envelope elsewhere, a lock name linking to a path elsewhere, the
// audit log linking elsewhere) and into it (a pending name linking to
// another pending file), and requires that none is followed (R22): not
// counted, not delivered, nothing created or written outside.
func probeSymlinks(s *Session) error {
	out := filepath.Join(s.root, "outside")
	if err := os.MkdirAll(out, 0o700); err != nil {
		return err
	}
	ids := newIDSource(s.seed, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	x := ids.next()
	xdata := envelope(x, "2020-01-01T00:00:00+00:00", `{"outside":true}`, "1")
	if err := os.WriteFile(filepath.Join(out, "envelope.json"), xdata, 0o600); err != nil {
		return err
	}
	good, err := s.startAppend(nil, 2)
	if err != nil {
		return err
	}
	y := ids.next()
	plants := []struct{ target, name string }{
		{filepath.Join(out, "envelope.json"), "pending-" + x + ".json"},
		{"pending-" + good[0] + ".json", "pending-" + y + ".json"},
		{filepath.Join(out, "lock-target"), "pending-" + good[1] + ".lock"},
		{filepath.Join(out, "audit.log"), layout.AuditLogName},
	}
	for _, p := range plants {
		if err := s.Symlink(p.target, p.name); err != nil {
			return err
		}
	}
	n, err := s.count()
	if err != nil {
		return err
	}
	if n != len(good) {
		return fmt.Errorf("R22: count replied %d with 2 records and 2 symlinks under pending names, want 2", n)
	}
	l, err := s.list()
	if err != nil {
		return err
	}
	if !slices.Equal(l, good) {
		return fmt.Errorf("R22: list replied %v, want %v (a symlink is not a pending record)", l, good)
	}
	rep, err := s.ingest(nil, 0)
	if err != nil {
		return err
	}
	for _, d := range rep.Deliveries {
		if d.ULID == x || d.ULID == y {
			return fmt.Errorf("R22: ingest followed the symlink pending-%s.json and delivered %s", d.ULID, d.Record)
		}
	}
	if _, err := os.Lstat(filepath.Join(out, "lock-target")); err == nil {
		return fmt.Errorf("R22: ingest followed the symlink pending-%s.lock and created a file outside the queue", good[1])
	}
	if b, _ := os.ReadFile(filepath.Join(out, "envelope.json")); !bytes.Equal(b, xdata) {
		return fmt.Errorf("R22: the file outside the queue behind pending-%s.json was changed or removed", x)
	}
	if s.Features[FeaturePrune] {
		if _, err := s.appendN(2, nil); err != nil {
			return err
		}
		if _, err := s.Call(Request{Op: "prune", Keep: intp(0)}); err != nil {
			return err
		}
		if _, err := os.Lstat(filepath.Join(out, "audit.log")); err == nil {
			return fmt.Errorf("R22: prune wrote its audit line through the symlink %s, outside the queue", layout.AuditLogName)
		}
	}
	return nil
}

func probeLookalike(s *Session) error {
	ids := newIDSource(s.seed, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	u := ids.next()
	names := []string{
		"pending-.json",
		"pending-" + strings.ToLower(u) + ".json",
		"pending-" + u[:25] + ".json",
		"pending-" + u + ".json.bak",
		"pending-" + u + ".json.tmp.json",
		"pending-" + u + "X.json",
	}
	for _, n := range names {
		if err := s.Plant(n, envelope(u, "2020-01-01T00:00:00+00:00", `{"lookalike":true}`, "1")); err != nil {
			return err
		}
	}
	dirName := "pending-" + ids.next() + ".json"
	if err := s.Mkdir(dirName); err != nil {
		return err
	}
	mine, err := s.startAppend(nil, 1)
	if err != nil {
		return err
	}
	a := mine[0]
	n, err := s.count()
	if err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("R23: count replied %d with one record and look-alike names %v and a directory %s, want 1", n, names, dirName)
	}
	l, err := s.list()
	if err != nil {
		return err
	}
	if !slices.Equal(l, []string{a}) {
		return fmt.Errorf("R23: list replied %v, want [%s]", l, a)
	}
	rep, err := s.ingest(nil, 0)
	if err != nil {
		return err
	}
	if got := deliveredIDs(rep.Deliveries); !rep.OK || !slices.Equal(got, []string{a}) {
		return fmt.Errorf("R23: ingest delivered %v (reply %s), want only [%s]; look-alike names are not records", got, jsonOf(rep), a)
	}
	for _, nm := range names {
		if _, err := os.Lstat(filepath.Join(s.Dir, nm)); err != nil {
			return fmt.Errorf("R21, R23: the look-alike file %s was removed (nothing the queue did not create is deleted)", nm)
		}
	}
	return nil
}
