package queue

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/capq/capq/gen"
	"github.com/capq/capq/ulid"
)

const schemaVersion = gen.SchemaVersion

// Envelope is a decoded pending file: the record's bytes exactly as they
// were appended, and the metadata written around them.
type Envelope struct {
	// ULID identifies the record; it equals the ULID in the file name.
	ULID ulid.ULID
	// AppendedAt is when the record was appended, as written in the file
	// (microsecond precision for files capq and the reference write).
	AppendedAt time.Time
	// Record is the record's JSON object, byte for byte as appended: key
	// order, number spellings (1.0, -0.0, 2^70) and escapes are kept.
	Record json.RawMessage
}

// checkRecord validates a record for Append (spec R5): valid UTF-8, one
// JSON object with nothing but white space around it, at most maxSize
// bytes and maxDepth levels of nesting. It returns the record without the
// surrounding white space, which is insignificant in JSON.
func checkRecord(rec []byte, maxSize, maxDepth int) ([]byte, error) {
	if len(rec) > maxSize {
		return nil, &DataError{Offset: maxSize, Detail: "record of " + strconv.Itoa(len(rec)) + " bytes exceeds the limit of " + strconv.Itoa(maxSize), kind: ErrInvalidRecord, why: errRecordTooLarge}
	}
	if !utf8.Valid(rec) {
		off := 0
		for off < len(rec) {
			r, size := utf8.DecodeRune(rec[off:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			off += size
		}
		return nil, recordError(off, "not valid UTF-8")
	}
	s := scanner{b: rec, maxDepth: maxDepth}
	s.skipSpace()
	start := s.i
	if s.i >= len(rec) || rec[s.i] != '{' {
		return nil, recordError(s.i, "a record must be a JSON object")
	}
	if !s.value(0) {
		e := recordError(s.i, s.err)
		if s.deep {
			e.why = errTooDeep
		}
		return nil, e
	}
	end := s.i
	s.skipSpace()
	if s.i != len(rec) {
		return nil, recordError(s.i, "data after the JSON object")
	}
	return rec[start:end], nil
}

// appendEnvelope writes the keys in a fixed order, the schema's. These
// lines stop compiling if gen.FieldOrder (generated from the schema) ever
// orders them differently, instead of letting the writer drift from it.
var (
	_ = [1]int{}[gen.IndexULID-0]
	_ = [1]int{}[gen.IndexAppendedAt-1]
	_ = [1]int{}[gen.IndexRecord-2]
	_ = [1]int{}[gen.IndexSchemaVersion-3]
	_ = [1]int{}[gen.NumFields-4]
)

// appendEnvelope appends the envelope of a record to dst, byte-compatible
// with the reference: compact, keys in the order of gen.FieldOrder, non-ASCII
// raw, appended_at in Python's isoformat (spec R2).
func appendEnvelope(dst []byte, id ulid.ULID, at time.Time, rec []byte) []byte {
	dst = append(dst, `{"`+gen.FieldULID+`":"`...)
	dst = id.AppendString(dst)
	dst = append(dst, `","`+gen.FieldAppendedAt+`":"`...)
	dst = appendISOTime(dst, at)
	dst = append(dst, `","`+gen.FieldRecord+`":`...)
	dst = append(dst, rec...)
	dst = append(dst, `,"`+gen.FieldSchemaVersion+`":`...)
	dst = strconv.AppendInt(dst, schemaVersion, 10)
	return append(dst, '}')
}

// checkClock refuses times an envelope cannot hold: appended_at has a
// four-digit year.
func checkClock(t time.Time) error {
	if y := t.UTC().Year(); y < 1 || y > 9999 {
		return fmt.Errorf("%w: %s is outside years 1 to 9999", ErrClock, t.UTC().Format(time.RFC3339))
	}
	return nil
}

// appendISOTime appends t as Python's datetime.isoformat() prints an aware
// UTC datetime: microseconds, and no fraction at all when they are zero.
func appendISOTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	dst = t.AppendFormat(dst, "2006-01-02T15:04:05")
	if us := t.Nanosecond() / 1000; us != 0 {
		dst = append(dst, '.')
		var d [6]byte
		for i := 5; i >= 0; i-- {
			d[i] = byte('0' + us%10)
			us /= 10
		}
		dst = append(dst, d[:]...)
	}
	return append(dst, "+00:00"...)
}

// FormatAppendedAt returns t as capq writes appended_at: Python's
// isoformat of the UTC time, truncated to microseconds, for example
// "2026-05-02T15:00:00.120000+00:00" or "2026-05-02T15:00:00+00:00".
func FormatAppendedAt(t time.Time) string { return string(appendISOTime(nil, t)) }

// ParseAppendedAt parses an appended_at value: any RFC 3339 date-time
// (section 5.6), which covers both isoformat shapes the reference writes
// and the "Z" suffix. It checks the grammar itself before asking package
// time, whose parser is more lenient (a one-digit hour, a comma before the
// fraction, and offsets out of range would pass). A leap second (23:59:60
// UTC, which RFC 3339 and the schema allow but Go cannot represent) reads
// as the first instant of the next day.
//
// Every failure is one error shape, a *DataError wrapping ErrCorrupt (the
// value is a field of an envelope that is not what it should be), whose
// message is "capq: corrupt envelope: appended_at is not an RFC 3339
// date-time: ..." with the value quoted, whether the grammar or a field's
// range (February 30, hour 24) is wrong; the range fault is named in
// parentheses.
func ParseAppendedAt(s string) (time.Time, error) {
	in := s
	bad := func(why string) (time.Time, error) {
		if why != "" {
			why = " (" + why + ")"
		}
		// A *DataError, as the Conventions promise of every error: the
		// bytes are not what an envelope's field should be.
		return time.Time{}, corruptError("", gen.FieldAppendedAt+" is not an RFC 3339 date-time: "+strconv.Quote(truncate(in, 64))+why)
	}
	parse := func(s string) (time.Time, error) {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			// Package time's own error (*time.ParseError) names its
			// layout; ours names the value and says which field.
			var pe *time.ParseError
			if errors.As(err, &pe) && pe.Message != "" {
				return bad(strings.TrimPrefix(pe.Message, ": "))
			}
			return bad("")
		}
		return t, nil
	}
	if !isRFC3339(s) {
		return bad("")
	}
	if s[10] == 't' || s[len(s)-1] == 'z' {
		s = strings.ToUpper(s) // RFC 3339 allows lower case; package time does not
	}
	if s[17:19] != "60" {
		return parse(s)
	}
	t, err := parse(s[:17] + "59" + s[19:])
	if err != nil {
		return t, err
	}
	if u := t.UTC(); u.Hour() != 23 || u.Minute() != 59 {
		return bad("a leap second is only at the end of a UTC day")
	}
	return t.Add(time.Second), nil
}

