//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package floor

import "errors"

// startWriteback is Linux's sync_file_range; elsewhere it is unsupported.
// Only the unix batch code (batch_unix.go) calls it.
func startWriteback(int) error { return errors.ErrUnsupported }
