//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package queue

// Unit tests of the envelope codec: checkRecord (what Append accepts),
// appendEnvelope and FormatAppendedAt (what capq writes), DecodeEnvelope
// (what capq reads), and the round trip through a real queue.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/capq/capq/gen"
	"github.com/capq/capq/ulid"
)

// noteBytes are the envelope bytes observed from the reference, as quoted in
// spec/REFERENCE.md section 2 (no trailing newline).
const noteBytes = `{"ulid":"01M89W077TES8Y8XEAP3E7KMB2","appended_at":"2026-11-25T17:28:07.162144+00:00","record":{"surface":"Привет 🧠 <a&b>","cue":"c","n":1180591620717411303424,"f":1.0,"g":1e+16,"h":1.5e-07,"z":-0.0},"schema_version":1}`

const (
	noteULID   = "01M89W077TES8Y8XEAP3E7KMB2"
	noteName   = "pending-" + noteULID + ".json"
	noteRecord = `{"surface":"Привет 🧠 <a&b>","cue":"c","n":1180591620717411303424,"f":1.0,"g":1e+16,"h":1.5e-07,"z":-0.0}`
)

var noteTime = time.Date(2026, 11, 25, 17, 28, 7, 162144000, time.UTC)

// anyOffset in a test table means the error's offset is not checked.
const anyOffset = -1

// nest returns a record nested depth levels deep (the object counts as
// one): {"a":[[0]]} is 3 deep.
func nest(depth int) string {
	return `{"a":` + strings.Repeat("[", depth-1) + "0" + strings.Repeat("]", depth-1) + `}`
}

// Spec R5: records Append accepts, and the bytes it keeps (white space
// around the object dropped, everything inside verbatim: Spec R4).
func TestRecordCheckAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string // "" means the input itself
	}{
		{"empty object", `{}`, ""},
		{"white space around", " \t\r\n{\"a\":1}\n ", `{"a":1}`},
		{"white space inside kept", `{ "a" : [ 1 , 2 ] }`, ""},
		{"python floats", `{"f":1.0,"z":-0.0,"g":1e+16,"h":1.5e-07,"E":1E-2,"i":-0}`, ""},
		{"big integer", `{"n":1180591620717411303424,"m":-18446744073709551615}`, ""},
		{"huge exponent", `{"x":1e999999,"y":-1.5E-999999}`, ""},
		{"escapes", `{"s":"\u0000\t\n\r\b\f\"\\\/\u001F\uFFFF"}`, ""},
		{"lone surrogate escapes", `{"s":"\ud800","t":"\udfff\ud800","u":"\uDBFF"}`, ""},
		{"U+2028 and U+2029 raw", "{\"s\":\"line\u2028para\u2029\"}", ""},
		{"DEL raw", "{\"s\":\"\x7f\"}", ""},
		{"html raw", `{"s":"<a&b>"}`, ""},
		{"non-ASCII keys and values", `{"🔑":"Привет 🧠","":"","ключ":"e` + "\u0301" + `"}`, ""},
		{"max scalar", "{\"s\":\"\U0010FFFF\"}", ""},
		{"nested", `{"a":[{"b":[[],{}]},null,true,false,"x",-1,0.5]}`, ""},
		{"duplicate keys", `{"a":1,"a":2}`, ""},
		{"at the depth limit", nest(64), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			if want == "" {
				want = tt.in
			}
			got, err := checkRecord([]byte(tt.in), 1<<20, 64)
			if err != nil {
				t.Fatalf("checkRecord(%q) = %v, want accepted", tt.in, err)
			}
			if string(got) != want {
				t.Errorf("checkRecord(%q) kept %q, want %q", tt.in, got, want)
			}
		})
	}
}

