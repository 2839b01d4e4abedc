package fsys

import "os"

// OSFile returns the *os.File behind f when f is a file of the real file
// system (OS), so that a caller can hand its open file description to a
// child process (exec.Cmd.ExtraFiles) — for example a record's lock, which
// then stays held for as long as the child lives. ok is false for every
// other File (Mem, Fault). The returned file belongs to f: the caller must
// not close it, and it is valid only until f is closed.
func OSFile(f File) (file *os.File, ok bool) {
	if o, ok := f.(interface{ osFile() *os.File }); ok {
		return o.osFile(), true
	}
	return nil, false
}
