//go:build unix

package benchsuite

import "golang.org/x/sys/unix"

// kernelRelease is uname(2)'s release, for the report's header.
func kernelRelease() string {
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(uts.Release[:])
}
