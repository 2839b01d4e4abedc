package floor

import "errors"

// The names of capq's files, as far as the floor needs them: a pending
// record is Prefix + a 26-character ULID + Suffix, its tmp file adds
// TmpSuffix to that, and its lock file is Prefix + ULID + LockSuffix.
const (
	Prefix     = "pending-"
	Suffix     = ".json"
	TmpSuffix  = ".tmp"
	LockSuffix = ".lock"
	IDLen      = 26

	nameLen = len(Prefix) + IDLen + len(Suffix)
)

// ListBufSize is the getdents64 buffer the benchmarks give the floor's
// listings: one system call returns about 20,000 pending names.
const ListBufSize = 1 << 20

// ErrShortBuffer is returned by Consume when the record did not fit in the
// buffer it was given.
var ErrShortBuffer = errors.New("floor: record larger than the read buffer")

// The d_type values List reports for a regular file and for a type the file
// system did not say: the same on Linux and the BSDs (DT_REG, DT_UNKNOWN).
const (
	DTUnknown uint8 = 0
	DTReg     uint8 = 8
)

// IsPending reports whether a directory entry is a pending record as far
// as a listing can tell without a further system call: a regular file (or
// an unknown type) named Prefix + IDLen characters + Suffix. capq also
// checks the ULID's characters; the floor does not.
func IsPending(name []byte, typ uint8) bool {
	return len(name) == nameLen &&
		string(name[:len(Prefix)]) == Prefix &&
		string(name[nameLen-len(Suffix):]) == Suffix &&
		(typ == DTReg || typ == DTUnknown)
}