// Spec R5, R24: records Append refuses, with a *DataError wrapping
// ErrInvalidRecord, and the byte offset of the problem where it is
// unambiguous.
func TestRecordCheckRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		in     string
		offset int
	}{
		// Not one object.
		{"empty", ``, 0},
		{"only space", `   `, 3},
		{"array", `[]`, 0},
		{"array after space", `  [{"a":1}]`, 2},
		{"string", `"s"`, 0},
		{"number", `1`, 0},
		{"null", `null`, 0},
		{"true", `true`, 0},
		{"data after the object", `{"a":1} x`, 8},
		{"two objects", `{"a":1}{}`, 7},
		{"unterminated object", `{"a":1`, anyOffset},
		{"unterminated string", `{"a":"x`, anyOffset},
		// Invalid UTF-8, reported at the first bad byte.
		{"bad byte in string", "{\"a\":\"\xff\"}", 6},
		{"truncated sequence", "{\"a\":\"é\xc3\"}", 8},
		{"overlong encoding", "{\"a\":\"\xc0\xaf\"}", 6},
		{"raw surrogate (CESU-8)", "{\"a\":\"\xed\xa0\x80\"}", 6},
		{"beyond U+10FFFF", "{\"a\":\"\xf4\x90\x80\x80\"}", 6},
		{"bad byte after the object", "{}\xfe", 2},
		// Not JSON values.
		{"NaN", `{"a":NaN}`, 5},
		{"Infinity", `{"a":Infinity}`, 5},
		{"-Infinity", `{"a":-Infinity}`, anyOffset},
		{"True", `{"a":True}`, anyOffset},
		{"truncated literal", `{"a":tru}`, anyOffset},
		{"leading zero", `{"a":01}`, anyOffset},
		{"plus sign", `{"a":+1}`, 5},
		{"bare fraction", `{"a":.5}`, 5},
		{"no fraction digits", `{"a":1.}`, anyOffset},
		{"no exponent digits", `{"a":1e}`, anyOffset},
		{"hex", `{"a":0x10}`, anyOffset},
		{"lone minus", `{"a":-}`, anyOffset},
		// Control characters must be escaped inside strings.
		{"raw NUL", "{\"a\":\"\x00\"}", 6},
		{"raw tab", "{\"a\":\"\t\"}", 6},
		{"raw newline", "{\"a\":\"\n\"}", 6},
		{"raw 0x1f", "{\"a\":\"\x1f\"}", 6},
		{"raw control in key", "{\"\x01\":1}", 2},
		// Escapes.
		{"unknown escape", `{"a":"\x"}`, anyOffset},
		{"single quote escape", `{"a":"\'"}`, anyOffset},
		{"upper-case U", `{"a":"\U0041"}`, anyOffset},
		{"short \\u", `{"a":"\u12"}`, anyOffset},
		{"non-hex \\u", `{"a":"\u12G4"}`, anyOffset},
		{"backslash at the end", `{"a":"\`, anyOffset},
		// Structure.
		{"bare key", `{a:1}`, anyOffset},
		{"single-quoted key", `{'a':1}`, anyOffset},
		{"key without value", `{"a"}`, anyOffset},
		{"trailing comma in object", `{"a":1,}`, anyOffset},
		{"trailing comma in array", `{"a":[1,]}`, anyOffset},
		{"missing comma", `{"a":1 "b":2}`, anyOffset},
		{"comment", `{"a":1 /* c */}`, anyOffset},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := checkRecord([]byte(tt.in), 1<<20, 64)
			if err == nil {
				t.Fatalf("checkRecord(%q) accepted it", tt.in)
			}
			if !errors.Is(err, ErrInvalidRecord) {
				t.Errorf("error %v does not wrap ErrInvalidRecord", err)
			}
			if errors.Is(err, errTooDeep) || errors.Is(err, errRecordTooLarge) {
				t.Errorf("error %v claims a limit was hit", err)
			}
			var re *DataError
			if !errors.As(err, &re) {
				t.Fatalf("error %T is not a *DataError", err)
			}
			if re.Detail == "" || !strings.Contains(err.Error(), re.Detail) {
				t.Errorf("Error() = %q does not give the reason %q", err, re.Detail)
			}
			if tt.offset != anyOffset && re.Offset != tt.offset {
				t.Errorf("Offset = %d, want %d (%s)", re.Offset, tt.offset, re.Detail)
			}
			if re.Offset < 0 || re.Offset > len(tt.in) {
				t.Errorf("Offset = %d is outside the record of %d bytes", re.Offset, len(tt.in))
			}
		})
	}
}

// Spec R5, R24: the size and depth limits, on both sides of each bound.
// Each refusal wraps its own limit's error and not the other's, and gives
// the offset where the limit was hit: the size limit itself, or the
// bracket that went one level too deep.
func TestRecordCheckLimits(t *testing.T) {
	t.Parallel()
	rec := `{"surface":"` + strings.Repeat("x", 100) + `"}`
	tests := []struct {
		name       string
		in         string
		maxSize    int
		maxDepth   int
		wantErr    error // nil: accepted
		wantOffset int
	}{
		{"size at the limit", rec, len(rec), 64, nil, 0},
		{"size one over", rec, len(rec) - 1, 64, errRecordTooLarge, len(rec) - 1},
		{"space counts toward the size", rec + "  ", len(rec) + 1, 64, errRecordTooLarge, len(rec) + 1},
		{"size checked before syntax", "[" + rec, len(rec), 64, errRecordTooLarge, len(rec)},
		{"depth 1 at limit 1", `{"a":1}`, 1 << 20, 1, nil, 0},
		{"depth 2 over limit 1", `{"a":{}}`, 1 << 20, 1, errTooDeep, 5},
		{"array depth at the limit", nest(3), 1 << 20, 3, nil, 0},
		{"array depth one over", nest(4), 1 << 20, 3, errTooDeep, 7},
		{"object depth one over", `{"a":{"b":{"c":{}}}}`, 1 << 20, 3, errTooDeep, 15},
		{"default depth at the limit", nest(defaultMaxDepth), 1 << 20, defaultMaxDepth, nil, 0},
		{"default depth one over", nest(defaultMaxDepth + 1), 1 << 20, defaultMaxDepth, errTooDeep, 4 + defaultMaxDepth},
		{"far too deep, not a stack overflow", nest(1_000_000), 1 << 22, defaultMaxDepth, errTooDeep, 4 + defaultMaxDepth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := checkRecord([]byte(tt.in), tt.maxSize, tt.maxDepth)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !errors.Is(err, ErrInvalidRecord) {
				t.Fatalf("err = %v, want one wrapping %v and ErrInvalidRecord", err, tt.wantErr)
			}
			other := errTooDeep
			if tt.wantErr == errTooDeep {
				other = errRecordTooLarge
			}
			if errors.Is(err, other) {
				t.Errorf("err = %v also claims %v", err, other)
			}
			var re *DataError
			if !errors.As(err, &re) {
				t.Fatalf("error %T is not a *DataError", err)
			}
			if re.Offset != tt.wantOffset {
				t.Errorf("Offset = %d, want %d", re.Offset, tt.wantOffset)
			}
		})
	}
}

// Spec R2: appended_at is Python's datetime.isoformat() of the UTC time:
// microseconds, no fraction at all when they are zero, "+00:00".
func TestEnvelopeFormatAppendedAt(t *testing.T) {
	t.Parallel()
	plus0230 := time.FixedZone("+02:30", 2*3600+1800)
	minus5 := time.FixedZone("-05:00", -5*3600)
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2026, 5, 2, 15, 0, 0, 0, time.UTC), "2026-05-02T15:00:00+00:00"},
		{time.Date(2026, 5, 2, 15, 0, 0, 120000000, time.UTC), "2026-05-02T15:00:00.120000+00:00"},
		{time.Date(2026, 11, 25, 17, 28, 7, 162144000, time.UTC), "2026-11-25T17:28:07.162144+00:00"},
		{time.Date(2026, 5, 2, 15, 0, 0, 1000, time.UTC), "2026-05-02T15:00:00.000001+00:00"},
		{time.Date(2026, 5, 2, 15, 0, 0, 999, time.UTC), "2026-05-02T15:00:00+00:00"}, // truncated, not rounded
		{time.Date(2026, 5, 2, 15, 0, 0, 999999999, time.UTC), "2026-05-02T15:00:00.999999+00:00"},
		{time.Date(2026, 5, 2, 17, 30, 0, 5000, plus0230), "2026-05-02T15:00:00.000005+00:00"},
		{time.Date(2025, 12, 31, 22, 0, 0, 0, minus5), "2026-01-01T03:00:00+00:00"},
		{time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), "0001-01-01T00:00:00+00:00"},
		{time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC), "9999-12-31T23:59:59.999999+00:00"},
	}
	for _, tt := range tests {
		if got := FormatAppendedAt(tt.in); got != tt.want {
			t.Errorf("FormatAppendedAt(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// A monotonic clock reading must not leak into the text.
	now := time.Now()
	got := FormatAppendedAt(now)
	back, err := ParseAppendedAt(got)
	if err != nil || !back.Equal(now.Truncate(time.Microsecond)) {
		t.Errorf("FormatAppendedAt(time.Now()) = %q, parses back to %v, %v", got, back, err)
	}
}

// Spec R2, R3: every written appended_at parses back to the same instant,
// truncated to the microsecond, in both isoformat shapes.
func TestEnvelopeAppendedAtRoundTrip(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	zones := []*time.Location{time.UTC, time.FixedZone("x", 13*3600+45*60), time.FixedZone("y", -9*3600-30*60)}
	for i := range 2000 {
		sec := rng.Int64N(253402300799) // up to the end of year 9999
		nsec := rng.Int64N(1e9)
		if i%4 == 0 {
			nsec = 0 // whole seconds: the shape without a fraction
		}
		in := time.Unix(sec, nsec).In(zones[i%len(zones)])
		s := FormatAppendedAt(in)
		if !strings.HasSuffix(s, "+00:00") || (in.Nanosecond() < 1000) == strings.Contains(s, ".") {
			t.Fatalf("FormatAppendedAt(%v) = %q", in, s)
		}
		back, err := ParseAppendedAt(s)
		if err != nil || !back.Equal(in.Truncate(time.Microsecond)) {
			t.Fatalf("ParseAppendedAt(%q) = %v, %v; want %v", s, back, err, in.Truncate(time.Microsecond))
		}
	}
}

// Spec R2: appendEnvelope writes the reference's layout, byte for byte:
// compact, keys in order, non-ASCII, HTML characters and U+2028 raw, the
// record verbatim, no trailing newline; it appends to dst.
func TestEnvelopeAppendLayout(t *testing.T) {
	t.Parallel()
	id := ulid.MustParse(noteULID)
	tests := []struct {
		name string
		at   time.Time
		rec  string
		want string
	}{
		{"note", noteTime, noteRecord, noteBytes},
		{"zero fraction", time.Date(2026, 5, 2, 15, 0, 0, 0, time.UTC), `{}`,
			`{"ulid":"` + noteULID + `","appended_at":"2026-05-02T15:00:00+00:00","record":{},"schema_version":1}`},
		{"raw specials", time.Date(2026, 5, 2, 15, 0, 0, 120000000, time.FixedZone("z", 3600)),
			"{\"s\":\"<a&b> \u2028 é 𠀀 \\u0000\"}",
			`{"ulid":"` + noteULID + `","appended_at":"2026-05-02T14:00:00.120000+00:00","record":{"s":"<a&b>` + " \u2028 é 𠀀 " + `\u0000"},"schema_version":1}`},
		{"record verbatim", time.Date(2026, 5, 2, 15, 0, 0, 0, time.UTC), `{ "b" : 1E5 ,"a":-0}`,
			`{"ulid":"` + noteULID + `","appended_at":"2026-05-02T15:00:00+00:00","record":{ "b" : 1E5 ,"a":-0},"schema_version":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := appendEnvelope([]byte("prefix"), id, tt.at, []byte(tt.rec))
			if !bytes.HasPrefix(got, []byte("prefix")) {
				t.Fatalf("appendEnvelope overwrote dst: %q", got)
			}
			got = got[len("prefix"):]
			if string(got) != tt.want {
				t.Fatalf("appendEnvelope =\n%s\nwant\n%s", got, tt.want)
			}
			if keys := topLevelKeys(t, got); !equalStrings(keys, gen.FieldOrder[:]) {
				t.Errorf("keys %v, want %v", keys, gen.FieldOrder)
			}
			// An independent encoder of the same layout: encoding/json
			// with HTML escaping off writes the same bytes.
			var compact bytes.Buffer
			if json.Compact(&compact, []byte(tt.rec)) == nil && compact.String() == tt.rec {
				var buf bytes.Buffer
				enc := json.NewEncoder(&buf)
				enc.SetEscapeHTML(false)
				if err := enc.Encode(gen.Envelope{ULID: noteULID, AppendedAt: FormatAppendedAt(tt.at), Record: json.RawMessage(tt.rec), SchemaVersion: 1}); err != nil {
					t.Fatal(err)
				}
				if want := bytes.TrimSuffix(buf.Bytes(), []byte("\n")); !bytes.Equal(got, want) {
					t.Errorf("encoding/json writes\n%s\nappendEnvelope\n%s", want, got)
				}
			}
		})
	}
}

