package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/format"
	"go/token"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// draft202012 is the only meta-schema the generator accepts.
const draft202012 = "https://json-schema.org/draft/2020-12/schema"

// Names of the envelope properties the generator derives dedicated
// constants from. They must be present in the schema.
const (
	propULID          = "ulid"
	propAppendedAt    = "appended_at"
	propSchemaVersion = "schema_version"
)

// goTypes maps the JSON Schema types the generator supports to the Go type
// of the corresponding Envelope field.
var goTypes = map[string]string{
	"string":  "string",
	"integer": "int",
	"object":  "json.RawMessage",
}

// typeConsts lists the JSON type-name constants emitted into the output,
// in a fixed order, with the Go identifier for each.
var typeConsts = []struct{ ident, name string }{
	{"TypeString", "string"},
	{"TypeInteger", "integer"},
	{"TypeObject", "object"},
}

// initialisms are property-name words rendered in upper case in Go
// identifiers.
var initialisms = map[string]bool{
	"id": true, "json": true, "ulid": true, "uri": true, "url": true, "utc": true, "uuid": true,
}

// property is one entry of the schema's "properties", in declared order.
type property struct {
	name        string // JSON key
	ident       string // Go identifier suffix, e.g. "AppendedAt"
	jsonType    string // JSON Schema type
	description string
	required    bool
	schema      *object
}

// model is everything the template needs, extracted from the schema.
type model struct {
	source               string
	id                   string
	description          string
	props                []property
	required             []string
	additionalProperties bool
	schemaVersion        int64
	ulidPattern          string
	ulidLength           int64
	appendedAtFormat     string
	schemaJSON           []byte
}

// Generate turns the bytes of the envelope schema into the gofmt'ed Go source
// of gen/envelope.go. source is the schema path named in the header comment.
// The schema is first compiled with jsonschema/v5 (draft 2020-12), so an
// invalid schema fails generation, then read again with a token decoder to
// keep the declared property order.
func Generate(src []byte, source string) ([]byte, error) {
	m, err := extract(src)
	if err != nil {
		return nil, err
	}
	m.source = source
	return render(m)
}

// compileSchema compiles src as a draft 2020-12 schema registered under id.
// jsonschema/v5 panics on some invalid inputs (e.g. a bad "pattern"), so a
// panic is converted into an error.
func compileSchema(id string, src []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("schema does not compile: %v", r)
		}
	}()
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	if err := c.AddResource(id, bytes.NewReader(src)); err != nil {
		return fmt.Errorf("schema does not compile: %v", err)
	}
	if _, err := c.Compile(id); err != nil {
		return fmt.Errorf("schema does not compile: %#v", err)
	}
	return nil
}

