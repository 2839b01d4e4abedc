//go:build capqmutants

package queue

import (
	"time"

	"github.com/capq/capq/internal/mutate"
	"github.com/capq/capq/ulid"
)

// This is the test build (go test -tags capqmutants): the mutant names of
// mutants_off.go are internal/mutate's, switched by mutate.Enable (spec R58).

type mutant = mutate.Set

const (
	mutSkipDirSync         = mutate.SkipDirSync
	mutDeleteBeforeHandler = mutate.DeleteBeforeHandler
	mutDropLockEarly       = mutate.DropLockEarly
	mutReverseList         = mutate.ReverseList
	mutOverflowDropsNewest = mutate.OverflowDropsNewest
)

// mutantOn reports whether mutant m is switched on.
func mutantOn(m mutant) bool { return mutate.On(m) }

// mutantULID returns id as appended: an hour ahead of its time under the
// ULIDAhead mutant.
func mutantULID(id ulid.ULID) ulid.ULID {
	if !mutate.On(mutate.ULIDAhead) {
		return id
	}
	ms := id.Ms() + uint64(time.Hour/time.Millisecond)
	for i := 5; i >= 0; i-- {
		id[i] = byte(ms)
		ms >>= 8
	}
	return id
}
