//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package hostile

// mkfifo cannot plant a FIFO where there are none.
func mkfifo(string) error { return ErrSkip }
