package fsys

// Reserver is implemented by Files that can reserve disk blocks past their
// end without changing their size, as fallocate(2) with
// FALLOC_FL_KEEP_SIZE: later appends into the reserved range need no new
// block. It is optional: the queue keeps a reserve at the end of the audit
// log so that a prune can write its lines, and then free space, on a full
// disk (spec R32).
type Reserver interface {
	Reserve(off, n int64) error
}
