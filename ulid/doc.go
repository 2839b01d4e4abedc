// Package ulid provides the monotonic ULIDs that name capq's records.
//
// A ULID (Universally Unique Lexicographically Sortable Identifier) is 128
// bits: a 48-bit big-endian Unix timestamp in milliseconds followed by 80
// random bits. Its canonical text form is 26 characters of Crockford's base32
// alphabet, 0123456789ABCDEFGHJKMNPQRSTVWXYZ, in upper case. Because the
// encoding has a fixed width and preserves order, comparing two ULIDs as
// bytes, as canonical strings, or by [ULID.Compare] gives the same answer.
// capq writes the canonical form into file names, so a sorted directory
// listing is in ULID order.
//
// Encoding and decoding are delegated to github.com/oklog/ulid/v2. This
// package adds capq's parsing rules, its own error values and a monotonic
// [Generator].
//
// # Parsing
//
// [Parse] accepts exactly what the ULID specification allows: 26 bytes, each
// from the Crockford alphabet, letters in either case (I, L, O and U are not
// in the alphabet and are rejected in both cases), the first character
// between 0 and 7 (a larger one would encode more than 128 bits). Failures
// wrap [ErrDataSize], [ErrInvalidCharacters] or [ErrOverflow], checked in
// that order. [Valid] is stricter: it accepts only the canonical upper-case
// form, the only form capq writes, and it neither allocates nor returns an
// error, so it can filter every directory entry cheaply.
//
// # Generator semantics
//
// A [Generator] hands out ULIDs under the rules below, which the capq
// specification cites by number. Clock, Entropy and Sleep are the
// [GeneratorOptions] fields. For one Generator at a given moment, let now be
// the latest Clock reading in whole Unix milliseconds, L the timestamp of the
// last ULID the generator returned, and M the largest millisecond Clock has
// ever returned to the generator.
//
// G1 (order). Every ULID a Generator returns is strictly greater than the one
// it returned before, as bytes and as canonical strings, so no two are equal.
// This holds for any number of ULIDs within one millisecond and for calls
// from many goroutines: [Generator.New] is serialized by a mutex, and the
// order is the order in which calls acquire it.
//
// G2 (timestamp). The timestamp of a new ULID is max(now, L). If now > L, or
// the generator has returned no ULID yet, the timestamp is now and the 80
// random bits are read fresh from Entropy. If now == L, the timestamp stays L
// and the random part is the previous random part plus one (the ULID
// specification's monotonic mode). The timestamp is never advanced past the
// clock to make room for more ULIDs.
//
// G3 (clock stepped back). If now < L, the timestamp stays L and the random
// part is the previous one plus one, exactly as for now == L. Order is kept;
// the ULID's timestamp is then ahead of the current clock reading, but never
// ahead of M.
//
// G4 (overflow). If the random part is all ones and would have to be
// incremented, New calls Sleep for the time left until the clock should
// reach L+1, re-reads Clock, and repeats until now > L; it then continues
// with fresh entropy as in G2. If the clock has been stepped back, this wait
// lasts until the clock has caught up with L. New never returns an
// out-of-order ULID and never returns a ULID whose timestamp is greater
// than M. With G2 and G3 this gives the invariant: at the moment a ULID is
// returned, its timestamp is at most M.
//
// G5 (errors). If reading Entropy fails, New returns the reader's error
// wrapped, and the generator's state is unchanged: the next call behaves as
// if the failed call had not happened. If the timestamp New would use is
// after [MaxTime] (2^48-1 ms, in the year 10889) it returns [ErrBigTime];
// if it is before the Unix epoch, [ErrNegativeTime]. The state is unchanged
// in both cases too.
//
// Distinct Generators, including those of distinct processes, are not
// ordered relative to each other within a millisecond. Their ULIDs collide
// only if two generators draw the same 80 random bits (or increments of
// them) in the same millisecond, which is negligible with crypto/rand.
//
// # The default generator
//
// [Default] returns one Generator per process, built on first use with the
// zero [GeneratorOptions]. It is a global on purpose: every queue in a
// process draws from it, so all ULIDs a process creates are in one monotonic
// order (G1), whichever queue they name. [New] is shorthand for
// Default().New().
package ulid
