//go:build !capq_portable && (darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package fsys

// forcePortable is false: OpenOS uses the system's fast paths where it has
// them. Build with -tags capq_portable to force the portable ones.
const forcePortable = false
