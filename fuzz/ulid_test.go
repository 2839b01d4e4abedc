package fuzz

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/capq/capq/gen"
	"github.com/capq/capq/ulid"
)

// ulidSource is the system under test of the generator property: it builds
// a generator on the given clock, entropy and sleep.
type ulidSource func(ulid.GeneratorOptions) interface{ New() (ulid.ULID, error) }

func realGenerator(o ulid.GeneratorOptions) interface{ New() (ulid.ULID, error) } {
	return ulid.NewGenerator(o)
}

// Limits that keep one input cheap: a script is at most this many ULIDs,
// and New may call Sleep at most maxSleeps times before it counts as hung
// (a correct generator sleeps once per overflow, twice if the fake clock's
// sub-millisecond part is off).
const (
	maxULIDsPerInput = 4096
	maxSleeps        = 64
)

// errEntropy is what the fuzzed entropy reader fails with.
var errEntropy = errors.New("fuzzed entropy failure")

// fakeWorld is the clock, entropy and sleep of one generator under a fuzzed
// script. It records what the generator saw so that the properties can be
// checked exactly.
type fakeWorld struct {
	now    time.Time // the clock
	maxMs  int64     // M: the largest millisecond the clock has returned
	lastMs int64     // the millisecond of the latest reading

	entropy  []byte // cycled through
	pos      int
	failNext bool   // the next Read fails
	shortBy  int    // every Read returns at most this many bytes (0: no limit)
	given    []byte // bytes handed out in the current New call

	sleeps   int           // Sleep calls in the current New call
	oversize time.Duration // extra time every Sleep takes (at least d, as promised)
}

func (w *fakeWorld) clock() time.Time {
	ms := w.now.UnixMilli()
	w.lastMs = ms
	w.maxMs = max(w.maxMs, ms)
	return w.now
}

func (w *fakeWorld) Read(p []byte) (int, error) {
	if w.failNext {
		w.failNext = false
		return 0, errEntropy
	}
	n := len(p)
	if w.shortBy > 0 && n > w.shortBy {
		n = w.shortBy
	}
	for i := range n {
		if len(w.entropy) == 0 {
			p[i] = 0
		} else {
			p[i] = w.entropy[w.pos%len(w.entropy)]
			w.pos++
		}
	}
	w.given = append(w.given, p[:n]...)
	return n, nil
}

func (w *fakeWorld) sleep(d time.Duration) {
	w.sleeps++
	if w.sleeps > maxSleeps {
		// A generator that keeps sleeping while the clock moves as it
		// asked has a livelock; panic so that the input is reported
		// (and minimized) rather than hanging the campaign.
		panic(fmt.Sprintf("Sleep called %d times in one New: livelock", w.sleeps))
	}
	w.now = w.now.Add(max(d, 0) + w.oversize)
}

// checkULIDScript runs script against sys and checks the generator
// properties (Spec R6, ulid rules G1 to G5) after every New:
//
//   - the ULID is strictly greater than the previous one, as bytes, as a
//     canonical string and by Compare, and parses back to itself;
//   - its timestamp is max(now, L), now being the latest clock reading and L
//     the previous ULID's timestamp, and never above M, the highest reading;
//   - within one millisecond it is the previous ULID plus one; in a new
//     millisecond its random part is the last 80 bits Entropy handed out;
//   - an entropy failure or a clock past MaxTime returns the zero ULID and an
//     error wrapping the cause, and changes nothing: the next ULID follows
//     the last one returned.
//
// The script is a sequence of two-byte operations (op, arg).
func checkULIDScript(sys ulidSource, startMs uint64, entropy, script []byte) error {
	w := &fakeWorld{
		now:     time.UnixMilli(int64(startMs % (ulid.MaxTime + 1))),
		entropy: entropy,
	}
	g := sys(ulid.GeneratorOptions{Clock: w.clock, Entropy: w, Sleep: w.sleep})
	var prev ulid.ULID
	started := false
	made := 0
	for i := 0; i+1 < len(script) && made < maxULIDsPerInput; i += 2 {
		op, arg := script[i], int(script[i+1])
		switch op % 8 {
		case 0: // a small step forward: many readings per millisecond
			w.now = w.now.Add(time.Duration(arg) * 10 * time.Microsecond)
		case 1: // a large step forward
			w.now = w.now.Add(time.Duration(arg) * time.Second)
		case 2: // the clock steps back
			w.now = w.now.Add(-time.Duration(arg) * 3 * time.Millisecond)
		case 3: // the next entropy read fails
			w.failNext = true
		case 4: // short entropy reads
			w.shortBy = arg % 11
		case 5: // Sleep oversleeps
			w.oversize = time.Duration(arg) * 7 * time.Microsecond
		case 6: // jump the clock near the end of time
			w.now = time.UnixMilli(int64(ulid.MaxTime) - int64(arg))
		default: // a burst of ULIDs
			for range arg + 1 {
				if made >= maxULIDsPerInput {
					break
				}
				made++
				w.sleeps, w.given = 0, w.given[:0]
				failing := w.failNext
				id, err := g.New()
				if err != nil {
					if !id.IsZero() {
						return fmt.Errorf("New returned %s with error %v", id, err)
					}
					switch {
					case failing && errors.Is(err, errEntropy):
					case errors.Is(err, ulid.ErrBigTime) && uint64(w.lastMs) > ulid.MaxTime:
						// After the end of time, a clock step back is the
						// only way on.
						w.now = time.UnixMilli(int64(ulid.MaxTime) - 5)
					case errors.Is(err, ulid.ErrNegativeTime) && w.lastMs < 0:
						w.now = time.UnixMilli(0)
					default:
						return fmt.Errorf("New: unexpected error %v (clock %d ms)", err, w.lastMs)
					}
					continue
				}
				if err := checkNext(prev, id, started, w); err != nil {
					return fmt.Errorf("ULID #%d: %w", made, err)
				}
				prev, started = id, true
			}
		}
		if w.now.Before(time.Unix(0, 0)) {
			w.now = time.Unix(0, 0)
		}
	}
	return nil
}