// topLevelKeys returns the keys of the JSON object b in the order written.
func topLevelKeys(t testing.TB, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %v %v", tok, err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// envelopeJSON builds an envelope from members written in the given order.
// Each member is `"key":value` exactly as it should appear.
func envelopeJSON(members ...string) string {
	return "{" + strings.Join(members, ",") + "}"
}

const (
	mULID   = `"ulid":"` + noteULID + `"`
	mAt     = `"appended_at":"2026-11-25T17:28:07.162144+00:00"`
	mRecord = `"record":` + noteRecord
	mSV     = `"schema_version":1`
)

// Spec R3, R4: envelopes DecodeEnvelope accepts, and what it decodes.
func TestEnvelopeDecodeAccepts(t *testing.T) {
	t.Parallel()
	at := func(s string) string { return `"appended_at":"` + s + `"` }
	tests := []struct {
		name   string
		file   string
		data   string
		wantAt time.Time
		rec    string // the expected Record; "" means noteRecord
	}{
		{"reference bytes", noteName, noteBytes, noteTime, ""},
		{"isoformat without fraction", noteName, envelopeJSON(mULID, at("2026-05-02T15:00:00+00:00"), mRecord, mSV),
			time.Date(2026, 5, 2, 15, 0, 0, 0, time.UTC), ""},
		{"Z", noteName, envelopeJSON(mULID, at("2026-05-02T15:00:00Z"), mRecord, mSV),
			time.Date(2026, 5, 2, 15, 0, 0, 0, time.UTC), ""},
		{"Z with fraction", noteName, envelopeJSON(mULID, at("2026-05-02T15:00:00.12Z"), mRecord, mSV),
			time.Date(2026, 5, 2, 15, 0, 0, 120000000, time.UTC), ""},
		{"nanoseconds", noteName, envelopeJSON(mULID, at("2026-05-02T15:00:00.123456789+00:00"), mRecord, mSV),
			time.Date(2026, 5, 2, 15, 0, 0, 123456789, time.UTC), ""},
		{"positive offset", noteName, envelopeJSON(mULID, at("2026-05-02T17:00:00.5+02:00"), mRecord, mSV),
			time.Date(2026, 5, 2, 15, 0, 0, 500000000, time.UTC), ""},
		{"negative offset", noteName, envelopeJSON(mULID, at("2026-05-02T07:30:00-07:30"), mRecord, mSV),
			time.Date(2026, 5, 2, 15, 0, 0, 0, time.UTC), ""},
		{"keys reversed", noteName, envelopeJSON(mSV, mRecord, mAt, mULID), noteTime, ""},
		{"keys shuffled", noteName, envelopeJSON(mRecord, mULID, mSV, mAt), noteTime, ""},
		{"white space and newline", noteName, " {\n \"ulid\" : \"" + noteULID + "\" ,\t" + mAt + " , " + mRecord + " ,\"schema_version\" : 1 }\n", noteTime, ""},
		{"empty record", noteName, envelopeJSON(mULID, mAt, `"record":{}`, mSV), noteTime, `{}`},
		{"record with lone surrogate escape", noteName, envelopeJSON(mULID, mAt, `"record":{"s":"\ud800"}`, mSV), noteTime, `{"s":"\ud800"}`},
		{"deep record", noteName, envelopeJSON(mULID, mAt, `"record":`+nest(maxReadDepth-1), mSV), noteTime, nest(maxReadDepth - 1)},
		{"name not a pending file: no ulid check", "quarantine/whatever.json", noteBytes, noteTime, ""},
		{"empty name", "", noteBytes, noteTime, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.data)
			env, err := decodeFile(tt.file, data)
			if err != nil {
				t.Fatalf("DecodeEnvelope: %v", err)
			}
			want := tt.rec
			if want == "" {
				want = noteRecord
			}
			if env.ULID.String() != noteULID {
				t.Errorf("ULID = %s, want %s", env.ULID, noteULID)
			}
			if !env.AppendedAt.Equal(tt.wantAt) {
				t.Errorf("AppendedAt = %v, want %v", env.AppendedAt, tt.wantAt)
			}
			if string(env.Record) != want {
				t.Errorf("Record = %s, want %s", env.Record, want)
			}
			// Record aliases data: no copy.
			i := bytes.Index(data, []byte(want))
			if len(env.Record) > 0 && (i < 0 || &env.Record[0] != &data[i]) {
				t.Errorf("Record does not alias data")
			}
		})
	}
}

