//go:build !unix

package queue

import "errors"

// dupCloexec is never reached here: without a file-system backend no
// Delivery holds an operating-system file (LockFile returns errNoLockFile
// first).
func dupCloexec(uintptr) (int, error) { return -1, errors.ErrUnsupported }
