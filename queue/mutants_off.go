//go:build !capqmutants

package queue

import "github.com/capq/capq/ulid"

// This is the production build: no planted bug can be switched on. mutantOn
// is constant false, so the compiler drops every mutant branch, and queue
// does not import the test-only switch (internal/mutate) at all; the
// capqmutants build (mutants_on.go) wires the same names to it (spec R58).

// mutant names a planted bug; see internal/mutate for what each one does.
type mutant uint8

const (
	mutSkipDirSync mutant = iota
	mutDeleteBeforeHandler
	mutDropLockEarly
	mutReverseList
	mutOverflowDropsNewest
)

// mutantOn reports whether mutant m is switched on: never, in this build.
func mutantOn(mutant) bool { return false }

// mutantULID returns id as appended: unchanged, in this build.
func mutantULID(id ulid.ULID) ulid.ULID { return id }
