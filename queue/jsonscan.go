package queue

// This file holds the one JSON checker the queue needs: a strict scanner
// that validates a value against RFC 8259 without building it, so that a
// record can be kept as the exact bytes it arrived as (1.0 stays 1.0, -0.0
// stays -0.0, 2^70 stays 2^70, key order and escapes stay as written).
// encoding/json's Valid would do for the grammar, but it has no depth limit
// of ours and cannot hand back the spans the envelope decoder needs.

// scanner walks one JSON text, which must already be known to be valid
// UTF-8 (both callers check that with utf8.Valid first, which is much faster
// than decoding rune by rune here). It never allocates and never panics:
// every index is checked against len(s.b).
type scanner struct {
	b        []byte
	i        int
	maxDepth int
	err      string // first error, for people
	deep     bool   // the error was the depth limit
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// isBlank reports whether b is JSON white space only. Every white-space
// rule of the queue (a record's surroundings, blank audit lines) is
// isSpace's.
func isBlank(b []byte) bool {
	for _, c := range b {
		if !isSpace(c) {
			return false
		}
	}
	return true
}

func (s *scanner) skipSpace() {
	for s.i < len(s.b) && isSpace(s.b[s.i]) {
		s.i++
	}
}

func (s *scanner) fail(msg string) bool {
	if s.err == "" {
		s.err = msg
	}
	return false
}

// value scans one JSON value starting at s.i (after optional space) at the
// given nesting depth, leaving s.i just past it.
func (s *scanner) value(depth int) bool {
	s.skipSpace()
	if s.i >= len(s.b) {
		return s.fail("unexpected end of JSON")
	}
	switch c := s.b[s.i]; {
	case c == '{':
		return s.object(depth + 1)
	case c == '[':
		return s.array(depth + 1)
	case c == '"':
		return s.str()
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	default:
		return s.fail("invalid character " + quoteByte(c) + " looking for a value")
	}
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return "'" + string(rune(c)) + "'"
	}
	const hex = "0123456789abcdef"
	return "0x" + string([]byte{hex[c>>4], hex[c&15]})
}

func (s *scanner) literal(lit string) bool {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return s.fail("invalid literal")
	}
	s.i += len(lit)
	return true
}

func (s *scanner) object(depth int) bool {
	if depth > s.maxDepth {
		s.deep = true
		return s.fail("nesting deeper than the limit")
	}
	s.i++ // '{'
	s.skipSpace()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return true
	}
	for {
		s.skipSpace()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return s.fail("expected a string key in object")
		}
		if !s.str() {
			return false
		}
		s.skipSpace()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return s.fail("expected ':' after object key")
		}
		s.i++
		if !s.value(depth) {
			return false
		}
		s.skipSpace()
		if s.i >= len(s.b) {
			return s.fail("unexpected end of JSON in object")
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return s.fail("expected ',' or '}' in object")
		}
	}
}

func (s *scanner) array(depth int) bool {
	if depth > s.maxDepth {
		s.deep = true
		return s.fail("nesting deeper than the limit")
	}
	s.i++ // '['
	s.skipSpace()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return true
	}
	for {
		if !s.value(depth) {
			return false
		}
		s.skipSpace()
		if s.i >= len(s.b) {
			return s.fail("unexpected end of JSON in array")
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case ']':
			s.i++
			return true
		default:
			return s.fail("expected ',' or ']' in array")
		}
	}
}

// str scans a string. Raw bytes must not be control characters (UTF-8
// validity was checked before scanning); escapes must be one of JSON's. A \u escape of a lone
// surrogate is valid JSON (RFC 8259 section 8.2 allows it) and is kept as
// written.
func (s *scanner) str() bool {
	s.i++ // '"'
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return true
		case c == '\\':
			s.i++
			if s.i >= len(s.b) {
				return s.fail("unexpected end of JSON in string escape")
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if len(s.b)-s.i < 5 {
					return s.fail("short \\u escape")
				}
				for _, h := range s.b[s.i+1 : s.i+5] {
					if !isHex(h) {
						return s.fail("invalid \\u escape")
					}
				}
				s.i += 5
			default:
				return s.fail("invalid escape in string")
			}
		case c < 0x20:
			return s.fail("control character in string")
		default:
			s.i++
		}
	}
	return s.fail("unexpected end of JSON in string")
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?. NaN and
// Infinity are not JSON and fail here.
func (s *scanner) number() bool {
	if s.b[s.i] == '-' {
		s.i++
	}
	if s.i >= len(s.b) {
		return s.fail("unexpected end of JSON in number")
	}
	switch c := s.b[s.i]; {
	case c == '0':
		s.i++
	case c >= '1' && c <= '9':
		for s.i < len(s.b) && isDigit(s.b[s.i]) {
			s.i++
		}
	default:
		return s.fail("invalid number")
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.i >= len(s.b) || !isDigit(s.b[s.i]) {
			return s.fail("invalid number: no digits after '.'")
		}
		for s.i < len(s.b) && isDigit(s.b[s.i]) {
			s.i++
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.i >= len(s.b) || !isDigit(s.b[s.i]) {
			return s.fail("invalid number: no digits in exponent")
		}
		for s.i < len(s.b) && isDigit(s.b[s.i]) {
			s.i++
		}
	}
	return true
}

// isIntegerToken reports whether tok is a JSON number written as an integer
// (no fraction, no exponent).
func isIntegerToken(tok []byte) bool {
	i := 0
	if i < len(tok) && tok[i] == '-' {
		i++
	}
	if i >= len(tok) {
		return false
	}
	if tok[i] == '0' {
		return i+1 == len(tok)
	}
	for ; i < len(tok); i++ {
		if !isDigit(tok[i]) {
			return false
		}
	}
	return true
}
