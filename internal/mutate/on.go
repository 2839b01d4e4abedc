//go:build capqmutants

package mutate

import "sync/atomic"

// Built reports whether this binary has the mutant switch (it was built
// with -tags capqmutants).
const Built = true

var active atomic.Uint32

// Enable turns on the mutants in s (in addition to any already on) and
// returns a function that restores the previous set. It never fails in
// this build.
func Enable(s Set) (restore func(), err error) {
	prev := active.Load()
	active.Store(prev | uint32(s))
	return func() { active.Store(prev) }, nil
}

// On reports whether mutant m is enabled.
func On(m Set) bool { return Set(active.Load())&m != 0 }