// isRFC3339 checks the shape YYYY-MM-DD"T"hh:mm:ss[.f+]("Z"|("+"|"-")hh:mm)
// with the offset in range; package time then checks the date and time
// fields' ranges.
func isRFC3339(s string) bool {
	const fixed = "dddd-dd-ddTdd:dd:dd"
	if len(s) < len(fixed)+1 {
		return false
	}
	for i := 0; i < len(fixed); i++ {
		c := s[i]
		switch fixed[i] {
		case 'd':
			if !isDigit(c) {
				return false
			}
		case 'T':
			if c != 'T' && c != 't' {
				return false
			}
		default:
			if c != fixed[i] {
				return false
			}
		}
	}
	rest := s[len(fixed):]
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && isDigit(rest[n]) {
			n++
		}
		if n == 1 {
			return false
		}
		rest = rest[n:]
	}
	switch {
	case rest == "Z" || rest == "z":
		return true
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':' &&
		isDigit(rest[1]) && isDigit(rest[2]) && isDigit(rest[4]) && isDigit(rest[5]):
		return (rest[1]-'0')*10+(rest[2]-'0') <= 23 && (rest[4]-'0')*10+(rest[5]-'0') <= 59
	}
	return false
}

// DecodeEnvelope decodes the contents of a pending file strictly against the
// envelope schema (spec R3): valid UTF-8; one JSON object; exactly the
// keys of gen.FieldOrder, each once, in any order; ulid a canonical ULID;
// appended_at an RFC 3339 date-time; record an object; schema_version the
// integer gen.SchemaVersion. It knows nothing of file names: a reader of
// pending-<ULID>.json also checks that Envelope.ULID is that ULID, as the
// queue does (a file whose ulid differs from its name is corrupt).
//
// A schema_version written as a different integer gives a *DataError
// wrapping ErrSchemaVersion, whatever else is wrong with the file, so that
// files of a newer format stop the drain instead of being quarantined.
// Every other problem gives one wrapping ErrCorrupt (their Name is empty). Envelope.Record aliases data.
func DecodeEnvelope(data []byte) (Envelope, error) { return decodeFile("", data) }

