package fuzz

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/capq/capq/queue"
)

// roundTrip is what happened to one record appended to an empty queue that
// was then drained.
type roundTrip struct {
	appendErr error    // what Append returned
	delivered [][]byte // the records the handler received, in order
	left      []string // names in the queue directory at the end (after the refusal, or after the drain)
}

// roundTripper is the system under test of the round-trip property: it
// appends rec to an empty queue, drains the queue if the append succeeded,
// and reports what happened. Its error is a failure of the harness, not of
// the property.
type roundTripper func(rec []byte) (roundTrip, error)

// queueRoundTrip is the real system: capq's queue on the in-memory file
// system.
func queueRoundTrip(rec []byte) (roundTrip, error) {
	mq, err := openMem(nil, queue.Options{})
	if err != nil {
		return roundTrip{}, err
	}
	defer mq.close()
	var rt roundTrip
	id, err := mq.q.Append(rec)
	rt.appendErr = err
	if err == nil {
		got, res, err := mq.drain()
		if err != nil {
			return rt, fmt.Errorf("ingest: %w", err)
		}
		if res.Quarantined != 0 {
			return rt, fmt.Errorf("ingest quarantined the record capq wrote: %+v", res)
		}
		for _, d := range got {
			if d.ULID != id {
				return rt, fmt.Errorf("delivered ULID %s, appended %s", d.ULID, id)
			}
			if !d.AppendedAt.Equal(fixedTime.Truncate(time.Microsecond)) {
				return rt, fmt.Errorf("delivered envelope metadata %v", d.AppendedAt)
			}
			rt.delivered = append(rt.delivered, d.Record)
		}
	}
	// The queue was empty after Open, so any name Open did not leave
	// there is a leftover of this record.
	rt.left = mq.leftovers()
	return rt, nil
}

// The record limits of a queue opened with zero Options (queue.Options'
// MaxRecordSize and MaxDepth docs); TestDefaultLimits checks them against
// Queue.Options.
const (
	defaultMaxRecordSize = 4 << 20
	defaultMaxDepth      = 512
)

// acceptableRecord is the oracle for Append's validation (Spec R5, R24): one
// JSON object with only white space around it, in valid UTF-8, within the
// default size and depth limits. encoding/json.Valid does not check UTF-8
// inside strings, hence the separate check.
func acceptableRecord(rec []byte) bool {
	t := trimJSONSpace(rec)
	return len(rec) <= defaultMaxRecordSize &&
		utf8.Valid(rec) &&
		len(t) > 0 && t[0] == '{' &&
		json.Valid(rec) &&
		jsonDepth(rec) <= defaultMaxDepth
}

// checkRoundTrip is the round-trip property (Spec R4, R5, R8): a record the
// oracle accepts is appended and comes back from Ingest byte for byte
// (surrounding white space aside) exactly once; any other record is refused
// with a *queue.DataError wrapping queue.ErrInvalidRecord, and no file of
// it remains.
func checkRoundTrip(sys roundTripper, rec []byte) error {
	rt, err := sys(rec)
	if err != nil {
		return err
	}
	if len(rt.left) != 0 {
		return fmt.Errorf("record %q: files left behind: %q", rec, rt.left)
	}
	if !acceptableRecord(rec) {
		var re *queue.DataError
		if !errors.As(rt.appendErr, &re) || !errors.Is(rt.appendErr, queue.ErrInvalidRecord) {
			return fmt.Errorf("record %q: Append returned %v, want a *queue.DataError wrapping ErrInvalidRecord", rec, rt.appendErr)
		}
		return nil
	}
	if rt.appendErr != nil {
		return fmt.Errorf("record %q: Append refused a valid record: %v", rec, rt.appendErr)
	}
	if len(rt.delivered) != 1 {
		return fmt.Errorf("record %q: delivered %d times, want once", rec, len(rt.delivered))
	}
	if want := trimJSONSpace(rec); !bytes.Equal(rt.delivered[0], want) {
		return fmt.Errorf("record changed on its way:\nappended  %q\ndelivered %q", want, rt.delivered[0])
	}
	return nil
}

