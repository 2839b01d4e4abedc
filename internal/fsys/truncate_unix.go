//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package fsys

import "io/fs"

// Truncate implements Truncater.
func (f *osFile) Truncate(size int64) error {
	if err := f.f.Truncate(size); err != nil {
		return &fs.PathError{Op: "truncate", Path: f.name, Err: underlying(err)}
	}
	return nil
}
