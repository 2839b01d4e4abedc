package fsys

import "encoding/hex"

// LockTmpSuffix ends the temporary names of the portable CreateLocked
// (spec R45): "." + base + "." + 16 lower-case hex digits + LockTmpSuffix.
// A crash between the creation and the unlink of such a name leaves it
// behind, for the queue's claim or Recover to remove.
const LockTmpSuffix = ".locktmp"

// lockTmpRandSize is how many random bytes name a lock-creation temporary
// file; they are written as twice as many lower-case hex digits.
const lockTmpRandSize = 8

// LockTmpName is the temporary name the portable CreateLocked gives a lock
// file named base while it creates it, with rnd as the random part. It is
// the one spelling of that name: LockTmpBase accepts exactly what it
// returns, so the queue never takes another file for one of these.
func LockTmpName(base string, rnd [lockTmpRandSize]byte) string {
	return "." + base + "." + hex.EncodeToString(rnd[:]) + LockTmpSuffix
}

// LockTmpBase reports whether name is exactly a name LockTmpName returns
// (a dot, a non-empty base without '/', a dot, 16 lower-case hex digits,
// LockTmpSuffix), and returns that base. Anything else (upper-case or
// fewer hex digits, an empty base, other characters) is not one of ours,
// however much it resembles one: the queue leaves such a file alone (spec
// R21, R23).
func LockTmpBase(name string) (string, bool) {
	const hexLen = 2 * lockTmpRandSize
	n := len(name) - len(LockTmpSuffix) - hexLen - 1 // index of the dot before the hex
	if n < 2 || name[0] != '.' || name[n] != '.' || name[len(name)-len(LockTmpSuffix):] != LockTmpSuffix {
		return "", false
	}
	for _, c := range []byte(name[n+1 : n+1+hexLen]) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", false
		}
	}
	base := name[1:n]
	for i := 0; i < len(base); i++ {
		if base[i] == '/' {
			return "", false
		}
	}
	return base, true
}