func extract(src []byte) (*model, error) {
	doc, err := parseOrdered(src)
	if err != nil {
		return nil, err
	}
	root, ok := doc.(*object)
	if !ok {
		return nil, fmt.Errorf("schema root must be a JSON object")
	}

	meta, err := getString(root, "/", "$schema")
	if err != nil {
		return nil, err
	}
	if meta != draft202012 {
		return nil, fmt.Errorf(`/: "$schema" is %q, want %q`, meta, draft202012)
	}
	id, err := getString(root, "/", "$id")
	if err != nil {
		return nil, err
	}
	if u, err := url.Parse(id); err != nil || !u.IsAbs() || u.Fragment != "" {
		return nil, fmt.Errorf(`/: "$id" %q must be an absolute URL without fragment`, id)
	}
	if err := compileSchema(id, src); err != nil {
		return nil, err
	}

	m := &model{id: id, schemaJSON: src}
	if _, err := getString(root, "/", "title"); err != nil {
		return nil, err
	}
	if m.description, err = getString(root, "/", "description"); err != nil {
		return nil, err
	}
	if t, err := getString(root, "/", "type"); err != nil {
		return nil, err
	} else if t != "object" {
		return nil, fmt.Errorf(`/: "type" is %q, want "object"`, t)
	}

	// additionalProperties
	ap, ok := root.get("additionalProperties")
	if !ok {
		return nil, fmt.Errorf(`/: missing "additionalProperties"`)
	}
	if m.additionalProperties, ok = ap.(bool); !ok {
		return nil, fmt.Errorf(`/: "additionalProperties" must be a boolean`)
	}

	// properties, in declared order
	pv, ok := root.get("properties")
	if !ok {
		return nil, fmt.Errorf(`/: missing "properties"`)
	}
	props, ok := pv.(*object)
	if !ok || len(props.keys) == 0 {
		return nil, fmt.Errorf(`/: "properties" must be a non-empty object`)
	}
	idents := map[string]string{}
	for _, name := range props.keys {
		path := "/properties/" + name
		ps, ok := props.vals[name].(*object)
		if !ok {
			return nil, fmt.Errorf("%s: property schema must be an object", path)
		}
		ident, err := goIdent(name)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		if other, dup := idents[ident]; dup {
			return nil, fmt.Errorf("%s: Go name %s collides with property %q", path, ident, other)
		}
		idents[ident] = name
		p := property{name: name, ident: ident, schema: ps}
		if p.jsonType, err = getString(ps, path, "type"); err != nil {
			return nil, err
		}
		if _, ok := goTypes[p.jsonType]; !ok {
			return nil, fmt.Errorf(`%s: unsupported "type" %q (supported: string, integer, object)`, path, p.jsonType)
		}
		if p.description, err = getString(ps, path, "description"); err != nil {
			return nil, err
		}
		m.props = append(m.props, p)
	}

	// required
	rv, ok := root.get("required")
	if !ok {
		return nil, fmt.Errorf(`/: missing "required"`)
	}
	reqs, ok := rv.([]any)
	if !ok {
		return nil, fmt.Errorf(`/: "required" must be an array`)
	}
	reqSet := map[string]bool{}
	for i, r := range reqs {
		s, ok := r.(string)
		if !ok {
			return nil, fmt.Errorf(`/required/%d: must be a string`, i)
		}
		if _, ok := props.vals[s]; !ok {
			return nil, fmt.Errorf(`/required/%d: %q is not a declared property`, i, s)
		}
		if reqSet[s] {
			return nil, fmt.Errorf(`/required/%d: %q listed twice`, i, s)
		}
		reqSet[s] = true
	}
	for i := range m.props {
		if reqSet[m.props[i].name] {
			m.props[i].required = true
			m.required = append(m.required, m.props[i].name)
		}
	}

	// Dedicated properties.
	ulid, err := findProp(m.props, propULID, "string")
	if err != nil {
		return nil, err
	}
	path := "/properties/" + propULID
	if m.ulidPattern, err = getString(ulid.schema, path, "pattern"); err != nil {
		return nil, err
	}
	if _, err := regexp.Compile(m.ulidPattern); err != nil {
		return nil, fmt.Errorf(`%s: "pattern" is not a valid RE2 expression: %v`, path, err)
	}
	minLen, err := getInt(ulid.schema, path, "minLength")
	if err != nil {
		return nil, err
	}
	maxLen, err := getInt(ulid.schema, path, "maxLength")
	if err != nil {
		return nil, err
	}
	if minLen != maxLen || minLen <= 0 {
		return nil, fmt.Errorf(`%s: "minLength" (%d) and "maxLength" (%d) must be equal and positive`, path, minLen, maxLen)
	}
	m.ulidLength = minLen

	at, err := findProp(m.props, propAppendedAt, "string")
	if err != nil {
		return nil, err
	}
	if m.appendedAtFormat, err = getString(at.schema, "/properties/"+propAppendedAt, "format"); err != nil {
		return nil, err
	}

	sv, err := findProp(m.props, propSchemaVersion, "integer")
	if err != nil {
		return nil, err
	}
	if m.schemaVersion, err = getInt(sv.schema, "/properties/"+propSchemaVersion, "const"); err != nil {
		return nil, err
	}
	return m, nil
}

// findProp returns the property called name, which must have type typ.
func findProp(props []property, name, typ string) (*property, error) {
	for i := range props {
		if props[i].name == name {
			if props[i].jsonType != typ {
				return nil, fmt.Errorf(`/properties/%s: "type" is %q, want %q`, name, props[i].jsonType, typ)
			}
			return &props[i], nil
		}
	}
	return nil, fmt.Errorf(`/properties: missing required property %q`, name)
}

