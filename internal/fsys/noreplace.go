package fsys

// NoReplaceRenamer is implemented by file systems that can rename without
// replacing: RenameNoReplace fails with an error wrapping EEXIST if any
// entry of newname exists, and never follows a symlink. It fails with an
// error wrapping errors.ErrUnsupported (or EINVAL, renameat2's answer) when
// the system or the file system cannot: the caller must then fall back or
// give up. It is optional: the queue moves dead letters, quarantined files
// and requeued records with it (spec R45), and turns a pre-created spare
// file into a lock file with it when creating a file fails for want of
// inodes or space (spec R32): a rename needs no new inode (a hard link
// does, on tmpfs).
type NoReplaceRenamer interface {
	RenameNoReplace(oldname, newname string) error
}
