package fsys

// DataSeeker is implemented by Files that can find the next byte of data
// at or after an offset, skipping holes, as lseek(2) with SEEK_DATA. It
// is optional: the audit log reader uses it to pass over the holes of a
// sparse file (which hold no line break) instead of reading gigabytes of
// zeros (spec R29, R44). SeekData does not move the offset Read uses
// (the reader reads with ReadAt). An offset in a hole that runs to the
// end of the file gives an error wrapping ENXIO.
type DataSeeker interface {
	SeekData(off int64) (int64, error)
}
