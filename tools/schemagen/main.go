// Command schemagen generates the Go package gen from the capq envelope JSON
// Schema, spec/envelope.schema.json, which is the single source of truth for
// the on-disk record format.
//
// Usage:
//
//	schemagen -schema path/to/envelope.schema.json -out path/to/envelope.go
//
// Flags:
//
//	-schema path   the JSON Schema (draft 2020-12) to read; required
//	-out path      the Go file to write; required
//
// schemagen first compiles the schema with github.com/santhosh-tekuri/jsonschema/v5
// as draft 2020-12, so an invalid schema fails generation. It then reads the
// raw JSON again with encoding/json's token decoder, because the declared
// order of "properties" is the on-disk key order and Go maps lose it.
//
// The output (package gen) holds, with doc comments: SchemaID, SchemaVersion
// (the "const" of schema_version), ULIDPattern and ULIDLength (the "pattern"
// and "minLength"/"maxLength" of ulid), AppendedAtFormat (the "format" of
// appended_at), a FieldXxx constant per property, FieldOrder, Required,
// AdditionalProperties, FieldTypes (key to JSON type), the Envelope struct
// and SchemaJSON, the schema file's exact bytes. The output is gofmt'ed and
// deterministic. If the schema lacks something the output needs (for example
// a "const" on schema_version or a "pattern" on ulid) schemagen exits with an
// error naming the JSON pointer of the missing piece and leaves -out untouched.
//
// The header names the schema by its path relative to the enclosing Go
// module root (the nearest directory with a go.mod), or by its base name
// outside a module, so the output does not depend on the working directory.
//
// It is normally run through the go:generate directive in gen/doc.go:
//
//	go generate ./gen/...
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "schemagen:", err)
		}
		os.Exit(2)
	}
}

// run parses args, generates the output and writes it.
func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("schemagen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	schemaPath := fs.String("schema", "", "path of the envelope JSON Schema to read (required)")
	outPath := fs.String("out", "", "path of the Go file to write (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *schemaPath == "" || *outPath == "" {
		fs.Usage()
		return errors.New("both -schema and -out are required")
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	src, err := os.ReadFile(*schemaPath)
	if err != nil {
		return err
	}
	source, err := sourceName(*schemaPath)
	if err != nil {
		return err
	}
	out, err := Generate(src, source)
	if err != nil {
		return fmt.Errorf("%s: %w", *schemaPath, err)
	}
	return os.WriteFile(*outPath, out, 0o644)
}

// sourceName returns the slash-separated path of schemaPath relative to the
// root of the Go module containing it, or its base name if there is none.
func sourceName(schemaPath string) (string, error) {
	abs, err := filepath.Abs(schemaPath)
	if err != nil {
		return "", err
	}
	for dir := filepath.Dir(abs); ; {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			rel, err := filepath.Rel(dir, abs)
			if err != nil {
				return "", err
			}
			return filepath.ToSlash(rel), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return filepath.Base(abs), nil
		}
		dir = parent
	}
}
