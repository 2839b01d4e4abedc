package benchsuite

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// statfs magic numbers of the file systems a queue is likely to meet.
var fsMagic = map[int64]string{
	0xEF53:     "ext4/ext3/ext2",
	0x01021994: "tmpfs",
	0x58465342: "xfs",
	0x9123683E: "btrfs",
	0x794C7630: "overlayfs",
	0x2FC12FC1: "zfs",
	0x6969:     "nfs",
	0xF2F52010: "f2fs",
	0x858458F6: "ramfs",
	0x65735546: "fuse",
	0x4D44:     "vfat",
	0x5346544E: "ntfs",
}

// fsType names the file system of dir from statfs(2)'s f_type.
func fsType(dir string) (string, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return "", err
	}
	if t := fsMagic[int64(st.Type)]; t != "" {
		return t, nil
	}
	return fmt.Sprintf("unknown (f_type %#x)", st.Type), nil
}
