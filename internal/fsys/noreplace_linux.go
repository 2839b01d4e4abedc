package fsys

import "golang.org/x/sys/unix"

// renameNoReplaceAt is renameat2 with RENAME_NOREPLACE (Linux 3.15; ext4,
// xfs, btrfs, tmpfs). A file system without the flag fails with EINVAL
// (NFS before 4.x, some FUSE file systems), which the caller treats as
// unsupported.
func renameNoReplaceAt(odfd int, obase string, ndfd int, nbase string) error {
	return unix.Renameat2(odfd, obase, ndfd, nbase, unix.RENAME_NOREPLACE)
}
