package fsys

import "golang.org/x/sys/unix"

// renameNoReplaceAt is renameatx_np with RENAME_EXCL (macOS 10.12; Go
// needs macOS 11, so the call is always there): it fails with EEXIST
// rather than replace newname. A file system that cannot honour the flag
// fails with ENOTSUP (rename(2): "RENAME_EXCL ... requested, but the
// underlying file system doesn't support it": some network and FUSE
// mounts), which the caller treats as unsupported and then falls back to
// its check-then-rename (spec R45). Any other error is the rename's own.
func renameNoReplaceAt(odfd int, obase string, ndfd int, nbase string) error {
	return unix.RenameatxNp(odfd, obase, ndfd, nbase, unix.RENAME_EXCL)
}
