package fuzz

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"
	"unicode/utf8"

	oklog "github.com/oklog/ulid/v2"

	"github.com/capq/capq/gen"
	"github.com/capq/capq/queue"
	"github.com/capq/capq/ulid"
)

// TestPlantedBugs shows that every fuzz target's property can fail: each
// row runs a property on a deliberately broken implementation of its kind,
// on an input a fuzzer finds within seconds (most are seeds), and requires
// a failure, and then runs the same property on capq's implementation and
// requires a pass. A property that let a planted bug through would be a
// fuzz target that cannot find bugs of that kind.
func TestPlantedBugs(t *testing.T) {
	t.Parallel()
	const env = `{"ulid":"` + seedULID + `","appended_at":"2026-05-02T15:00:00+00:00","record":{},"schema_version":1`
	for _, tc := range []struct {
		target  string
		bug     string
		planted func() error // the property on the broken implementation
		real    func() error // the same property on capq's
	}{
		// FuzzRoundTrip.
		{"FuzzRoundTrip", "record re-encoded through encoding/json (loses 1.0, escapes <>&)",
			func() error { return checkRoundTrip(reencodingStore, []byte(`{"s":"<a&b>","f":1.0}`)) },
			func() error { return checkRoundTrip(queueRoundTrip, []byte(`{"s":"<a&b>","f":1.0}`)) }},
		{"FuzzRoundTrip", "invalid UTF-8 stored instead of refused",
			func() error { return checkRoundTrip(lenientStore, []byte("{\"s\":\"\xff\"}")) },
			func() error { return checkRoundTrip(queueRoundTrip, []byte("{\"s\":\"\xff\"}")) }},
		{"FuzzRoundTrip", "refused record leaves its temporary file",
			func() error { return checkRoundTrip(leakyStore, []byte(`[1]`)) },
			func() error { return checkRoundTrip(queueRoundTrip, []byte(`[1]`)) }},
		// FuzzULIDGenerator.
		{"FuzzULIDGenerator", "the reference's guard: bump the millisecond on a collision",
			func() error { return checkULIDScript(bumpingGenerator, 1764091687162, []byte{1}, []byte{7, 1}) },
			func() error { return checkULIDScript(realGenerator, 1764091687162, []byte{1}, []byte{7, 1}) }},
		{"FuzzULIDGenerator", "fresh entropy within a millisecond (not monotonic)",
			func() error { return checkULIDScript(freshGenerator, 1764091687162, descending, []byte{7, 1}) },
			func() error { return checkULIDScript(realGenerator, 1764091687162, descending, []byte{7, 1}) }},
		// FuzzULIDParse.
		{"FuzzULIDParse", "oklog/ulid's non-strict Parse (no alphabet check)",
			func() error { return checkULIDParse(oklogParse, "01AN4Z07BY79KA1307SR9X4MVU") },
			func() error { return checkULIDParse(ulid.Parse, "01AN4Z07BY79KA1307SR9X4MVU") }},
		// FuzzDecodeEnvelope.
		{"FuzzDecodeEnvelope", "decoder indexes data[0] of an empty file",
			func() error { return decodeFailure(panickyDecoder, "") },
			func() error { return decodeFailure(queue.DecodeEnvelope, "") }},
		{"FuzzDecodeEnvelope", "decoder returns an untyped error",
			func() error { return decodeFailure(untypedDecoder, "{") },
			func() error { return decodeFailure(queue.DecodeEnvelope, "{") }},
		{"FuzzDecodeEnvelope", "decoder accepts a string record",
			func() error {
				return decodeFailure(structDecoder, `{"ulid":"`+seedULID+`","appended_at":"2026-05-02T15:00:00Z","record":"x","schema_version":1}`)
			},
			func() error {
				return decodeFailure(queue.DecodeEnvelope, `{"ulid":"`+seedULID+`","appended_at":"2026-05-02T15:00:00Z","record":"x","schema_version":1}`)
			}},
		// FuzzDifferential.
		{"FuzzDifferential", "fast validator ignores additionalProperties: false",
			func() error { return checkDifferential(structValidator, []byte(env+`,"x":0}`)) },
			func() error { return checkDifferential(decodeValidator, []byte(env+`,"x":0}`)) }},
		{"FuzzDifferential", "fast validator without the ULID pattern",
			func() error {
				return checkDifferential(structValidator, []byte(`{"ulid":"x","appended_at":"2026-05-02T15:00:00Z","record":{},"schema_version":1}`))
			},
			func() error {
				return checkDifferential(decodeValidator, []byte(`{"ulid":"x","appended_at":"2026-05-02T15:00:00Z","record":{},"schema_version":1}`))
			}},
		// FuzzAppendedAt.
		{"FuzzAppendedAt", "writer uses RFC3339Nano (Z, trailing zeros dropped)",
			func() error {
				return checkWrite(timeCodec{rfc3339Format, queue.ParseAppendedAt}, pythonTime(1777734000, 120000000))
			},
			func() error { return checkWrite(realCodec, pythonTime(1777734000, 120000000)) }},
		{"FuzzAppendedAt", "reader requires the fraction",
			func() error {
				return checkParse(timeCodec{queue.FormatAppendedAt, fractionParse}, "2026-05-02T15:00:00+00:00")
			},
			func() error { return checkParse(realCodec, "2026-05-02T15:00:00+00:00") }},
	} {
		t.Run(tc.target+"/"+tc.bug, func(t *testing.T) {
			if err := tc.planted(); err == nil {
				t.Errorf("the property let the planted bug through")
			} else {
				t.Logf("caught: %v", err)
			}
			if err := tc.real(); err != nil {
				t.Errorf("the property fails on capq too: %v", err)
			}
		})
	}
}

