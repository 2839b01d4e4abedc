//go:build !(linux || aix || solaris || zos || darwin || dragonfly || freebsd || netbsd || openbsd)

package report

import "io"

// IsTerminal reports false on this system: the tools print plain periodic
// lines, which are correct everywhere.
func IsTerminal(io.Writer) bool { return false }

func termWidth(io.Writer) int { return 0 }
