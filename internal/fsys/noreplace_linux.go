package fsys

import (
	"os"

	"golang.org/x/sys/unix"
)

// RenameNoReplace implements NoReplaceRenamer with renameat2 and
// RENAME_NOREPLACE (Linux 3.15; ext4, xfs, btrfs, tmpfs), relative to the
// held directory descriptors.
func (o *OS) RenameNoReplace(oldname, newname string) error {
	odfd, obase, err := o.split("rename", oldname)
	if err != nil {
		return err
	}
	ndfd, nbase, err := o.split("rename", newname)
	if err != nil {
		return err
	}
	if err := unix.Renameat2(odfd, obase, ndfd, nbase, unix.RENAME_NOREPLACE); err != nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
	}
	return nil
}
