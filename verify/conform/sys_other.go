//go:build !unix

package conform

import (
	"errors"
	"os"
	"syscall"
)

// The checker drives implementations as unix processes over a unix
// directory protocol (flock); on other systems it builds but cannot run.

func holdLock(dir, id string) (release func(), err error) { return nil, errors.ErrUnsupported }

func killGroup(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		p.Kill()
	}
}

func pipeID(f *os.File) string { return "" }

func procAttr() *syscall.SysProcAttr { return nil }

func killEscaped(token string, pgid int) []int { return nil }