// decodeFile is DecodeEnvelope for the file name: errors carry it, and
// when it is a pending file name the envelope's ulid must be its ULID.
func decodeFile(name string, data []byte) (Envelope, error) {
	corrupt := func(reason string) (Envelope, error) {
		return Envelope{}, corruptError(name, reason)
	}
	if !utf8.Valid(data) {
		return corrupt("not valid UTF-8")
	}
	s := scanner{b: data, maxDepth: maxReadDepth}
	s.skipSpace()
	if s.i >= len(data) || data[s.i] != '{' {
		return corrupt("not a JSON object")
	}
	// Walk the top-level members by hand, keeping each value's span.
	var spans [gen.NumFields][]byte
	var extra string
	var dup string
	var otherVersion []byte // a duplicate schema_version's value
	s.i++
	s.skipSpace()
	if s.i < len(data) && data[s.i] == '}' {
		s.i++
	} else {
		for {
			s.skipSpace()
			if s.i >= len(data) || data[s.i] != '"' {
				return corrupt("expected a string key")
			}
			kstart := s.i
			if !s.str() {
				return corrupt(s.err)
			}
			key, ok := jsonString(data[kstart:s.i])
			if !ok {
				return corrupt("undecodable key")
			}
			s.skipSpace()
			if s.i >= len(data) || data[s.i] != ':' {
				return corrupt("expected ':' after key")
			}
			s.i++
			s.skipSpace()
			vstart := s.i
			if !s.value(1) {
				return corrupt(s.err)
			}
			idx := fieldIndex(key)
			switch {
			case idx < 0:
				if extra == "" {
					extra = key
				}
			case spans[idx] != nil:
				dup = key
				if idx == gen.IndexSchemaVersion && otherVersion == nil {
					// Readers that keep the last of duplicate keys
					// (Python's json) would see this one.
					otherVersion = data[vstart:s.i]
				}
			default:
				spans[idx] = data[vstart:s.i]
			}
			s.skipSpace()
			if s.i >= len(data) {
				return corrupt("unexpected end of JSON")
			}
			if data[s.i] == ',' {
				s.i++
				continue
			}
			if data[s.i] != '}' {
				return corrupt("expected ',' or '}'")
			}
			s.i++
			break
		}
	}
	s.skipSpace()
	if s.i != len(data) {
		return corrupt("data after the JSON object")
	}

	// schema_version first: a version we do not know stops the drain.
	sv := spans[gen.IndexSchemaVersion]
	if sv == nil {
		return corrupt("missing " + gen.FieldSchemaVersion)
	}
	if !isIntegerToken(sv) && (otherVersion == nil || !isIntegerToken(otherVersion)) {
		return corrupt(gen.FieldSchemaVersion + " is not an integer: " + truncate(string(sv), 64))
	}
	for _, v := range [][]byte{sv, otherVersion} {
		if v != nil && isIntegerToken(v) && string(v) != strconv.Itoa(schemaVersion) {
			return Envelope{}, &DataError{Name: name, Detail: truncate(string(v), 64) + " (this code reads " + itoa(schemaVersion) + ")", kind: ErrSchemaVersion}
		}
	}
	if dup != "" {
		return corrupt("duplicate key " + strconv.Quote(dup))
	}
	if extra != "" && !gen.AdditionalProperties {
		return corrupt("unexpected key " + strconv.Quote(truncate(extra, 64)))
	}
	for i, sp := range spans {
		if sp == nil {
			return corrupt("missing " + gen.FieldOrder[i])
		}
	}

	var env Envelope
	idStr, ok := jsonStringValue(spans[gen.IndexULID])
	if !ok {
		return corrupt(gen.FieldULID + " is not a string")
	}
	if !ulid.Valid(idStr) {
		return corrupt(gen.FieldULID + " is not a canonical ULID: " + strconv.Quote(truncate(idStr, 64)))
	}
	env.ULID = ulid.MustParse(idStr)
	if want, ok := ulidFromPendingName(name); ok && want != idStr {
		return corrupt(gen.FieldULID + " " + idStr + " differs from the file name")
	}
	at, ok := jsonStringValue(spans[gen.IndexAppendedAt])
	if !ok {
		return corrupt(gen.FieldAppendedAt + " is not a string")
	}
	t, err := ParseAppendedAt(at)
	if err != nil {
		return corrupt(gen.FieldAppendedAt + " is not an RFC 3339 date-time: " + strconv.Quote(truncate(at, 64)))
	}
	env.AppendedAt = t
	if spans[gen.IndexRecord][0] != '{' {
		return corrupt(gen.FieldRecord + " is not a JSON object")
	}
	env.Record = spans[gen.IndexRecord]
	return env, nil
}

// maxReadDepth bounds nesting when reading pending files: a record nested
// maxDepthLimit levels (the most any MaxDepth lets Append accept) plus the
// envelope object around it. It is generous, because files written by
// other implementations must be readable, and fixed, because the scanner
// recurses once per level.
const maxReadDepth = maxDepthLimit + 1

func fieldIndex(key string) int {
	for i, f := range gen.FieldOrder {
		if key == f {
			return i
		}
	}
	return -1
}

// jsonString decodes a scanned JSON string token (quotes included).
func jsonString(tok []byte) (string, bool) {
	raw := tok[1 : len(tok)-1]
	plain := true
	for _, c := range raw {
		if c == '\\' {
			plain = false
			break
		}
	}
	if plain {
		return string(raw), true
	}
	var s string
	if err := json.Unmarshal(tok, &s); err != nil {
		return "", false
	}
	return s, true
}

// jsonStringValue decodes a value span that must be a JSON string.
func jsonStringValue(span []byte) (string, bool) {
	if len(span) < 2 || span[0] != '"' {
		return "", false
	}
	return jsonString(span)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