// Spec R3: envelopes DecodeEnvelope refuses with a *DataError, so that
// Ingest quarantines them.
func TestEnvelopeDecodeCorrupt(t *testing.T) {
	t.Parallel()
	ulidM := func(s string) string { return `"ulid":` + s }
	atM := func(s string) string { return `"appended_at":` + s }
	recM := func(s string) string { return `"record":` + s }
	svM := func(s string) string { return `"schema_version":` + s }
	other := ulid.MustParse("01KQMK87C0RQ01XMZ70E8MD2F1").String()
	tests := []struct{ name, data string }{
		{"invalid UTF-8 in record", envelopeJSON(mULID, mAt, "\"record\":{\"s\":\"\xff\"}", mSV)},
		{"invalid UTF-8 outside", noteBytes + "\xff"},
		{"empty", ``},
		{"white space", " \n"},
		{"array", `[` + noteBytes + `]`},
		{"string", `"x"`},
		{"null", `null`},
		{"data after the object", noteBytes + `x`},
		{"two objects", noteBytes + noteBytes},
		{"NaN in record", envelopeJSON(mULID, mAt, `"record":{"a":NaN}`, mSV)},
		{"raw control in record", envelopeJSON(mULID, mAt, "\"record\":{\"a\":\"\x01\"}", mSV)},
		{"non-string key", `{1:2,` + mULID + "," + mAt + "," + mRecord + "," + mSV + "}"},
		{"duplicate ulid", envelopeJSON(mULID, mULID, mAt, mRecord, mSV)},
		{"duplicate appended_at", envelopeJSON(mULID, mAt, mAt, mRecord, mSV)},
		{"duplicate record", envelopeJSON(mULID, mAt, mRecord, `"record":{}`, mSV)},
		{"duplicate schema_version", envelopeJSON(mULID, mAt, mRecord, mSV, mSV)},
		{"extra key", envelopeJSON(mULID, mAt, mRecord, mSV, `"extra":1`)},
		{"extra key first", envelopeJSON(`"x":null`, mULID, mAt, mRecord, mSV)},
		{"key in another case", envelopeJSON(`"ULID":"`+noteULID+`"`, mAt, mRecord, mSV)},
		{"missing ulid", envelopeJSON(mAt, mRecord, mSV)},
		{"missing appended_at", envelopeJSON(mULID, mRecord, mSV)},
		{"missing record", envelopeJSON(mULID, mAt, mSV)},
		{"missing schema_version", envelopeJSON(mULID, mAt, mRecord)},
		{"empty object", `{}`},
		{"ulid differs from the file name", envelopeJSON(ulidM(`"`+other+`"`), mAt, mRecord, mSV)},
		{"ulid lower case", envelopeJSON(ulidM(`"`+strings.ToLower(noteULID)+`"`), mAt, mRecord, mSV)},
		{"ulid with I", envelopeJSON(ulidM(`"01M89W077TES8Y8XEAP3E7KMBI"`), mAt, mRecord, mSV)},
		{"ulid with U", envelopeJSON(ulidM(`"01M89W077TES8Y8XEAP3E7KMBU"`), mAt, mRecord, mSV)},
		{"ulid too short", envelopeJSON(ulidM(`"`+noteULID[:25]+`"`), mAt, mRecord, mSV)},
		{"ulid too long", envelopeJSON(ulidM(`"`+noteULID+`0"`), mAt, mRecord, mSV)},
		{"ulid overflows 128 bits", envelopeJSON(ulidM(`"81M89W077TES8Y8XEAP3E7KMB2"`), mAt, mRecord, mSV)},
		{"ulid a number", envelopeJSON(ulidM(`1`), mAt, mRecord, mSV)},
		{"ulid null", envelopeJSON(ulidM(`null`), mAt, mRecord, mSV)},
		{"ulid empty", envelopeJSON(ulidM(`""`), mAt, mRecord, mSV)},
		{"appended_at naive", envelopeJSON(mULID, atM(`"2026-05-02T15:00:00"`), mRecord, mSV)},
		{"appended_at date only", envelopeJSON(mULID, atM(`"2026-05-02"`), mRecord, mSV)},
		{"appended_at month 13", envelopeJSON(mULID, atM(`"2026-13-02T15:00:00+00:00"`), mRecord, mSV)},
		{"appended_at hour 25", envelopeJSON(mULID, atM(`"2026-05-02T25:00:00+00:00"`), mRecord, mSV)},
		{"appended_at words", envelopeJSON(mULID, atM(`"yesterday"`), mRecord, mSV)},
		{"appended_at empty", envelopeJSON(mULID, atM(`""`), mRecord, mSV)},
		{"appended_at a number", envelopeJSON(mULID, atM(`1777734000`), mRecord, mSV)},
		{"appended_at null", envelopeJSON(mULID, atM(`null`), mRecord, mSV)},
		{"record an array", envelopeJSON(mULID, mAt, recM(`[]`), mSV)},
		{"record a string", envelopeJSON(mULID, mAt, recM(`"{}"`), mSV)},
		{"record a number", envelopeJSON(mULID, mAt, recM(`1`), mSV)},
		{"record null", envelopeJSON(mULID, mAt, recM(`null`), mSV)},
		{"record true", envelopeJSON(mULID, mAt, recM(`true`), mSV)},
		{"record too deep", envelopeJSON(mULID, mAt, recM(nest(maxReadDepth)), mSV)},
		{"schema_version 1.0", envelopeJSON(mULID, mAt, mRecord, svM(`1.0`))},
		{"schema_version 1e0", envelopeJSON(mULID, mAt, mRecord, svM(`1e0`))},
		{"schema_version true", envelopeJSON(mULID, mAt, mRecord, svM(`true`))},
		{"schema_version string", envelopeJSON(mULID, mAt, mRecord, svM(`"1"`))},
		{"schema_version null", envelopeJSON(mULID, mAt, mRecord, svM(`null`))},
		{"schema_version array", envelopeJSON(mULID, mAt, mRecord, svM(`[1]`))},
		{"schema_version object", envelopeJSON(mULID, mAt, mRecord, svM(`{}`))},
		{"schema_version 2.0", envelopeJSON(mULID, mAt, mRecord, svM(`2.0`))},
		{"schema_version leading zero", envelopeJSON(mULID, mAt, mRecord, svM(`01`))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkCorrupt(t, noteName, []byte(tt.data))
		})
	}
}

