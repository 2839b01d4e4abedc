package queue

import (
	"time"

	"github.com/capq/capq/internal/fsys"
	"github.com/capq/capq/internal/queuefs"
	"github.com/capq/capq/ulid"
)

// The file-system seam, the clock and the ULID generator are set through
// internal/queuefs, not through exported fields, so that no internal type
// is part of this package's API and no test knob is either.
func init() {
	queuefs.Register(queuefs.Setters{
		FS: func(opts any, fs fsys.FS) bool {
			o, ok := opts.(*Options)
			if ok {
				o.fileSystem = fs
			}
			return ok
		},
		Clock: func(opts any, clock func() time.Time) bool {
			o, ok := opts.(*Options)
			if ok {
				o.clock = clock
			}
			return ok
		},
		ULIDs: func(opts any, g *ulid.Generator) bool {
			o, ok := opts.(*Options)
			if ok {
				o.ulids = g
			}
			return ok
		},
	})
}
