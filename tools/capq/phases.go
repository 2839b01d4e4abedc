package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/capq/capq/internal/fsys"
	"github.com/capq/capq/internal/queuefs"
	"github.com/capq/capq/queue"
	"github.com/capq/capq/ulid"
	"github.com/capq/capq/verify/crashtest"
)

// killCrashPhase runs kill-crash rounds (verify/crashtest): appender and
// consumer processes, which are this binary re-executed, SIGKILLed at
// random moments, then a final drain and the checks of spec R9, R11, R16.
func killCrashPhase(p *phaseRun) phaseResult {
	var res phaseResult
	rep, err := crashtest.Run(p.ctx, crashtest.Config{
		Dir: p.dir, Duration: p.budget, Seed: p.seed,
		Progress: func(round int, r *crashtest.Report) {
			p.progress(0.95*float64(round)*float64(200*time.Millisecond)/float64(p.budget),
				fmt.Sprintf("round %d, %d acked, %d kills", round, r.Acked, r.Kills))
		},
	})
	if rep != nil {
		res.Runs, res.Steps = rep.Rounds, rep.Acked+rep.Delivered
	}
	switch {
	case err != nil && p.ctx.Err() != nil:
	case err != nil:
		// The harness could not run its rounds (a process did not start,
		// out of descriptors): an environment error, not a violation.
		res.Failed, res.ToolError, res.Message = true, true, err.Error()
	case !rep.OK():
		res.Failed = true
		res.Message = fmt.Sprintf("%d violation(s), first: %s", len(rep.Violations), rep.Violations[0])
	}
	return res
}

// powerCutPhase runs the real queue on the in-memory file system of
// internal/fsys, cuts the power at a random file-system call (Mem.Crash
// picks an adversarial outcome among what ext4 could leave), reopens what
// survived and checks spec R8, R9 and R15: every acknowledged record that
// was not durably deleted is there with its exact bytes; an append in
// flight is either whole or absent; a record deleted before the last
// directory fsync stays deleted; no pending file is torn.
func powerCutPhase(p *phaseRun) phaseResult {
	var res phaseResult
	start := time.Now()
	for run := uint64(0); time.Since(start) < p.budget && p.ctx.Err() == nil; run++ {
		steps, err := powerCutRun(p.seed, run)
		res.Runs++
		res.Steps += steps
		if err != nil {
			res.Failed = true
			res.Message = fmt.Sprintf("run %d: %v", run, err)
			res.Reproduce = fmt.Sprintf("go run ./tools/capq check --phase powercut --seed %d (run %d)", p.seed, run)
			return res
		}
		if run%16 == 0 {
			p.progress(float64(time.Since(start))/float64(p.budget), fmt.Sprintf("%d power cuts", res.Runs))
		}
	}
	return res
}

