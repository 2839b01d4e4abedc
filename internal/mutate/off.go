//go:build !capqmutants

package mutate

// Built reports whether this binary has the mutant switch (it was built
// with -tags capqmutants). It is false here: On is constant false.
const Built = false

// Enable fails with ErrNotBuilt for any non-empty s: this binary has no
// mutant code. Enabling nothing succeeds, so callers need no special case.
func Enable(s Set) (restore func(), err error) {
	if s != 0 {
		return nil, ErrNotBuilt
	}
	return func() {}, nil
}

// On reports whether mutant m is enabled: never, in this build.
func On(Set) bool { return false }
