package ulid_test

import (
	"encoding"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/capq/capq/ulid"
)

var (
	_ fmt.Stringer             = ulid.ULID{}
	_ encoding.TextMarshaler   = ulid.ULID{}
	_ encoding.TextAppender    = ulid.ULID{}
	_ encoding.TextUnmarshaler = (*ulid.ULID)(nil)
)

const (
	specExample = "01ARZ3NDEKTSV4RRFFQ69G5FAV" // from the ULID specification
	maxULID     = "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"
	zeroULID    = "00000000000000000000000000"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    string // canonical form on success
		wantErr error
	}{
		{"spec example", specExample, specExample, nil},
		{"zero", zeroULID, zeroULID, nil},
		{"max", maxULID, maxULID, nil},
		{"full alphabet", "0123456789ABCDEFGHJKMNPQRS", "0123456789ABCDEFGHJKMNPQRS", nil},
		{"lower case", strings.ToLower(specExample), specExample, nil},
		{"mixed case", "01arZ3ndEKTSV4RRFFQ69G5fav", specExample, nil},
		{"lower-case max", "7zzzzzzzzzzzzzzzzzzzzzzzzz", maxULID, nil},

		{"empty", "", "", ulid.ErrDataSize},
		{"25 chars", specExample[:25], "", ulid.ErrDataSize},
		{"27 chars", specExample + "0", "", ulid.ErrDataSize},
		{"26 runes, 27 bytes", "é" + specExample[:25], "", ulid.ErrDataSize},
		{"very long", strings.Repeat("0", 1<<16), "", ulid.ErrDataSize},

		{"I", "01ARZ3NDEKTSV4RRFFQ69G5FAI", "", ulid.ErrInvalidCharacters},
		{"L", "01ARZ3NDEKTSV4RRFFQ69G5FAL", "", ulid.ErrInvalidCharacters},
		{"O", "01ARZ3NDEKTSV4RRFFQ69G5FAO", "", ulid.ErrInvalidCharacters},
		{"U", "01ARZ3NDEKTSV4RRFFQ69G5FAU", "", ulid.ErrInvalidCharacters},
		{"i", "01ARZ3NDEKTSV4RRFFQ69G5FAi", "", ulid.ErrInvalidCharacters},
		{"l", "01ARZ3NDEKTSV4RRFFQ69G5FAl", "", ulid.ErrInvalidCharacters},
		{"o", "01ARZ3NDEKTSV4RRFFQ69G5FAo", "", ulid.ErrInvalidCharacters},
		{"u", "01ARZ3NDEKTSV4RRFFQ69G5FAu", "", ulid.ErrInvalidCharacters},
		{"hyphen", "01ARZ3NDEK-SV4RRFFQ69G5FAV", "", ulid.ErrInvalidCharacters},
		{"space", " 1ARZ3NDEKTSV4RRFFQ69G5FAV", "", ulid.ErrInvalidCharacters},
		{"NUL", "01ARZ3NDEKTSV4RRFFQ69G5FA\x00", "", ulid.ErrInvalidCharacters},
		{"invalid UTF-8", "01ARZ3NDEKTSV4RRFFQ69G5FA\xff", "", ulid.ErrInvalidCharacters},
		{"all 0xFF bytes", strings.Repeat("\xff", 26), "", ulid.ErrInvalidCharacters},
		{"invalid before overflow", "8ZZZZZZZZZZZZZZZZZZZZZZZZU", "", ulid.ErrInvalidCharacters},

		{"first char 8", "8ZZZZZZZZZZZZZZZZZZZZZZZZZ", "", ulid.ErrOverflow},
		{"first char 8, rest zero", "80000000000000000000000000", "", ulid.ErrOverflow},
		{"first char Z", "ZZZZZZZZZZZZZZZZZZZZZZZZZZ", "", ulid.ErrOverflow},
		{"first char lower-case a", "a0000000000000000000000000", "", ulid.ErrOverflow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := ulid.Parse(tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Parse: err = %v, want %v", err, tt.wantErr)
				}
				if !id.IsZero() {
					t.Errorf("Parse returned %v with an error, want the zero ULID", id)
				}
				if len(err.Error()) > 200 {
					t.Errorf("error message is %d bytes long", len(err.Error()))
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := id.String(); got != tt.want {
				t.Errorf("Parse(%q).String() = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseDecodesSpecExample(t *testing.T) {
	t.Parallel()
	id := ulid.MustParse(specExample)
	// The time part 01ARZ3NDEK encodes 1469922850259 ms.
	if got, want := id.Ms(), uint64(1469922850259); got != want {
		t.Errorf("Ms() = %d, want %d", got, want)
	}
	wantTime := time.UnixMilli(1469922850259).UTC()
	if got := id.Time(); !got.Equal(wantTime) || got.Location() != time.UTC {
		t.Errorf("Time() = %v, want %v", got, wantTime)
	}
	got, err := ulid.TimeOf(specExample)
	if err != nil || !got.Equal(wantTime) {
		t.Errorf("TimeOf = %v, %v; want %v, nil", got, err, wantTime)
	}
	if _, err := ulid.TimeOf("nope"); !errors.Is(err, ulid.ErrDataSize) {
		t.Errorf("TimeOf(bad): err = %v, want ErrDataSize", err)
	}
	if got := ulid.MustParse(maxULID).Ms(); got != ulid.MaxTime {
		t.Errorf("max ULID Ms() = %d, want MaxTime %d", got, ulid.MaxTime)
	}
}

func TestMustParsePanics(t *testing.T) {
	t.Parallel()
	defer func() {
		if r := recover(); r == nil {
			t.Error("MustParse of an invalid string did not panic")
		}
	}()
	ulid.MustParse("not a ulid")
}

func TestValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want bool
	}{
		{specExample, true},
		{zeroULID, true},
		{maxULID, true},
		{"0123456789ABCDEFGHJKMNPQRS", true},
		{"0TVWXYZ0000000000000000000", true},
		{"", false},
		{specExample[:25], false},
		{specExample + "A", false},
		{strings.ToLower(specExample), false}, // Parse accepts it; not canonical
		{"01ARZ3NDEKTSV4RRFFQ69G5FAv", false},
		{"8ZZZZZZZZZZZZZZZZZZZZZZZZZ", false},
		{"ZZZZZZZZZZZZZZZZZZZZZZZZZZ", false},
		{"01ARZ3NDEKTSV4RRFFQ69G5FAI", false},
		{"01ARZ3NDEKTSV4RRFFQ69G5FAL", false},
		{"01ARZ3NDEKTSV4RRFFQ69G5FAO", false},
		{"01ARZ3NDEKTSV4RRFFQ69G5FAU", false},
		{"01ARZ3NDEKTSV4RRFFQ69G5FA\xff", false},
		{specExample + ".tmp", false},
		{"." + specExample[1:], false},
	}
	for _, tt := range tests {
		if got := ulid.Valid(tt.in); got != tt.want {
			t.Errorf("Valid(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	g := ulid.NewGenerator(ulid.GeneratorOptions{})
	ids := []ulid.ULID{{}, ulid.MustParse(maxULID), ulid.MustParse(specExample)}
	for range 100 {
		id, err := g.New()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for _, id := range ids {
		s := id.String()
		if len(s) != ulid.EncodedSize || !ulid.Valid(s) {
			t.Fatalf("String() = %q: not canonical", s)
		}
		if got, err := ulid.Parse(s); err != nil || got != id {
			t.Errorf("Parse(%q) = %v, %v; want %v", s, got, err, id)
		}
		if got := string(id.AppendString([]byte("x/"))); got != "x/"+s {
			t.Errorf("AppendString = %q, want %q", got, "x/"+s)
		}
		text, err := id.MarshalText()
		if err != nil || string(text) != s {
			t.Errorf("MarshalText = %q, %v; want %q", text, err, s)
		}
		var back ulid.ULID
		if err := back.UnmarshalText(text); err != nil || back != id {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", text, back, err, id)
		}
		if got, _ := id.AppendText(nil); string(got) != s {
			t.Errorf("AppendText = %q, want %q", got, s)
		}
	}
}

func TestUnmarshalTextErrorLeavesValue(t *testing.T) {
	t.Parallel()
	id := ulid.MustParse(specExample)
	err := id.UnmarshalText([]byte("8ZZZZZZZZZZZZZZZZZZZZZZZZZ"))
	if !errors.Is(err, ulid.ErrOverflow) {
		t.Errorf("err = %v, want ErrOverflow", err)
	}
	if id.String() != specExample {
		t.Errorf("id changed to %v on error", id)
	}
}

func TestCompareAndIsZero(t *testing.T) {
	t.Parallel()
	a, b := ulid.MustParse("01ARZ3NDEKTSV4RRFFQ69G5FAV"), ulid.MustParse("01ARZ3NDEKTSV4RRFFQ69G5FAW")
	tests := []struct {
		x, y ulid.ULID
		want int
	}{
		{a, b, -1}, {b, a, +1}, {a, a, 0}, {ulid.ULID{}, a, -1},
	}
	for _, tt := range tests {
		if got := tt.x.Compare(tt.y); got != tt.want {
			t.Errorf("%v.Compare(%v) = %d, want %d", tt.x, tt.y, got, tt.want)
		}
		if got, want := strings.Compare(tt.x.String(), tt.y.String()), tt.want; got != want {
			t.Errorf("string order of %v, %v = %d, want %d", tt.x, tt.y, got, want)
		}
	}
	if !(ulid.ULID{}).IsZero() || a.IsZero() {
		t.Error("IsZero is wrong")
	}
}

func TestNoAllocations(t *testing.T) {
	id := ulid.MustParse(specExample)
	buf := make([]byte, 0, 64)
	tests := []struct {
		name string
		f    func()
	}{
		{"Valid", func() { _ = ulid.Valid(specExample) }},
		{"AppendString", func() { buf = id.AppendString(buf[:0]) }},
		{"Generator.New", func() { _, _ = ulid.New() }},
	}
	for _, tt := range tests {
		if n := testing.AllocsPerRun(1000, tt.f); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", tt.name, n)
		}
	}
}

// asciiUpper upper-cases ASCII letters only, unlike strings.ToUpper, which
// maps some non-ASCII letters to ASCII ones (U+017F to 'S').
func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{specExample, strings.ToLower(specExample), zeroULID, maxULID,
		"8ZZZZZZZZZZZZZZZZZZZZZZZZZ", "", "01ARZ3NDEKTSV4RRFFQ69G5FAU", "01ARZ3NDEKTSV4RRFFQ69G5FA\xff",
		"ſ1ARZ3NDEKTSV4RRFFQ69G5FA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ulid.Parse(s)
		valid := ulid.Valid(s)
		if valid && (err != nil || id.String() != s) {
			t.Fatalf("Valid(%q) but Parse = %v, %v", s, id, err)
		}
		if validUpper := ulid.Valid(asciiUpper(s)); (err == nil) != validUpper {
			t.Fatalf("Parse(%q) err = %v, but Valid(upper-cased) = %v", s, err, validUpper)
		}
		if err == nil && id.String() != asciiUpper(s) {
			t.Fatalf("Parse(%q).String() = %q", s, id.String())
		}
		if err != nil && !errors.Is(err, ulid.ErrDataSize) && !errors.Is(err, ulid.ErrInvalidCharacters) && !errors.Is(err, ulid.ErrOverflow) {
			t.Fatalf("Parse(%q): unexpected error %v", s, err)
		}
	})
}

func BenchmarkValid(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if !ulid.Valid(specExample) {
			b.Fatal("not valid")
		}
	}
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ulid.Parse(specExample); err != nil {
			b.Fatal(err)
		}
	}
}

// UnmarshalText of a canonical ULID, the form of every file name the queue
// lists, must not allocate.
func TestUnmarshalTextCanonicalNoAlloc(t *testing.T) {
	text := []byte("01ARZ3NDEKTSV4RRFFQ69G5FAV")
	var id ulid.ULID
	if n := testing.AllocsPerRun(100, func() {
		if err := id.UnmarshalText(text); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("UnmarshalText allocates %v times", n)
	}
	if id.String() != string(text) {
		t.Fatalf("decoded %s", id)
	}
}