// checkNext checks one ULID id that followed prev (if started).
func checkNext(prev, id ulid.ULID, started bool, w *fakeWorld) error {
	s := id.String()
	if back, err := ulid.Parse(s); err != nil || back != id || !ulid.Valid(s) {
		return fmt.Errorf("%s does not parse back to itself: %v", s, err)
	}
	if id.Ms() > uint64(w.maxMs) {
		return fmt.Errorf("%s: timestamp %d ms ahead of the highest clock reading %d ms", s, id.Ms(), w.maxMs)
	}
	wantMs := uint64(w.lastMs)
	if started {
		wantMs = max(wantMs, prev.Ms())
	}
	if id.Ms() != wantMs {
		return fmt.Errorf("%s: timestamp %d ms, want max(now %d, L %d)", s, id.Ms(), w.lastMs, prev.Ms())
	}
	if started {
		p := prev.String()
		if id.Compare(prev) <= 0 || bytes.Compare(id[:], prev[:]) <= 0 || s <= p {
			return fmt.Errorf("%s does not follow %s", s, p)
		}
		if id.Ms() == prev.Ms() {
			if want := plusOne(prev); id != want {
				return fmt.Errorf("%s in the same millisecond as %s, want %s", s, p, want)
			}
			return nil
		}
	}
	if len(w.given) < 10 || !bytes.Equal(id[6:], w.given[len(w.given)-10:]) {
		return fmt.Errorf("%s in a new millisecond: random part %x, last entropy handed out %x", s, id[6:], w.given)
	}
	return nil
}

// plusOne returns id with its 80-bit random part incremented (the caller
// knows it does not overflow), computed independently of package ulid.
func plusOne(id ulid.ULID) ulid.ULID {
	for i := 15; i >= 6; i-- {
		id[i]++
		if id[i] != 0 {
			break
		}
	}
	return id
}

// FuzzULIDGenerator checks the generator properties of checkULIDScript on
// fuzzed clock scripts and entropy.
func FuzzULIDGenerator(f *testing.F) {
	burst := func(n byte) []byte { return []byte{7, n} }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	ones := bytes.Repeat([]byte{0xff}, 10)
	nearOnes := append(bytes.Repeat([]byte{0xff}, 9), 0xf0)
	f.Add(uint64(1764091687162), []byte("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a"), cat(burst(255), burst(255)))
	f.Add(uint64(1764091687162), nearOnes, cat(burst(40), []byte{0, 50}, burst(3)))                     // overflow within a millisecond
	f.Add(uint64(1764091687162), ones, cat(burst(3), []byte{2, 100}, burst(3), []byte{5, 9}, burst(3))) // overflow after a step back
	f.Add(uint64(1764091687162), []byte{0}, cat(burst(2), []byte{3, 0}, burst(2), []byte{4, 3}, burst(2)))
	f.Add(ulid.MaxTime-2, nearOnes, cat(burst(30), []byte{6, 0}, burst(30))) // the end of time
	f.Add(uint64(0), ones, cat(burst(1), []byte{2, 1}, burst(1)))            // the epoch
	f.Fuzz(func(t *testing.T, startMs uint64, entropy, script []byte) {
		if err := checkULIDScript(realGenerator, startMs, entropy, script); err != nil {
			t.Fatal(err)
		}
	})
}

