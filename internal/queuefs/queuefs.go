// Package queuefs lets capq's own tests, model and tools open a queue on a
// file system other than the operating system's: the in-memory power-loss
// model or the fault injector of internal/fsys. It keeps that option out of
// package queue's public API, where it would expose an internal type; being
// internal, it cannot be used outside this module.
package queuefs

import (
	"fmt"

	"github.com/capq/capq/internal/fsys"
)

// setter stores fs in the *queue.Options behind opts and reports whether
// opts was one; package queue registers it in its init.
var setter func(opts any, fs fsys.FS) bool

// Register is package queue's hook; nothing else calls it.
func Register(set func(opts any, fs fsys.FS) bool) { setter = set }

// With returns opts, which must be a queue.Options, set to open its queue on
// fs. Any other type is a bug in the caller and panics at once, rather than
// letting a test silently run on the real disk.
func With[O any](opts O, fs fsys.FS) O {
	if setter == nil || !setter(&opts, fs) {
		panic(fmt.Sprintf("queuefs.With: %T is not queue.Options", opts))
	}
	return opts
}
