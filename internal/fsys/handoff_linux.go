package fsys

import "os"

func (f *osFile) osFile() *os.File { return f.f }
