//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package fsys

import "io/fs"

// These systems have no fast paths: OS always takes the portable ones
// (os_portable.go).

func createLockedFast(dfd int, base, name string, perm fs.FileMode) (f File, done bool, err error) {
	return nil, false, nil
}

func readDirFast(fd int, dir string, fn func(name []byte, typ EntryType) error) (done bool, err error) {
	return false, nil
}