func checkCorrupt(t *testing.T, name string, data []byte) {
	t.Helper()
	env, err := decodeFile(name, data)
	var ce *DataError
	if !errors.As(err, &ce) {
		t.Fatalf("DecodeEnvelope(%.80q) = %+v, %v; want a *DataError", data, env, err)
	}
	if !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrSchemaVersion) {
		t.Errorf("error %v: Is(ErrCorrupt) = %v, Is(ErrSchemaVersion) = %v", err, errors.Is(err, ErrCorrupt), errors.Is(err, ErrSchemaVersion))
	}
	if ce.Name != name || ce.Detail == "" {
		t.Errorf("DataError = %+v, want Name %q and a reason", ce, name)
	}
	if env.Record != nil || !env.ULID.IsZero() {
		t.Errorf("a failed decode returned a partial envelope: %+v", env)
	}
}

// Spec R3: a truncated file, cut anywhere (as a torn write would leave it),
// is corrupt: never accepted, never a schema error, never a panic.
func TestEnvelopeDecodeEveryTruncation(t *testing.T) {
	t.Parallel()
	data := []byte(noteBytes)
	for n := range len(data) {
		_, err := decodeFile(noteName, data[:n:n])
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("the first %d bytes: err = %v, want ErrCorrupt", n, err)
		}
	}
}

