//go:build !unix

package hostile

// mkfifo cannot plant a FIFO where there are none.
func mkfifo(string) error { return ErrSkip }
