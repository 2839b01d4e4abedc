//go:build darwin || linux

package fsys

import "os"

// RenameNoReplace implements NoReplaceRenamer with the system's rename
// that refuses an existing newname (renameNoReplaceAt: renameat2 with
// RENAME_NOREPLACE on Linux, renameatx_np with RENAME_EXCL on macOS),
// relative to the held directory descriptors. FreeBSD, NetBSD, OpenBSD and
// DragonFly have no such call, and OS does not implement NoReplaceRenamer
// there. With the portable paths forced (OpenPortable, the capq_portable
// tag) it fails with ENOTSUP before any system call, which the queue takes
// as it takes a file system that refuses the flag: it falls back as it
// does on the BSDs, so that their path runs on Linux (spec R45, R47).
func (o *OS) RenameNoReplace(oldname, newname string) error {
	if o.portable {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: ENOTSUP}
	}
	return o.renameWith(oldname, newname, renameNoReplaceAt)
}
