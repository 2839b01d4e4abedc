// Package queuefs lets capq's own tests, model and tools open a queue on a
// file system other than the operating system's (the in-memory power-loss
// model or the fault injector of internal/fsys), with a clock other than
// time.Now, or with a ULID generator of their own. It keeps those options
// out of package queue's public API, where the first would expose an
// internal type and the others would be knobs no embedder needs; being
// internal, it cannot be used outside this module.
package queuefs

import (
	"fmt"
	"time"

	"github.com/capq/capq/internal/fsys"
	"github.com/capq/capq/ulid"
)

// Setters store one option in the *queue.Options behind opts and report
// whether opts was one; package queue registers them in its init.
type Setters struct {
	FS    func(opts any, fs fsys.FS) bool
	Clock func(opts any, clock func() time.Time) bool
	ULIDs func(opts any, g *ulid.Generator) bool
}

var setters Setters

// Register is package queue's hook; nothing else calls it.
func Register(s Setters) { setters = s }

// With returns opts, which must be a queue.Options, set to open its queue on
// fs. Any other type is a bug in the caller and panics at once, rather than
// letting a test silently run on the real disk.
func With[O any](opts O, fs fsys.FS) O {
	if setters.FS == nil || !setters.FS(&opts, fs) {
		panic(fmt.Sprintf("queuefs.With: %T is not queue.Options", opts))
	}
	return opts
}

// WithClock returns opts, which must be a queue.Options, set to read the
// time (appended_at, audit lines, the age of stray files) from clock
// instead of time.Now.
func WithClock[O any](opts O, clock func() time.Time) O {
	if setters.Clock == nil || !setters.Clock(&opts, clock) {
		panic(fmt.Sprintf("queuefs.WithClock: %T is not queue.Options", opts))
	}
	return opts
}

// WithULIDs returns opts, which must be a queue.Options, set to take record
// ULIDs from g instead of ulid.Default() (which every queue of a process
// shares, so that their ULIDs are ordered).
func WithULIDs[O any](opts O, g *ulid.Generator) O {
	if setters.ULIDs == nil || !setters.ULIDs(&opts, g) {
		panic(fmt.Sprintf("queuefs.WithULIDs: %T is not queue.Options", opts))
	}
	return opts
}
