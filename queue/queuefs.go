package queue

import (
	"github.com/capq/capq/internal/fsys"
	"github.com/capq/capq/internal/queuefs"
)

// The file-system seam is set through internal/queuefs, not through an
// exported field, so that no internal type is part of this package's API.
func init() {
	queuefs.Register(func(opts any, fs fsys.FS) bool {
		o, ok := opts.(*Options)
		if ok {
			o.fileSystem = fs
		}
		return ok
	})
}