// Planted stores for the round-trip property.

func reencodingStore(rec []byte) (roundTrip, error) {
	var v any
	if json.Unmarshal(rec, &v) == nil {
		if b, err := json.Marshal(v); err == nil {
			rec = b
		}
	}
	return queueRoundTrip(rec)
}

func lenientStore(rec []byte) (roundTrip, error) {
	if !utf8.Valid(rec) {
		return roundTrip{delivered: [][]byte{rec}}, nil
	}
	return queueRoundTrip(rec)
}

func leakyStore(rec []byte) (roundTrip, error) {
	rt, err := queueRoundTrip(rec)
	if rt.appendErr != nil {
		rt.left = append(rt.left, "pending-"+seedULID+".json.tmp")
	}
	return rt, err
}

// Planted generators for the generator property.

// plantedGenerator reads the clock and entropy like the real generator but
// applies a broken rule for the next timestamp and random part.
type plantedGenerator struct {
	o    ulid.GeneratorOptions
	last ulid.ULID
	next func(g *plantedGenerator, nowMs uint64) (ms uint64, fresh bool)
}

func (g *plantedGenerator) New() (ulid.ULID, error) {
	ms, fresh := g.next(g, uint64(g.o.Clock().UnixMilli()))
	var id ulid.ULID
	id[0], id[1], id[2], id[3], id[4], id[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	if fresh {
		if _, err := g.o.Entropy.Read(id[6:]); err != nil {
			return ulid.ULID{}, err
		}
	} else {
		inc := plusOne(g.last)
		copy(id[6:], inc[6:])
	}
	g.last = id
	return id, nil
}

func bumpingGenerator(o ulid.GeneratorOptions) interface{ New() (ulid.ULID, error) } {
	return &plantedGenerator{o: o, next: func(g *plantedGenerator, now uint64) (uint64, bool) {
		if !g.last.IsZero() && now <= g.last.Ms() {
			return g.last.Ms() + 1, true
		}
		return now, true
	}}
}

func freshGenerator(o ulid.GeneratorOptions) interface{ New() (ulid.ULID, error) } {
	return &plantedGenerator{o: o, next: func(_ *plantedGenerator, now uint64) (uint64, bool) { return now, true }}
}

// descending is entropy whose second draw is below the first.
var descending = []byte{9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}

// oklogParse is oklog/ulid's Parse, which skips the alphabet check.
func oklogParse(s string) (ulid.ULID, error) {
	id, err := oklog.Parse(s)
	return ulid.ULID(id), err
}

// Planted decoders for the decoding property.

// decodeFailure runs the decoding property on data.
func decodeFailure(dec envelopeDecoder, data string) error {
	_, _, failure := checkDecode(dec, []byte(data))
	return failure
}

// corruptErr is a *queue.DataError wrapping queue.ErrCorrupt, as the
// planted decoders return: the real decoder's error for empty input, with
// detail as its text (only the queue can make one from scratch).
func corruptErr(detail string) error {
	_, err := queue.DecodeEnvelope(nil)
	var de *queue.DataError
	if !errors.As(err, &de) || !errors.Is(err, queue.ErrCorrupt) {
		panic("DecodeEnvelope(nil) = " + fmt.Sprint(err) + ", want a *DataError wrapping ErrCorrupt")
	}
	c := *de
	c.Detail = detail
	return &c
}

func panickyDecoder(data []byte) (queue.Envelope, error) {
	if data[0] != '{' {
		return queue.Envelope{}, corruptErr("not an object")
	}
	return queue.DecodeEnvelope(data)
}

func untypedDecoder(data []byte) (queue.Envelope, error) {
	if !json.Valid(data) {
		return queue.Envelope{}, errors.New("invalid JSON")
	}
	return queue.DecodeEnvelope(data)
}

// structDecoder decodes into the generated struct and trusts its types,
// which lets any JSON value through as the record.
func structDecoder(data []byte) (queue.Envelope, error) {
	var e gen.Envelope
	if err := json.Unmarshal(data, &e); err != nil {
		return queue.Envelope{}, corruptErr(err.Error())
	}
	id, err := ulid.Parse(e.ULID)
	if err != nil {
		return queue.Envelope{}, corruptErr(err.Error())
	}
	at, err := queue.ParseAppendedAt(e.AppendedAt)
	if err != nil {
		return queue.Envelope{}, corruptErr(err.Error())
	}
	return queue.Envelope{ULID: id, AppendedAt: at, Record: e.Record}, nil
}

// structValidator is a fast validator that only decodes into the generated
// struct: unknown keys ignored, no pattern.
func structValidator(data []byte) error {
	var e gen.Envelope
	if err := json.Unmarshal(data, &e); err != nil {
		return err
	}
	if e.SchemaVersion != gen.SchemaVersion || len(e.Record) == 0 || e.Record[0] != '{' {
		return fmt.Errorf("invalid envelope")
	}
	return nil
}

// Planted appended_at codecs.

func rfc3339Format(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func fractionParse(s string) (time.Time, error) {
	return time.Parse("2006-01-02T15:04:05.000000Z07:00", s)
}
