//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package fsys

import "os"

func (f *osFile) osFile() *os.File { return f.f }