// powerCutRun is one power cut: random appends and drains until the
// crash point, then the checks. It returns how many operations ran.
func powerCutRun(seed, run uint64) (int, error) {
	rng := rand.New(rand.NewPCG(seed, run))
	mem := fsys.NewMem(nil)
	fault := fsys.NewFault(mem.FS())
	crashAt := 1 + rng.IntN(400) // the file-system call at which the power goes
	var survivor *fsys.Mem
	calls := 0
	fault.SetHook(func(fsys.Call) error {
		calls++
		if calls == crashAt && survivor == nil {
			survivor = mem.Crash(rng)
		}
		if survivor != nil {
			return fsys.EIO
		}
		return nil
	})
	q, err := queue.Open("mem", queuefs.With(queue.Options{
		MaxSize: -1, DeleteSyncEvery: 1 + rng.IntN(8),
	}, fault))
	if err != nil {
		if survivor != nil {
			return 0, nil // the power went during Open: nothing acknowledged
		}
		return 0, err
	}
	acked := map[string][]byte{}    // acknowledged, not deleted
	deleted := map[string]bool{}    // delivered and durably deleted (an Ingest call returned)
	inCall := map[string][]byte{}   // delivered during the Ingest call in progress
	inFlight := map[string][]byte{} // records of an append that did not return
	steps := 0
	for survivor == nil {
		steps++
		switch op := rng.IntN(10); {
		case op < 6:
			rec := randomRecord(rng)
			id, err := q.Append(rec)
			if err != nil {
				if survivor == nil {
					return steps, fmt.Errorf("append failed before the power cut: %w", err)
				}
				inFlight[string(rec)] = rec
				continue
			}
			acked[id.String()] = rec
		case op < 7:
			recs := [][]byte{randomRecord(rng), randomRecord(rng)}
			ids, err := q.AppendBatch(recs)
			if err != nil {
				if survivor == nil {
					return steps, fmt.Errorf("append batch failed before the power cut: %w", err)
				}
				for _, r := range recs {
					inFlight[string(r)] = r
				}
				continue
			}
			for i, id := range ids {
				acked[id.String()] = recs[i]
			}
		default:
			clear(inCall)
			var mismatch error
			_, err := q.Ingest(context.Background(), func(_ context.Context, d queue.Delivery) error {
				id := d.ULID.String()
				if want, ok := acked[id]; !ok || !bytes.Equal(want, d.Record) {
					mismatch = fmt.Errorf("delivered %s with %s, acknowledged with %s", id, jsonString(d.Record), jsonString(want))
				}
				inCall[id] = acked[id]
				return nil
			}, queue.IngestOptions{MaxRecords: 1 + rng.IntN(12)})
			if mismatch != nil {
				return steps, mismatch
			}
			if err != nil && survivor == nil {
				return steps, fmt.Errorf("ingest failed before the power cut: %w", err)
			}
			if err == nil {
				for id := range inCall {
					deleted[id] = true
					delete(acked, id)
				}
				clear(inCall)
			}
		}
	}
	// What survived, opened by a fresh process.
	q2, err := queue.Open("mem", queuefs.With(queue.Options{MaxSize: -1}, survivor.FS()))
	if err != nil {
		return steps, fmt.Errorf("reopen after the power cut: %w", err)
	}
	defer q2.Close()
	findings, err := queue.Verify(context.Background(), "mem", queuefs.With(queue.Options{}, survivor.FS()))
	if err != nil {
		return steps, err
	}
	for _, f := range findings {
		if f.Violation {
			return steps, fmt.Errorf("after the power cut: %s %s: %s", f.Kind, f.Name, f.Detail)
		}
	}
	present := map[string][]byte{}
	if _, err := q2.Ingest(context.Background(), func(_ context.Context, d queue.Delivery) error {
		present[d.ULID.String()] = bytes.Clone(d.Record)
		return nil
	}, queue.IngestOptions{}); err != nil {
		return steps, fmt.Errorf("drain after the power cut: %w", err)
	}
	for id, rec := range acked {
		got, ok := present[id]
		if _, cut := inCall[id]; !ok && !cut {
			return steps, fmt.Errorf("acknowledged record %s lost by the power cut (spec R9)", id)
		}
		if ok && !bytes.Equal(got, rec) {
			return steps, fmt.Errorf("record %s came back as %s, appended as %s", id, jsonString(got), jsonString(rec))
		}
	}
	for id, got := range present {
		switch {
		case acked[id] != nil:
		case deleted[id]:
			return steps, fmt.Errorf("record %s came back after an Ingest call that deleted it returned (spec R15)", id)
		case inFlight[string(got)] == nil:
			return steps, fmt.Errorf("record %s (%s) was never appended", id, jsonString(got))
		}
	}
	return steps, nil
}

