package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// object is a JSON object that remembers the order in which its keys were
// declared. Values are nil, bool, json.Number, string, []any or *object.
type object struct {
	keys []string
	vals map[string]any
}

// get returns the value stored under key and whether it was present.
func (o *object) get(key string) (any, bool) {
	v, ok := o.vals[key]
	return v, ok
}

// parseOrdered decodes exactly one JSON value from data, keeping object key
// order. Duplicate keys and trailing data are errors: a schema with either
// would be ambiguous.
func parseOrdered(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := parseValue(dec, "")
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err == nil {
			return nil, fmt.Errorf("invalid JSON: trailing data after the top-level value (offset %d)", dec.InputOffset())
		}
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	return v, nil
}

// parseValue reads the next value from dec; path names it in errors.
func parseValue(dec *json.Decoder, path string) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("invalid JSON at %s: %w", pathOrRoot(path), err)
	}
	switch tok {
	case json.Delim('{'):
		obj := &object{vals: map[string]any{}}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, fmt.Errorf("invalid JSON at %s: %w", pathOrRoot(path), err)
			}
			key, ok := kt.(string)
			if !ok {
				return nil, fmt.Errorf("invalid JSON at %s: object key %v is not a string", pathOrRoot(path), kt)
			}
			if _, dup := obj.vals[key]; dup {
				return nil, fmt.Errorf("invalid JSON at %s: duplicate key %q", pathOrRoot(path), key)
			}
			v, err := parseValue(dec, path+"/"+key)
			if err != nil {
				return nil, err
			}
			obj.keys = append(obj.keys, key)
			obj.vals[key] = v
		}
		if _, err := dec.Token(); err != nil { // '}'
			return nil, fmt.Errorf("invalid JSON at %s: %w", pathOrRoot(path), err)
		}
		return obj, nil
	case json.Delim('['):
		arr := []any{}
		for dec.More() {
			v, err := parseValue(dec, fmt.Sprintf("%s/%d", path, len(arr)))
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		if _, err := dec.Token(); err != nil { // ']'
			return nil, fmt.Errorf("invalid JSON at %s: %w", pathOrRoot(path), err)
		}
		return arr, nil
	default:
		return tok, nil
	}
}

// pathOrRoot renders a JSON pointer for messages, "/" for the root.
func pathOrRoot(p string) string {
	if p == "" {
		return "/"
	}
	return p
}