// ulidParser is the system under test of the parse property.
type ulidParser func(string) (ulid.ULID, error)

// crockford maps each accepted byte to its 5-bit value, the ULID
// specification's alphabet in both cases; other bytes map to -1.
var crockford = func() (t [256]int) {
	for i := range t {
		t[i] = -1
	}
	for v, c := range "0123456789ABCDEFGHJKMNPQRSTVWXYZ" {
		t[c] = v
		t[strings.ToLower(string(c))[0]] = v
	}
	return t
}()

var canonicalULID = regexp.MustCompile(gen.ULIDPattern)

// checkULIDParse is the parse property (Spec R1, R6): Parse never panics
// and accepts s exactly when it has 26 bytes of the Crockford alphabet in
// either case, the first of them 0 to 7, decoding it to the same 128 bits as
// an independent big-integer decoder; its errors wrap ErrDataSize,
// ErrInvalidCharacters and ErrOverflow, checked in that order. Valid accepts
// exactly gen.ULIDPattern, and String of a parsed ULID is s in upper case.
func checkULIDParse(parse ulidParser, s string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("Parse(%q) panicked: %v", s, r)
		}
	}()
	var want error
	v := new(big.Int)
	switch {
	case len(s) != ulid.EncodedSize:
		want = ulid.ErrDataSize
	default:
		for i := range len(s) {
			d := crockford[s[i]]
			if d < 0 {
				want = ulid.ErrInvalidCharacters
				break
			}
			v.Lsh(v, 5).Or(v, big.NewInt(int64(d)))
		}
		if want == nil && s[0] > '7' {
			want = ulid.ErrOverflow
		}
	}
	id, err := parse(s)
	if want != nil {
		if !errors.Is(err, want) || !id.IsZero() {
			return fmt.Errorf("Parse(%q) = %s, %v; want the zero ULID and %v", s, id, err, want)
		}
		if ulid.Valid(s) {
			return fmt.Errorf("Valid(%q) = true for an invalid ULID", s)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("Parse(%q) refused a valid ULID: %v", s, err)
	}
	var wantBytes [16]byte
	v.FillBytes(wantBytes[:])
	if id != ulid.ULID(wantBytes) {
		return fmt.Errorf("Parse(%q) = %x, want %x", s, id[:], wantBytes)
	}
	if got := id.String(); got != strings.ToUpper(s) {
		return fmt.Errorf("Parse(%q).String() = %q", s, got)
	}
	if ulid.Valid(s) != canonicalULID.MatchString(s) {
		return fmt.Errorf("Valid(%q) = %v, pattern %s says %v", s, ulid.Valid(s), gen.ULIDPattern, !ulid.Valid(s))
	}
	return nil
}

// FuzzULIDParse checks the parse property on arbitrary strings.
func FuzzULIDParse(f *testing.F) {
	for _, s := range []string{
		"01AN4Z07BY79KA1307SR9X4MV3", "01an4z07by79ka1307sr9x4mv3", "7ZZZZZZZZZZZZZZZZZZZZZZZZZ",
		"80000000000000000000000000", "00000000000000000000000000", "01AN4Z07BY79KA1307SR9X4MVI",
		"01AN4Z07BY79KA1307SR9X4MVL", "01AN4Z07BY79KA1307SR9X4MVO", "01AN4Z07BY79KA1307SR9X4MVu",
		"01AN4Z07BY79KA1307SR9X4MV", "01AN4Z07BY79KA1307SR9X4MV33", "", "01AN4Z07BY79KA1307SR9X4MV\x00",
		"01AN4Z07BY79KA1307SR9X4M\u00e9", "I1AN4Z07BY79KA1307SR9X4MV3", "Z1AN4Z07BY79KA1307SR9X4MV3",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if err := checkULIDParse(ulid.Parse, s); err != nil {
			t.Fatal(err)
		}
		var id ulid.ULID
		if (id.UnmarshalText([]byte(s)) == nil) != crockfordOK(s) {
			t.Fatalf("UnmarshalText(%q) disagrees with Parse", s)
		}
	})
}

// crockfordOK reports whether the parse oracle accepts s.
func crockfordOK(s string) bool {
	if len(s) != ulid.EncodedSize || s[0] > '7' {
		return false
	}
	for i := range len(s) {
		if crockford[s[i]] < 0 {
			return false
		}
	}
	return true
}
