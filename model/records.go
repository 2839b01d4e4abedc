package model

import (
	"strconv"
	"strings"
)

// This file generates records: JSON objects written out by hand, so that
// their exact bytes (key order, number spellings, escapes, raw non-ASCII)
// are what the queue must store and hand back (R4).

// genRecord returns a valid record: one JSON object in valid UTF-8, nested
// at most maxDepth deep, sometimes with white space around and inside it.
func genRecord(c chooser, maxDepth int) []byte {
	var b strings.Builder
	ws := c.Intn(4, "whitespace") == 0
	if ws {
		b.WriteString(" \n")
	}
	genObject(c, &b, 1, maxDepth, ws)
	if ws {
		b.WriteString("\t ")
	}
	return []byte(b.String())
}

func genObject(c chooser, b *strings.Builder, depth, maxDepth int, ws bool) {
	n := c.Intn(4, "keys") // 0 keys: the empty object
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		if ws {
			b.WriteByte(' ')
		}
		// Distinct keys: a record is any JSON object, but duplicate keys
		// are a corner no spec requirement is about.
		writeString(b, "k"+strconv.Itoa(i)+genText(c, 3))
		b.WriteByte(':')
		if ws {
			b.WriteString(" ")
		}
		genValue(c, b, depth, maxDepth, ws)
	}
	b.WriteByte('}')
}

func genValue(c chooser, b *strings.Builder, depth, maxDepth int, ws bool) {
	kinds := 6
	if depth < maxDepth {
		kinds = 8
	}
	switch c.Intn(kinds, "value") {
	case 0:
		writeString(b, genText(c, 12))
	case 1:
		b.WriteString(numbers[c.Intn(len(numbers), "number")])
	case 2:
		b.WriteString([]string{"true", "false", "null"}[c.Intn(3, "literal")])
	case 3:
		b.WriteString(strconv.Itoa(c.Intn(1000, "int") - 500))
	case 4, 5:
		writeString(b, genText(c, 4))
	case 6:
		genObject(c, b, depth+1, maxDepth, ws)
	case 7:
		n := c.Intn(3, "elems")
		b.WriteByte('[')
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			genValue(c, b, depth+1, maxDepth, ws)
		}
		b.WriteByte(']')
	}
}

// numbers are spellings a JSON round trip through float64 or int64 would
// change: they must reach the handler byte for byte.
var numbers = []string{
	"1.0", "-0.0", "0", "-0", "1e+16", "1.5e-07", "0.1", "1e308", "-1E-400",
	"18446744073709551615", "1180591620717411303424", "-1000000000000000000000000000000",
	"3.141592653589793238462643383279", "2.5E3", "123456789012345678901234567890.5",
}

// genText returns up to maxLen characters drawn from every Unicode plane,
// with combining marks, control characters, the characters HTML escaping
// would touch, and JSON's own specials.
func genText(c chooser, maxLen int) string {
	var b strings.Builder
	for range c.Intn(maxLen+1, "len") {
		var r rune
		switch c.Intn(9, "char class") {
		case 0:
			r = rune(' ' + c.Intn(95, "ascii"))
		case 1:
			r = rune(c.Intn(0x20, "control")) // escaped when written
		case 2:
			r = []rune{'<', '>', '&', '"', '\\', '/', 0x7f, 0x2028, 0x2029, 0xfeff}[c.Intn(10, "special")]
		case 3:
			// A base letter and a combining mark: "é" as e + U+0301, as
			// the upstream seed spelled it.
			b.WriteByte('e')
			r = rune(0x0300 + c.Intn(0x70, "combining"))
		case 4:
			r = []rune{'é', 'П', 'р', 'и', 'в', 'е', 'т', '中', '文', 'ﬀ', 'Ω'}[c.Intn(11, "bmp")]
		default:
			// Any plane, 0 to 16, avoiding the surrogates, which are not
			// scalar values and cannot be in valid UTF-8.
			plane := c.Intn(17, "plane")
			r = rune(plane<<16 | c.Intn(0x10000, "codepoint"))
			if r >= 0xd800 && r <= 0xdfff {
				r = 0x1f9e0 // 🧠
			}
		}
		b.WriteRune(r)
	}
	return b.String()
}

// writeString writes s as a JSON string the way the reference does:
// control characters, quote and backslash escaped, everything else raw.
func writeString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte("0123456789abcdef"[r>>4])
			b.WriteByte("0123456789abcdef"[r&15])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

// invalidRecords are records Append must refuse, before anything touches
// the disk (R5): not an object, not JSON, not UTF-8, nested too deep (for
// a queue whose MaxDepth is below 40), or followed by more data.
var invalidRecords = []string{
	``, ` `, `[]`, `"text"`, `42`, `null`, `{`, `{"a":}`, `{"a":1,}`, `{'a':1}`,
	`{"a":NaN}`, `{"a":Infinity}`, `{"a":01}`, `{"a":1}{"b":2}`, `{"a":1} x`,
	"{\"a\":\"\xff\"}", "{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"tab\there\"}",
	strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40),
	strings.Repeat(`{"a":[`, 20) + strings.Repeat(`]}`, 20),
}
