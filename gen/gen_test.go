package gen

import (
	"bytes"
	"encoding/json"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// example is an envelope written by the Python reference implementation.
const example = `{"ulid":"01M89W077TES8Y8XEAP3E7KMB2","appended_at":"2026-11-25T17:28:07.162144+00:00","record":{"surface":"Привет 🧠 <a&b>","cue":"c","n":1180591620717411303424,"f":1.0,"g":1e+16,"h":1.5e-07,"z":-0.0},"schema_version":1}`

// compile compiles SchemaJSON as draft 2020-12 with format assertions on.
func compile(t *testing.T) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	c.AssertFormat = true
	if err := c.AddResource(SchemaID, strings.NewReader(SchemaJSON)); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(SchemaID)
	if err != nil {
		t.Fatalf("%#v", err)
	}
	return s
}

// decode decodes JSON the way jsonschema/v5 expects: numbers as json.Number.
func decode(t *testing.T, doc string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", doc, err)
	}
	return v
}

// envelope builds an envelope document from the example by replacing the raw
// JSON value of key (or dropping the key when raw is ""), keeping key order.
func envelope(t *testing.T, key, raw string) string {
	t.Helper()
	vals := map[string]string{
		FieldULID:          `"01M89W077TES8Y8XEAP3E7KMB2"`,
		FieldAppendedAt:    `"2026-11-25T17:28:07.162144+00:00"`,
		FieldRecord:        `{"surface":"Привет 🧠 <a&b>","cue":"c","n":1180591620717411303424,"f":1.0,"g":1e+16,"h":1.5e-07,"z":-0.0}`,
		FieldSchemaVersion: `1`,
	}
	if key != "" {
		if _, ok := vals[key]; !ok {
			t.Fatalf("unknown key %q", key)
		}
		vals[key] = raw
	}
	var b strings.Builder
	b.WriteByte('{')
	first := true
	for _, k := range FieldOrder {
		if vals[k] == "" {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.WriteString(strconv.Quote(k) + ":" + vals[k])
	}
	b.WriteByte('}')
	return b.String()
}

func TestExampleIsBuiltFaithfully(t *testing.T) {
	t.Parallel()
	if got := envelope(t, "", ""); got != example {
		t.Fatalf("envelope() = %s\nwant          %s", got, example)
	}
}

func TestSchemaJSONValidates(t *testing.T) {
	t.Parallel()
	s := compile(t)
	tests := []struct {
		name  string
		doc   string
		valid bool
	}{
		{"python example", example, true},
		{"fractional seconds", envelope(t, FieldAppendedAt, `"2026-05-02T15:00:00.120000+00:00"`), true},
		{"no fraction", envelope(t, FieldAppendedAt, `"2026-05-02T15:00:00+00:00"`), true},
		{"Z offset", envelope(t, FieldAppendedAt, `"2026-05-02T15:00:00.120000Z"`), true},
		{"Z offset no fraction", envelope(t, FieldAppendedAt, `"2026-05-02T15:00:00Z"`), true},
		{"empty record", envelope(t, FieldRecord, `{}`), true},
		{"max ulid", envelope(t, FieldULID, `"7ZZZZZZZZZZZZZZZZZZZZZZZZZ"`), true},
		// JSON Schema counts 1.0 as an integer and const compares numerically,
		// so jsonschema/v5 accepts it. This pins the observed behaviour; a
		// byte-exact reader has to reject 1.0 on its own.
		{"schema_version 1.0 (accepted by JSON Schema)", envelope(t, FieldSchemaVersion, `1.0`), true},
		{"schema_version 1e0 (accepted by JSON Schema)", envelope(t, FieldSchemaVersion, `1e0`), true},

		{"missing ulid", envelope(t, FieldULID, ""), false},
		{"missing appended_at", envelope(t, FieldAppendedAt, ""), false},
		{"missing record", envelope(t, FieldRecord, ""), false},
		{"missing schema_version", envelope(t, FieldSchemaVersion, ""), false},
		{"extra key", strings.TrimSuffix(example, "}") + `,"extra":true}`, false},
		{"schema_version 2", envelope(t, FieldSchemaVersion, `2`), false},
		{"schema_version 0", envelope(t, FieldSchemaVersion, `0`), false},
		{`schema_version "1"`, envelope(t, FieldSchemaVersion, `"1"`), false},
		{"schema_version 1.5", envelope(t, FieldSchemaVersion, `1.5`), false},
		{"schema_version null", envelope(t, FieldSchemaVersion, `null`), false},
		{"record as string", envelope(t, FieldRecord, `"{}"`), false},
		{"record as array", envelope(t, FieldRecord, `[]`), false},
		{"record null", envelope(t, FieldRecord, `null`), false},
		{"25-char ulid", envelope(t, FieldULID, `"01M89W077TES8Y8XEAP3E7KMB"`), false},
		{"27-char ulid", envelope(t, FieldULID, `"01M89W077TES8Y8XEAP3E7KMB22"`), false},
		{"lowercase ulid", envelope(t, FieldULID, `"01m89w077tes8y8xeap3e7kmb2"`), false},
		{"ulid first char 8", envelope(t, FieldULID, `"81M89W077TES8Y8XEAP3E7KMB2"`), false},
		{"ulid with I", envelope(t, FieldULID, `"01M89W077TES8Y8XEAP3E7KMBI"`), false},
		{"ulid with L", envelope(t, FieldULID, `"01M89W077TES8Y8XEAP3E7KMBL"`), false},
		{"ulid with O", envelope(t, FieldULID, `"01M89W077TES8Y8XEAP3E7KMBO"`), false},
		{"ulid with U", envelope(t, FieldULID, `"01M89W077TES8Y8XEAP3E7KMBU"`), false},
		{"ulid number", envelope(t, FieldULID, `1`), false},
		{"bad date", envelope(t, FieldAppendedAt, `"2026-02-30T15:00:00+00:00"`), false},
		{"not a date", envelope(t, FieldAppendedAt, `"yesterday"`), false},
		{"date only", envelope(t, FieldAppendedAt, `"2026-05-02"`), false},
		{"no offset", envelope(t, FieldAppendedAt, `"2026-05-02T15:00:00.120000"`), false},
		{"space separator", envelope(t, FieldAppendedAt, `"2026-05-02 15:00:00+00:00"`), false},
		{"hour 24", envelope(t, FieldAppendedAt, `"2026-05-02T24:00:00+00:00"`), false},
		{"not an object", `[]`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Validate(decode(t, tt.doc))
			if tt.valid && err != nil {
				t.Fatalf("rejected %s:\n%#v", tt.doc, err)
			}
			if !tt.valid && err == nil {
				t.Fatalf("accepted %s", tt.doc)
			}
		})
	}
}

