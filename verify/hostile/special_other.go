//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package hostile

// mkfifo cannot plant a FIFO where there are none.
func mkfifo(string) error { return ErrSkip }

// mksocket does not plant a socket file where there is no backend (and on
// Plan 9 no unix sockets): nothing runs the matrix there.
func mksocket(string) error { return ErrSkip }
