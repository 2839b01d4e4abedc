// Package fuzz holds capq's native Go fuzz targets (testing.F). It has no
// API: everything lives in its _test.go files, and this file only documents
// the targets and the properties they check.
//
// Each target states a property of the specification (spec/SPEC.md), not of
// today's code, and checks it against an independent oracle written in the
// target itself wherever one is cheap:
//
//   - FuzzRoundTrip (Spec R4, R5, R8): any string, as a record or inside a
//     JSON object built from fuzzed keys and values, that Append accepts comes
//     back from Ingest byte for byte; Append accepts a record exactly when it
//     is one JSON object in valid UTF-8 within the limits, and a refused
//     record is a *queue.DataError that leaves no file behind.
//   - FuzzULIDGenerator (Spec R6): bursts of ULIDs under a fuzzed clock (steps
//     back, many readings in one millisecond, overflow of the random part)
//     and fuzzed entropy (short reads, failures) are strictly increasing as
//     bytes and strings, parse back to themselves, and carry the timestamp
//     max(now, L), never ahead of the highest clock reading.
//   - FuzzULIDParse (Spec R1, R6): ulid.Parse never panics and accepts
//     exactly the ULID specification's Crockford alphabet rules, decoding to
//     the value an independent base-32 decoder computes; ulid.Valid accepts
//     exactly gen.ULIDPattern.
//   - FuzzDecodeEnvelope (Spec R3, R14, R21): arbitrary bytes as a pending
//     file decode to a valid envelope, a *queue.DataError
//     (ErrCorrupt or ErrSchemaVersion), never a panic; Ingest then delivers, quarantines
//     (and goes on) or stops, accordingly.
//   - FuzzDifferential (Spec R3): queue.DecodeEnvelope and the JSON Schema
//     validator over gen.SchemaJSON agree on valid versus invalid for any
//     document, with one documented, deliberate exception.
//   - FuzzAppendedAt (Spec R2, R3): every appended_at capq writes has the
//     reference's isoformat shape and parses back to the same instant, also
//     through Append and Ingest; every string the reference could write
//     parses to the instant it names.
//
// The model's state machines are fuzz targets of package model, run by the
// same campaign runner (tools/fuzzrun), which discovers targets with
// go test -list rather than from a fixed list.
//
// Each property is a function that returns an error instead of failing the
// test, and takes the implementation under test as a parameter, so that
// planted_test.go can show that every property fails on a deliberately
// broken implementation of its kind. See README.md for how to run the seed
// corpora, the smoke campaign and the nightly campaign.
package fuzz
