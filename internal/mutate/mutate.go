package mutate

import (
	"errors"
	"strconv"
)

// Set is a set of mutants.
type Set uint32

// The mutants. Each names the bug it plants in the queue.
const (
	// SkipDirSync: appends and ingests never fsync the directory, so a
	// power cut can lose acknowledged appends and resurrect deliveries.
	SkipDirSync Set = 1 << iota
	// DeleteBeforeHandler: ingest deletes a record before its handler
	// runs, so a failing handler loses it.
	DeleteBeforeHandler
	// DropLockEarly: ingest releases a record's lock before its handler
	// runs, so two consumers can deliver the same record.
	DropLockEarly
	// ReverseList: List (and so Ingest and prune) run newest first.
	ReverseList
	// OverflowDropsNewest: the overflow prune drops the newest records
	// instead of the oldest.
	OverflowDropsNewest
	// ULIDAhead: appended records get ULIDs an hour ahead of the clock.
	ULIDAhead
)

// All lists every mutant, for tables of tests.
var All = []Set{SkipDirSync, DeleteBeforeHandler, DropLockEarly, ReverseList, OverflowDropsNewest, ULIDAhead}

var names = map[Set]string{
	SkipDirSync:         "skip-dir-sync",
	DeleteBeforeHandler: "delete-before-handler",
	DropLockEarly:       "drop-lock-early",
	ReverseList:         "reverse-list",
	OverflowDropsNewest: "overflow-drops-newest",
	ULIDAhead:           "ulid-ahead",
}

// ErrNotBuilt is Enable's error in a binary built without the capqmutants
// tag, where the queue has no mutant code to switch on.
var ErrNotBuilt = errors.New("mutate: this binary has no mutants (build it with -tags capqmutants)")

// String names a single mutant.
func (s Set) String() string {
	if n, ok := names[s]; ok {
		return n
	}
	return "mutate.Set(" + strconv.FormatUint(uint64(s), 10) + ")"
}

// Parse returns the mutant that String names, and false for any other
// name.
func Parse(name string) (Set, bool) {
	for s, n := range names {
		if n == name {
			return s, true
		}
	}
	return 0, false
}