// TestFormatAssertionMatters shows that format checks are off by default in
// draft 2020-12, so readers must set AssertFormat.
func TestFormatAssertionMatters(t *testing.T) {
	t.Parallel()
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	if err := c.AddResource(SchemaID, strings.NewReader(SchemaJSON)); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(SchemaID)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(decode(t, envelope(t, FieldAppendedAt, `"yesterday"`))); err != nil {
		t.Fatalf("without AssertFormat a bad date is expected to pass, got %v", err)
	}
}

// TestConstantsMatchSchema cross-checks the generated Go API against
// SchemaJSON and itself.
func TestConstantsMatchSchema(t *testing.T) {
	t.Parallel()
	var doc struct {
		ID         string `json:"$id"`
		Properties map[string]struct {
			Type      string `json:"type"`
			Pattern   string `json:"pattern"`
			MinLength *int   `json:"minLength"`
			MaxLength *int   `json:"maxLength"`
			Format    string `json:"format"`
			Const     *int   `json:"const"`
		} `json:"properties"`
		Required             []string `json:"required"`
		AdditionalProperties bool     `json:"additionalProperties"`
	}
	if err := json.Unmarshal([]byte(SchemaJSON), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.ID != SchemaID {
		t.Errorf("SchemaID = %q, schema $id = %q", SchemaID, doc.ID)
	}
	if p := doc.Properties[FieldSchemaVersion]; p.Const == nil || *p.Const != SchemaVersion {
		t.Errorf("SchemaVersion = %d, schema const = %v", SchemaVersion, p.Const)
	}
	u := doc.Properties[FieldULID]
	if u.Pattern != ULIDPattern || u.MinLength == nil || *u.MinLength != ULIDLength || u.MaxLength == nil || *u.MaxLength != ULIDLength {
		t.Errorf("ULID constants do not match schema: %+v", u)
	}
	if f := doc.Properties[FieldAppendedAt].Format; f != AppendedAtFormat {
		t.Errorf("AppendedAtFormat = %q, schema format = %q", AppendedAtFormat, f)
	}
	if len(doc.Properties) != len(FieldOrder) || len(FieldTypes) != len(FieldOrder) {
		t.Errorf("%d properties, %d in FieldOrder, %d in FieldTypes", len(doc.Properties), len(FieldOrder), len(FieldTypes))
	}
	for _, k := range FieldOrder {
		if doc.Properties[k].Type != FieldTypes[k] {
			t.Errorf("FieldTypes[%q] = %q, schema type = %q", k, FieldTypes[k], doc.Properties[k].Type)
		}
	}
	if !reflect.DeepEqual(doc.Required, Required[:]) {
		t.Errorf("Required = %q, schema = %q", Required, doc.Required)
	}
	if doc.AdditionalProperties != AdditionalProperties {
		t.Errorf("AdditionalProperties = %v", AdditionalProperties)
	}
	want := []string{"ulid", "appended_at", "record", "schema_version"}
	if !reflect.DeepEqual(FieldOrder[:], want) {
		t.Errorf("FieldOrder = %q, want %q", FieldOrder, want)
	}
	re := regexp.MustCompile(ULIDPattern)
	if !re.MatchString("01M89W077TES8Y8XEAP3E7KMB2") || re.MatchString("01M89W077TES8Y8XEAP3E7KMBU") {
		t.Error("ULIDPattern does not behave as expected under package regexp")
	}
}

// TestEnvelopeStruct checks that the struct fields follow FieldOrder, so
// encoding/json writes keys in on-disk order, and that the example decodes.
func TestEnvelopeStruct(t *testing.T) {
	t.Parallel()
	typ := reflect.TypeFor[Envelope]()
	if typ.NumField() != len(FieldOrder) {
		t.Fatalf("Envelope has %d fields, FieldOrder %d", typ.NumField(), len(FieldOrder))
	}
	for i, k := range FieldOrder {
		if tag := typ.Field(i).Tag.Get("json"); tag != k {
			t.Errorf("field %d (%s) has json tag %q, want %q", i, typ.Field(i).Name, tag, k)
		}
	}

	var e Envelope
	if err := json.Unmarshal([]byte(example), &e); err != nil {
		t.Fatal(err)
	}
	if e.ULID != "01M89W077TES8Y8XEAP3E7KMB2" || e.AppendedAt != "2026-11-25T17:28:07.162144+00:00" || e.SchemaVersion != SchemaVersion {
		t.Fatalf("decoded %+v", e)
	}
	wantRecord := `{"surface":"Привет 🧠 <a&b>","cue":"c","n":1180591620717411303424,"f":1.0,"g":1e+16,"h":1.5e-07,"z":-0.0}`
	if string(e.Record) != wantRecord {
		t.Fatalf("Record = %s, want verbatim %s", e.Record, wantRecord)
	}

	// Encoding with HTML escaping off reproduces the Python bytes exactly
	// (json.Marshal would escape <, > and &).
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSuffix(buf.String(), "\n"); got != example {
		t.Fatalf("re-encoded\n%s\nwant\n%s", got, example)
	}
}