// Spec R14: a schema_version written as another integer gives a
// *DataError carrying the value as written, whatever else is wrong with
// the file, so that a newer format stops the drain instead of being
// quarantined.
func TestEnvelopeDecodeSchemaVersion(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("9", 100)
	sv := func(v string) string { return `"schema_version":` + v }
	tests := []struct {
		name, data, found string
	}{
		{"2", envelopeJSON(mULID, mAt, mRecord, sv("2")), "2"},
		{"99", envelopeJSON(mULID, mAt, mRecord, sv("99")), "99"},
		{"0", envelopeJSON(mULID, mAt, mRecord, sv("0")), "0"},
		{"-1", envelopeJSON(mULID, mAt, mRecord, sv("-1")), "-1"},
		{"-0", envelopeJSON(mULID, mAt, mRecord, sv("-0")), "-0"},
		{"huge", envelopeJSON(mULID, mAt, mRecord, sv("123456789012345678901234567890")), "123456789012345678901234567890"},
		{"first key", envelopeJSON(sv("2"), mULID, mAt, mRecord), "2"},
		// Whatever else is wrong.
		{"with an extra key", envelopeJSON(mULID, mAt, mRecord, sv("2"), `"tenant":"x"`), "2"},
		{"without record", envelopeJSON(mULID, mAt, sv("2")), "2"},
		{"without ulid and appended_at", envelopeJSON(mRecord, sv("3")), "3"},
		{"record a string", envelopeJSON(mULID, mAt, `"record":"text"`, sv("2")), "2"},
		{"ulid differs from the file name", envelopeJSON(`"ulid":"01KQMK87C0RQ01XMZ70E8MD2F1"`, mAt, mRecord, sv("2")), "2"},
		{"ulid not a ULID", envelopeJSON(`"ulid":"v2-id"`, mAt, mRecord, sv("2")), "2"},
		{"appended_at another format", envelopeJSON(mULID, `"appended_at":1777734000`, mRecord, sv("2")), "2"},
		{"duplicate key", envelopeJSON(mULID, mULID, mAt, mRecord, sv("2")), "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeFile(noteName, []byte(tt.data))
			var se *DataError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want a *DataError", err)
			}
			if !errors.Is(err, ErrSchemaVersion) || errors.Is(err, ErrCorrupt) {
				t.Errorf("err = %v: want ErrSchemaVersion and not ErrCorrupt", err)
			}
			if found(se) != tt.found || se.Name != noteName {
				t.Errorf("DataError = %+v, want the value %q, Name %q", se, tt.found, noteName)
			}
			// The seed's test_schema_version_mismatch_raises checks the
			// message names the field and the value.
			if msg := err.Error(); !strings.Contains(msg, "schema_version") || !strings.Contains(msg, tt.found) {
				t.Errorf("message %q does not name schema_version and %s", msg, tt.found)
			}
		})
	}
	t.Run("long value truncated", func(t *testing.T) {
		_, err := decodeFile(noteName, []byte(envelopeJSON(mULID, mAt, mRecord, sv(long))))
		var se *DataError
		if !errors.As(err, &se) {
			t.Fatalf("err = %v, want a *DataError", err)
		}
		if !strings.HasPrefix(long, strings.TrimSuffix(found(se), "...")) || len(found(se)) > 80 {
			t.Errorf("Found = %q, want a short prefix of the value", found(se))
		}
	})
}

