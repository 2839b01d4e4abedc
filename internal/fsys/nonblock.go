//go:build !wasm && !plan9

package fsys

import "syscall"

// ONonblock is the O_NONBLOCK flag of OpenFile: the queue opens every file
// with it, so that a FIFO or device planted under a queue name cannot block
// the open. It is 0 where the system has no such flag (WebAssembly).
const ONonblock = syscall.O_NONBLOCK
