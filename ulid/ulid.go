package ulid

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	oklog "github.com/oklog/ulid/v2"
)

// EncodedSize is the length in bytes of a ULID's text form.
const EncodedSize = 26

// MaxTime is the largest Unix time in milliseconds that a ULID can hold,
// 2^48-1, which falls in the year 10889.
const MaxTime uint64 = 1<<48 - 1

// Errors returned by this package. Each is returned wrapped with context;
// test for them with [errors.Is].
var (
	// ErrDataSize means a ULID string is not exactly EncodedSize bytes long.
	ErrDataSize = errors.New("ulid: bad data size")

	// ErrInvalidCharacters means a ULID string holds a byte outside the
	// Crockford base32 alphabet (in either case).
	ErrInvalidCharacters = errors.New("ulid: invalid characters")

	// ErrOverflow means a ULID string's first character is above '7', so it
	// would encode more than 128 bits.
	ErrOverflow = errors.New("ulid: value overflows 128 bits")

	// ErrBigTime means a generator's clock reads a time after MaxTime.
	ErrBigTime = errors.New("ulid: time too big")

	// ErrNegativeTime means a generator's clock reads a time before the Unix
	// epoch, which a ULID cannot hold.
	ErrNegativeTime = errors.New("ulid: time before the Unix epoch")
)

// ULID is a 16-byte Universally Unique Lexicographically Sortable
// Identifier: a 48-bit big-endian millisecond timestamp followed by 80
// random bits. The zero value is the all-zero ULID, which no Generator
// returns unless its clock reads the Unix epoch and its entropy is zero.
type ULID [16]byte

// Parse decodes a ULID string under the ULID specification's rules (see the
// package documentation). It accepts lower-case letters, so it is not the
// inverse of String for every input, but Parse(id.String()) == id always
// holds. On failure it returns the zero ULID and an error wrapping
// ErrDataSize, ErrInvalidCharacters or ErrOverflow. It never panics.
func Parse(s string) (ULID, error) {
	id, err := oklog.ParseStrict(s)
	if err != nil {
		return ULID{}, parseError(s, err)
	}
	return ULID(id), nil
}

// parseError maps an oklog parse error onto this package's sentinel and
// names the offending input, shortened if long.
func parseError(s string, err error) error {
	switch {
	case errors.Is(err, oklog.ErrDataSize):
		err = ErrDataSize
	case errors.Is(err, oklog.ErrInvalidCharacters):
		err = ErrInvalidCharacters
	case errors.Is(err, oklog.ErrOverflow):
		err = ErrOverflow
	}
	const maxQuoted = 2 * EncodedSize
	if len(s) > maxQuoted {
		return fmt.Errorf("%w: %q... (%d bytes)", err, s[:maxQuoted], len(s))
	}
	return fmt.Errorf("%w: %q", err, s)
}

// MustParse is like Parse but panics if s is not a valid ULID. It is meant
// for tests and examples with constant input; production code uses Parse.
func MustParse(s string) ULID {
	id, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return id
}

// canonical[b] reports whether byte b may appear in a canonical ULID string:
// the upper-case Crockford alphabet.
var canonical = func() (t [256]bool) {
	for _, c := range []byte(oklog.Encoding) {
		t[c] = true
	}
	return t
}()

// Valid reports whether s is a ULID in canonical form: EncodedSize bytes of
// the upper-case Crockford alphabet, the first of them '0' to '7'. This is
// the form String returns and capq writes into file names; for such s,
// MustParse(s).String() == s. Valid does not allocate.
func Valid(s string) bool {
	if len(s) != EncodedSize || s[0] > '7' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !canonical[s[i]] {
			return false
		}
	}
	return true
}

// TimeOf parses s as Parse does and returns the ULID's timestamp, as
// [ULID.Time] does.
func TimeOf(s string) (time.Time, error) {
	id, err := Parse(s)
	if err != nil {
		return time.Time{}, err
	}
	return id.Time(), nil
}

// String returns the canonical form: EncodedSize upper-case Crockford base32
// characters, for example 01AN4Z07BY79KA1307SR9X4MV3.
func (id ULID) String() string {
	var buf [EncodedSize]byte
	_ = oklog.ULID(id).MarshalTextTo(buf[:]) // cannot fail: len(buf) == EncodedSize
	return string(buf[:])
}

// AppendString appends the canonical form of id to dst and returns the
// extended slice. It allocates only if dst lacks room for EncodedSize more
// bytes.
func (id ULID) AppendString(dst []byte) []byte {
	var buf [EncodedSize]byte
	_ = oklog.ULID(id).MarshalTextTo(buf[:]) // cannot fail: len(buf) == EncodedSize
	return append(dst, buf[:]...)
}

// Ms returns the timestamp of id in Unix milliseconds, between 0 and MaxTime.
func (id ULID) Ms() uint64 {
	return oklog.ULID(id).Time()
}

// Time returns the timestamp of id as a UTC time with millisecond precision.
func (id ULID) Time() time.Time {
	return time.UnixMilli(int64(id.Ms())).UTC()
}

// Compare returns -1, 0 or +1 as id is less than, equal to, or greater than
// other. The order is byte order, which is also the order of the canonical
// strings and, between ULIDs of different milliseconds, time order.
func (id ULID) Compare(other ULID) int {
	return bytes.Compare(id[:], other[:])
}

// IsZero reports whether id is the zero ULID.
func (id ULID) IsZero() bool {
	return id == ULID{}
}

// MarshalText implements [encoding.TextMarshaler]: it returns the canonical
// form, as String does, and never fails.
func (id ULID) MarshalText() ([]byte, error) {
	return id.AppendString(make([]byte, 0, EncodedSize)), nil
}

// AppendText implements [encoding.TextAppender]: it appends the canonical
// form, as AppendString does, and never fails.
func (id ULID) AppendText(dst []byte) ([]byte, error) {
	return id.AppendString(dst), nil
}

// UnmarshalText implements [encoding.TextUnmarshaler]: it decodes text as
// Parse does. On error it leaves id unchanged.
func (id *ULID) UnmarshalText(text []byte) error {
	if Valid(string(text)) {
		// The canonical form, as in every file name capq lists: decode
		// without the string Parse would allocate.
		return (*oklog.ULID)(id).UnmarshalText(text)
	}
	parsed, err := Parse(string(text))
	if err != nil {
		return err
	}
	*id = parsed
	return nil
}