// getString returns the non-empty string under key in o; path locates o.
func getString(o *object, path, key string) (string, error) {
	v, ok := o.get(key)
	if !ok {
		return "", fmt.Errorf("%s: missing %q", path, key)
	}
	s, ok := v.(string)
	if !ok || s == "" {
		return "", fmt.Errorf("%s: %q must be a non-empty string", path, key)
	}
	return s, nil
}

// getInt returns the integer literal under key in o; path locates o.
// Numbers written with a fraction or exponent (1.0, 1e0) are rejected so the
// generated Go constant is exactly the literal in the schema.
func getInt(o *object, path, key string) (int64, error) {
	v, ok := o.get(key)
	if !ok {
		return 0, fmt.Errorf("%s: missing %q", path, key)
	}
	n, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("%s: %q must be an integer, got %s", path, key, describe(v))
	}
	i, err := strconv.ParseInt(n.String(), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%s: %q must be an integer literal fitting in 32 bits, got %s", path, key, n)
	}
	return i, nil
}

// describe names the JSON type of v for error messages.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return fmt.Sprintf("string %q", v)
	case []any:
		return "array"
	case *object:
		return "object"
	default:
		return fmt.Sprintf("%v", v)
	}
}

// goIdent turns a snake_case property name into an exported Go identifier
// suffix, e.g. "appended_at" -> "AppendedAt", "ulid" -> "ULID".
func goIdent(name string) (string, error) {
	var b strings.Builder
	for _, part := range strings.Split(name, "_") {
		if part == "" || strings.Trim(part, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
			return "", fmt.Errorf("property name %q must be snake_case ([a-z0-9] words joined by _)", name)
		}
		if initialisms[part] {
			b.WriteString(strings.ToUpper(part))
		} else {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	ident := b.String()
	if !token.IsIdentifier(ident) {
		return "", fmt.Errorf("property name %q does not map to a Go identifier", name)
	}
	return ident, nil
}

// render writes the Go source for m and formats it with go/format.
func render(m *model) ([]byte, error) {
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	p("// Code generated by schemagen from %s; DO NOT EDIT.\n\n", m.source)
	p("package gen\n\n")
	needJSON := false
	for _, pr := range m.props {
		if strings.HasPrefix(goTypes[pr.jsonType], "json.") {
			needJSON = true
		}
	}
	if needJSON {
		p("import \"encoding/json\"\n\n")
	}

	p("// SchemaID is the \"$id\" of the envelope schema this file was generated from.\n")
	p("const SchemaID = %s\n\n", strconv.Quote(m.id))
	comment(&b, fmt.Sprintf("SchemaVersion is the only value the schema allows for %s (its \"const\").", propSchemaVersion))
	p("const SchemaVersion = %d\n\n", m.schemaVersion)
	p("// ULIDPattern is the regular expression (the schema's \"pattern\", valid RE2\n")
	p("// syntax for package regexp) that %s must match.\n", propULID)
	p("const ULIDPattern = %s\n\n", quote(m.ulidPattern))
	p("// ULIDLength is the exact length of %s in characters (the schema's\n", propULID)
	p("// \"minLength\" and \"maxLength\").\n")
	p("const ULIDLength = %d\n\n", m.ulidLength)
	p("// AppendedAtFormat is the JSON Schema \"format\" of %s.\n", propAppendedAt)
	p("const AppendedAtFormat = %s\n\n", strconv.Quote(m.appendedAtFormat))

	p("// JSON keys of the envelope properties.\n")
	p("const (\n")
	for _, pr := range m.props {
		p("// Field%s is the JSON key of the %s property.\n", pr.ident, pr.name)
		p("Field%s = %s\n", pr.ident, strconv.Quote(pr.name))
	}
	p(")\n\n")

	p("// FieldOrder lists the envelope keys in the order the schema declares them,\n")
	p("// which is the order in which they are written on disk.\n")
	p("var FieldOrder = [...]string{")
	for i, pr := range m.props {
		if i > 0 {
			p(", ")
		}
		p("Field%s", pr.ident)
	}
	p("}\n\n")

	p("// Indices of the envelope keys in FieldOrder, for decoders that keep one\n")
	p("// slot per key: reordering the schema's properties renumbers them, so no\n")
	p("// decoder depends on the order by a number of its own.\n")
	p("const (\n")
	for i, pr := range m.props {
		p("// Index%s is the index of Field%s in FieldOrder.\n", pr.ident, pr.ident)
		p("Index%s = %d\n", pr.ident, i)
	}
	p(")\n\n")
	p("// NumFields is the number of envelope keys: len(FieldOrder).\n")
	p("const NumFields = %d\n\n", len(m.props))

	p("// Required lists the keys the schema requires, in declared order.\n")
	p("var Required = [...]string{")
	for i, name := range m.required {
		if i > 0 {
			p(", ")
		}
		p("Field%s", identOf(m.props, name))
	}
	p("}\n\n")

	p("// AdditionalProperties reports whether the schema allows keys other than\n")
	p("// those in FieldOrder.\n")
	p("const AdditionalProperties = %t\n\n", m.additionalProperties)

	p("// JSON Schema type names used as values of FieldTypes.\n")
	p("const (\n")
	for _, tc := range typeConsts {
		p("// %s is the JSON Schema type %q.\n", tc.ident, tc.name)
		p("%s = %s\n", tc.ident, strconv.Quote(tc.name))
	}
	p(")\n\n")

	p("// FieldTypes maps each envelope key to the JSON Schema type its value must\n")
	p("// have. Note that JSON Schema's \"integer\" also admits numbers such as 1.0\n")
	p("// whose value is integral.\n")
	p("var FieldTypes = map[string]string{\n")
	for _, pr := range m.props {
		p("Field%s: %s,\n", pr.ident, typeIdent(pr.jsonType))
	}
	p("}\n\n")

	comment(&b, "Envelope is the Go form of the envelope schema (SchemaID). "+m.description)
	p("type Envelope struct {\n")
	for _, pr := range m.props {
		comment(&b, pr.ident+" is the "+pr.name+" property. "+pr.description)
		tag := pr.name
		if !pr.required {
			tag += ",omitempty"
		}
		p("%s %s `json:%s`\n", pr.ident, goTypes[pr.jsonType], strconv.Quote(tag))
	}
	p("}\n\n")

	comment(&b, "SchemaJSON is the exact content of "+m.source+", from which this file was generated. "+
		"Validate envelopes against it so that runtime validation uses exactly the schema the constants above were derived from.")
	p("const SchemaJSON = %s\n", quote(string(m.schemaJSON)))

	out, err := format.Source(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("internal error: generated code does not gofmt: %v\n%s", err, b.Bytes())
	}
	return out, nil
}

// identOf returns the Go identifier suffix of the property called name.
func identOf(props []property, name string) string {
	for _, pr := range props {
		if pr.name == name {
			return pr.ident
		}
	}
	panic("unknown property " + name) // extract guarantees this cannot happen
}

// typeIdent returns the generated constant naming JSON type t.
func typeIdent(t string) string {
	for _, tc := range typeConsts {
		if tc.name == t {
			return tc.ident
		}
	}
	return strconv.Quote(t)
}

// quote renders s as a Go string literal: a raw literal when that holds s
// byte for byte (raw literals drop '\r' and cannot contain '`'), otherwise an
// interpreted literal.
func quote(s string) string {
	if utf8.ValidString(s) && !strings.ContainsAny(s, "`\r\x00\ufeff") {
		return "`" + s + "`"
	}
	return strconv.Quote(s)
}

// comment writes text as a // comment wrapped at about 76 columns.
func comment(b *bytes.Buffer, text string) {
	const width = 76
	line := "//"
	for _, w := range strings.Fields(text) {
		if len(line) > 2 && len(line)+1+len(w) > width {
			b.WriteString(line + "\n")
			line = "//"
		}
		line += " " + w
	}
	b.WriteString(line + "\n")
}
