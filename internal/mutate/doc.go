// Package mutate names the deliberately broken variants of the queue
// ("mutants") and, in test builds only, switches them on, so that capq's own
// suites can prove they catch each kind of bug (spec R28, R58 and
// model/README.md).
//
// The switch exists only in binaries built with the build tag capqmutants
// (go test -tags capqmutants ...). Without the tag, On is a constant false,
// package queue does not import this package at all, and Enable refuses any
// mutant with ErrNotBuilt: a shipped binary cannot be turned into a buggy
// queue, whatever its environment says. With the tag the switch is
// process-wide, so a test that enables a mutant must not run in parallel
// with other tests of the queue; run the mutant suites on their own with
// -run (see README.md).
package mutate
