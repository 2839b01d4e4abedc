package queue

import (
	"testing"

	"golang.org/x/sys/unix"
)

// mountTmpfs mounts a tmpfs with the given options on mnt, unmounted when
// the test ends (Linux and root only; callers skip when it fails).
func mountTmpfs(t testing.TB, mnt, opts string) error {
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, opts); err != nil {
		return err
	}
	t.Cleanup(func() {
		if err := unix.Unmount(mnt, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
	return nil
}