// randomRecord returns a small random JSON object with the spellings the
// spec keeps verbatim (R4): floats, big integers, escapes, non-ASCII.
func randomRecord(rng *rand.Rand) []byte {
	var b strings.Builder
	b.WriteString("{")
	n := rng.IntN(4)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"k%d":`, i)
		switch rng.IntN(6) {
		case 0:
			b.WriteString(strconv.FormatInt(rng.Int64N(1<<62)-1<<61, 10))
		case 1:
			b.WriteString([]string{"1.0", "-0.0", "1e+16", "1.5e-07", "1180591620717411303424"}[rng.IntN(5)])
		case 2:
			b.WriteString(`"Привет 🧠 <a&b> \u0000\t"`)
		case 3:
			fmt.Fprintf(&b, `"%s"`, strings.Repeat("x", rng.IntN(300)))
		case 4:
			b.WriteString(`[1,{"a":[true,false,null]}]`)
		default:
			b.WriteString(`{"nested":{"deeper":"é"}}`)
		}
	}
	fmt.Fprintf(&b, `%s"seq":%d}`, map[bool]string{true: ",", false: ""}[n > 0], rng.Uint64())
	return []byte(b.String())
}

// fuzzPhase runs random and mutated inputs through the properties the
// fuzz targets check (package fuzz), without the go command: decoding
// never panics, what decodes re-encodes to an equal envelope, ULID parsing
// agrees with Valid, and a record's bytes survive Append and Ingest.
func fuzzPhase(p *phaseRun) phaseResult {
	var res phaseResult
	rng := rand.New(rand.NewPCG(p.seed, 0x66757a7a))
	start := time.Now()
	mem := fsys.NewMem(nil)
	q, err := queue.Open("mem", queuefs.With(queue.Options{MaxSize: -1, DeleteSyncEvery: 1 << 20}, mem.FS()))
	if err != nil {
		res.Failed, res.ToolError, res.Message = true, true, err.Error()
		return res
	}
	defer q.Close()
	seedEnv := []byte(`{"ulid":"01M89W077TES8Y8XEAP3E7KMB2","appended_at":"2026-11-25T17:28:07.162144+00:00","record":{"surface":"Привет 🧠 <a&b>","n":1180591620717411303424,"f":1.0,"z":-0.0},"schema_version":1}`)
	for time.Since(start) < p.budget && p.ctx.Err() == nil {
		res.Runs++
		for range 256 {
			res.Steps++
			if err := fuzzOne(rng, q, seedEnv); err != nil {
				res.Failed = true
				res.Message = err.Error()
				return res
			}
		}
		if res.Runs%8 == 0 {
			p.progress(float64(time.Since(start))/float64(p.budget), fmt.Sprintf("%d inputs", res.Steps))
		}
	}
	return res
}

// fuzzOne checks one random input against every property; a panic is a
// failure too.
func fuzzOne(rng *rand.Rand, q *queue.Queue, seedEnv []byte) (err error) {
	var input []byte
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic on input %s: %v", jsonString(input), r)
		}
	}()
	switch rng.IntN(4) {
	case 0, 1: // a mutated envelope through the strict decoder
		input = mutateBytes(rng, seedEnv)
		env, derr := queue.DecodeEnvelope(input)
		if derr != nil {
			if !errors.As(derr, new(*queue.DataError)) {
				return fmt.Errorf("DecodeEnvelope(%s) returned an untyped error %v", jsonString(input), derr)
			}
			return nil
		}
		line, err := envelopeLine(env)
		if err != nil {
			return fmt.Errorf("re-encode %s: %v", jsonString(input), err)
		}
		if y := env.AppendedAt.UTC().Year(); y < 1 || y > 9999 {
			return nil // not representable in the isoformat capq writes
		}
		env2, err := queue.DecodeEnvelope(bytes.TrimSuffix(line, []byte("\n")))
		if err != nil || env2.ULID != env.ULID || !env2.AppendedAt.Equal(env.AppendedAt.Truncate(time.Microsecond)) ||
			!bytes.Equal(bytes.Join(bytes.Fields(env2.Record), nil), bytes.Join(bytes.Fields(env.Record), nil)) {
			return fmt.Errorf("envelope %s does not round-trip: %s: %v", jsonString(input), line, err)
		}
	case 2: // ULID text
		input = mutateBytes(rng, []byte("01M89W077TES8Y8XEAP3E7KMB2"))
		id, perr := ulid.Parse(string(input))
		if ulid.Valid(string(input)) && (perr != nil || id.String() != string(input)) {
			return fmt.Errorf("ulid: Valid(%q) but Parse gives %v, %v", input, id, perr)
		}
		if perr == nil && !strings.EqualFold(id.String(), string(input)) {
			return fmt.Errorf("ulid: Parse(%q) = %s", input, id)
		}
	default: // a record through Append and Ingest, verbatim (spec R4)
		input = randomRecord(rng)
		id, err := q.Append(input)
		if err != nil {
			return fmt.Errorf("append %s: %v", input, err)
		}
		var got []byte
		if _, err := q.Ingest(context.Background(), func(_ context.Context, d queue.Delivery) error {
			if d.ULID == id {
				got = bytes.Clone(d.Record)
			}
			return nil
		}, queue.IngestOptions{}); err != nil {
			return err
		}
		if !bytes.Equal(got, input) {
			return fmt.Errorf("record %s came back as %s (spec R4)", input, got)
		}
	}
	return nil
}

// mutations are the bytes mutateBytes inserts: JSON's structural characters.
const mutations = "{}[]\",:0\\e-."

// mutateBytes returns a copy of b with a few random byte-level changes.
func mutateBytes(rng *rand.Rand, b []byte) []byte {
	out := bytes.Clone(b)
	for range 1 + rng.IntN(4) {
		if len(out) == 0 {
			out = append(out, byte(rng.IntN(256)))
			continue
		}
		i := rng.IntN(len(out))
		switch rng.IntN(5) {
		case 0:
			out[i] = byte(rng.IntN(256))
		case 1:
			out = append(out[:i], out[i+1:]...)
		case 2:
			out = append(out[:i], append([]byte{mutations[rng.IntN(len(mutations))]}, out[i:]...)...)
		case 3:
			out = out[:i]
		default:
			j := rng.IntN(len(out))
			out[i], out[j] = out[j], out[i]
		}
	}
	return out
}
