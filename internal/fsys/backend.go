package fsys

import (
	"errors"
	"fmt"
	"runtime"
)

// HasOS reports whether this system has a real-disk backend: macOS,
// FreeBSD, NetBSD, OpenBSD, DragonFly and Linux do (os_unix.go). Elsewhere
// (Windows, Plan 9, WebAssembly, AIX, Solaris, illumos) OpenOS fails with
// ErrNoBackend: the queue's guarantees rest on openat with O_NOFOLLOW,
// flock and hard links (linkat), which those systems lack or give other
// meanings.
const HasOS = hasOS

// ErrNoBackend is the error of OpenOS on a system without a real-disk
// backend. It wraps errors.ErrUnsupported, so errors.Is(err,
// errors.ErrUnsupported) holds for it.
var ErrNoBackend = fmt.Errorf("fsys: no file-system backend for %s: %w", runtime.GOOS, errors.ErrUnsupported)
