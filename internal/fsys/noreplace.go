package fsys

// NoReplaceRenamer is implemented by file systems that can rename without
// replacing: RenameNoReplace fails with an error wrapping EEXIST if any
// entry of newname exists, and never follows a symlink. It is optional:
// the queue uses it to turn a pre-created spare file into a lock file
// when creating a file fails for want of inodes or space (spec R32). A
// rename needs no new inode (a hard link does, on tmpfs).
type NoReplaceRenamer interface {
	RenameNoReplace(oldname, newname string) error
}
