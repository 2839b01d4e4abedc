package fsys

import (
	"strconv"
	"strings"
)

// FileSystemSyncer is implemented by file systems that can make every
// file written so far durable with one call, as syncfs(2) does. It is
// optional: callers test for it with a type assertion, and fall back to
// fsyncing each file (File.Sync) when it is missing or when SyncFS
// returns an error wrapping errors.ErrUnsupported.
//
// The promise is about file data only: once SyncFS returns nil, the
// data of every file written before the call began is durable, and an
// error from any file's writeback since the previous SyncFS of this
// FileSystemSyncer is reported (so an error may belong to a file the
// caller never wrote: callers must treat it as a failure of every file
// they wrote before it). Directory entries are made durable by SyncDir
// only, whatever a particular file system does besides.
type FileSystemSyncer interface {
	SyncFS() error
}

// kernelAtLeast reports whether a kernel release string ("6.1.0-18-amd64",
// "5.17.3") is at least major.minor; an unreadable one is not.
func kernelAtLeast(release string, major, minor int) bool {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return false
	}
	maj, err := strconv.Atoi(parts[0])
	if err != nil {
		return false
	}
	mins := parts[1]
	if i := strings.IndexFunc(mins, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		mins = mins[:i]
	}
	min, err := strconv.Atoi(mins)
	if err != nil {
		return false
	}
	return maj > major || (maj == major && min >= minor)
}
