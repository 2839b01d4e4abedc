//go:build capq_portable && (darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package fsys

// forcePortable makes OpenOS use the portable code paths everywhere: the
// build tag capq_portable runs every test of the queue on the backend that
// macOS and the BSDs use.
const forcePortable = true
