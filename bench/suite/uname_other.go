//go:build !unix

package benchsuite

// kernelRelease is unknown where there is no uname(2).
func kernelRelease() string { return "unknown" }