// roundTripRecords builds the records FuzzRoundTrip appends from a fuzzed
// key and value: the value itself, and objects carrying both, written the
// way the reference writes them (non-ASCII raw), nested, next to the number
// spellings a verbatim store must keep.
func roundTripRecords(key, value string) [][]byte {
	kv := appendJSONString(nil, key)
	vv := appendJSONString(nil, value)
	obj := []byte("{")
	obj = append(append(append(obj, kv...), ':'), vv...)
	obj = append(obj, '}')
	mixed := []byte(`{"surface":`)
	mixed = append(mixed, vv...)
	mixed = append(mixed, `,"cue":`...)
	mixed = append(mixed, kv...)
	mixed = append(mixed, `,"nested":[[`...)
	mixed = append(mixed, obj...)
	mixed = append(mixed, `]],"n":1.0,"z":-0.0,"g":1e+16,"big":1180591620717411303424,`...)
	mixed = append(append(append(mixed, kv...), ':'), vv...)
	mixed = append(mixed, '}')
	return [][]byte{[]byte(value), obj, mixed}
}

// FuzzRoundTrip checks the round-trip property on the value as a record
// and on objects built from the key and value; for the one-member object it
// also checks that the delivered JSON decodes to the very key and value.
func FuzzRoundTrip(f *testing.F) {
	for _, seed := range [][2]string{
		{"surface", "Привет 🧠 <a&b>"},
		{"cue", "combining e\u0301 vs precomposed \u00e9"},
		{"astral", "𝄞 😀 \U0010FFFF \U0001F9E0"},
		{"nul\u0000key", "nul \u0000 inside, tab \t, bell \a"},
		{"line", "U+2028 \u2028 U+2029 \u2029"},
		{"html", "<script>&amp;</script>"},
		{"bad", "\xff\xfe invalid UTF-8"},
		{"surrogate", "\xed\xa0\x80 UTF-8 of a surrogate"},
		{"", ""},
		{"raw", `{"lone":"\ud800","pair":"\ud83e\udde0","low":"\udc00"}`},
		{"raw", `{"n":1.0,"z":-0.0,"g":1e+16,"h":1.5e-07,"big":1180591620717411303424}`},
		{"raw", "  \n{\"a\":[1,2,{\"b\":null}]}\t\r\n"},
		{"raw", `{"a":1}{"b":2}`},
		{"raw", `["not","an","object"]`},
		{"raw", `{"a":NaN}`},
		{"deep", `{"a":` + strings.Repeat("[", defaultMaxDepth-1) + strings.Repeat("]", defaultMaxDepth-1) + `}`},
		{"deeper", `{"a":` + strings.Repeat("[", defaultMaxDepth) + strings.Repeat("]", defaultMaxDepth) + `}`},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, key, value string) {
		for _, rec := range roundTripRecords(key, value) {
			if err := checkRoundTrip(queueRoundTrip, rec); err != nil {
				t.Fatal(err)
			}
		}
		if !utf8.ValidString(key) || !utf8.ValidString(value) {
			return
		}
		rt, err := queueRoundTrip(roundTripRecords(key, value)[1])
		if err != nil || len(rt.delivered) != 1 {
			t.Fatalf("{%q: %q} not delivered once: %v", key, value, err)
		}
		var m map[string]string
		if err := json.Unmarshal(rt.delivered[0], &m); err != nil {
			t.Fatalf("delivered record does not decode: %v", err)
		}
		if got, ok := m[key]; !ok || got != value || len(m) != 1 {
			t.Fatalf("delivered record decodes to %q, want {%q: %q}", m, key, value)
		}
	})
}

// The oracle's limits are those of the queue it judges: a queue opened with
// zero Options runs with defaultMaxRecordSize and defaultMaxDepth.
func TestDefaultLimits(t *testing.T) {
	t.Parallel()
	mq, err := openMem(nil, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer mq.close()
	if o := mq.q.Options(); o.MaxRecordSize != defaultMaxRecordSize || o.MaxDepth != defaultMaxDepth {
		t.Fatalf("Options() = MaxRecordSize %d, MaxDepth %d; the oracle assumes %d, %d", o.MaxRecordSize, o.MaxDepth, defaultMaxRecordSize, defaultMaxDepth)
	}
}