// Spec R2, R3, R4: Append writes bytes that DecodeEnvelope reads back to
// the same ULID, time (to the microsecond) and record bytes, and Ingest
// delivers exactly that envelope.
func TestEnvelopeRoundTrip(t *testing.T) {
	t.Parallel()
	clock := time.Date(2026, 11, 25, 20, 28, 7, 162144999, time.FixedZone("MSK", 3*3600))
	q, dir := openTest(t, Options{clock: func() time.Time { return clock }})
	records := []struct{ in, kept string }{
		{noteRecord, noteRecord},
		{"\n {\"a\":[1,{\"b\":null}],\"s\":\"\\u0000 \u2028 🧠\"} \t", "{\"a\":[1,{\"b\":null}],\"s\":\"\\u0000 \u2028 🧠\"}"},
		{`{ "x" : 1E400 , "y":-0 }`, `{ "x" : 1E400 , "y":-0 }`},
		{`{}`, `{}`},
	}
	want := map[ulid.ULID]string{}
	for _, r := range records {
		id := mustAppend(t, q, []byte(r.in))
		want[id] = r.kept
		name := pendingName(id.String())
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if exp := appendEnvelope(nil, id, clock, []byte(r.kept)); !bytes.Equal(data, exp) {
			t.Errorf("file\n%s\nwant\n%s", data, exp)
		}
		env, err := decodeFile(name, data)
		if err != nil {
			t.Fatalf("DecodeEnvelope of capq's own file: %v", err)
		}
		if env.ULID != id || !env.AppendedAt.Equal(clock.Truncate(time.Microsecond)) ||
			string(env.Record) != r.kept {
			t.Errorf("decoded %+v (record %s), want ULID %s, time %v, record %s", env, env.Record, id, clock.Truncate(time.Microsecond), r.kept)
		}
	}
	var seen []Delivery
	if _, err := q.Ingest(context.Background(), collect(&seen), IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != len(records) {
		t.Fatalf("delivered %d, want %d", len(seen), len(records))
	}
	for _, d := range seen {
		if string(d.Record) != want[d.ULID] || !d.AppendedAt.Equal(clock.Truncate(time.Microsecond)) {
			t.Errorf("delivered %s %v %s, want %s", d.ULID, d.AppendedAt, d.Record, want[d.ULID])
		}
	}
}

// Spec R3: appended_at must be an RFC 3339 date-time (DecodeEnvelope's doc
// comment). The shapes the reference writes, Z, lower-case t and z (RFC 3339
// section 5.6 allows them), other offsets and any number of fraction digits
// are accepted; strings that are not RFC 3339 are refused.
//
// Regression test: ParseAppendedAt used to call time.Parse alone, whose
// fallback layout parser accepted a one-digit hour, a comma before the
// fraction, and offsets out of range ("+00:60" was read as "+01:00",
// moving the instant by an hour).
func TestEnvelopeAppendedAtStrictRFC3339(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in string
		ok bool
	}{
		{"2026-05-02T15:00:00+00:00", true},
		{"2026-05-02T15:00:00.120000+00:00", true},
		{"2026-05-02T15:00:00Z", true},
		{"2026-05-02T15:00:00.1Z", true},
		{"2026-05-02T15:00:00.1234567891Z", true},
		{"2026-05-02T15:00:00-00:00", true},
		{"2026-05-02T15:00:00+23:59", true},
		{"2026-05-02t15:00:00z", true},
		{"2026-05-02T5:00:00+00:00", false},
		{"2026-05-02T15:00:00,5+00:00", false},
		{"2026-05-02T15:00:00+24:00", false},
		{"2026-05-02T15:00:00+00:60", false},
		{"2026-05-02T15:00:00+00:0", false},
		{"2026-05-02T15:00:00Z ", false},
		{" 2026-05-02T15:00:00Z", false},
		{"20260-05-02T15:00:00Z", false},
		{"2026-05-02T15:00:00+0000", false},
		{"2026-05-02T15:00:00", false},
		{"2026-05-02T15:00:00.+00:00", false},
		{"2026-05-02T15:00:60Z", false},
		{"2026-05-02T24:00:00Z", false},
		{"2026-02-30T15:00:00Z", false},
		{"2026-05-02 15:00:00+00:00", false},
	}
	for _, tt := range tests {
		_, perr := ParseAppendedAt(tt.in)
		if (perr == nil) != tt.ok {
			t.Errorf("ParseAppendedAt(%q) error = %v, want ok = %v", tt.in, perr, tt.ok)
		}
		// One error shape for every refusal, a field out of range
		// (February 30, hour 24) as well as the grammar: never package
		// time's *time.ParseError, which names its layout.
		var pe *time.ParseError
		// Spec R13's Conventions: a *DataError wrapping ErrCorrupt.
		var de *DataError
		if perr != nil && (errors.As(perr, &pe) || !errors.As(perr, &de) || !errors.Is(perr, ErrCorrupt) ||
			!strings.HasPrefix(perr.Error(), "capq: corrupt envelope: appended_at is not an RFC 3339 date-time: "+strconv.Quote(tt.in))) {
			t.Errorf("ParseAppendedAt(%q) error = %q (%T), want capq's one shape", tt.in, perr, perr)
		}
		data := envelopeJSON(mULID, `"appended_at":"`+tt.in+`"`, mRecord, mSV)
		_, derr := decodeFile(noteName, []byte(data))
		if (derr == nil) != tt.ok || (derr != nil && !errors.Is(derr, ErrCorrupt)) {
			t.Errorf("DecodeEnvelope with appended_at %q: %v, want ok = %v", tt.in, derr, tt.ok)
		}
	}
}

// Spec R5: a record AppendBatch refuses is named by its index, in the
// *DataError's Index and in its message; Append's lone record has no index
// to name.
func TestRefusedRecordNamesIndex(t *testing.T) {
	t.Parallel()
	q, _ := openTest(t, Options{SkipRecover: true, MaxSize: -1})
	_, err := q.AppendBatch([][]byte{[]byte(`{}`), []byte(`{}`), []byte(`[1]`)})
	var de *DataError
	if !errors.As(err, &de) || !errors.Is(err, ErrInvalidRecord) || de.Index != 2 {
		t.Fatalf("AppendBatch = %v, want a *DataError wrapping ErrInvalidRecord with Index 2", err)
	}
	if !strings.Contains(err.Error(), "index 2 of the batch") {
		t.Errorf("AppendBatch error %q does not say which record", err)
	}
	if _, err := q.Append([]byte(`[1]`)); err == nil || strings.Contains(err.Error(), "index") {
		t.Errorf("Append error %q names an index (or is nil)", err)
	}
}
