// Package floor implements capq's on-disk protocols with raw system calls
// and nothing else, as the physical limit the queue is measured against.
//
// Each protocol is what the queue's promise needs and no more:
//
//   - durable append: create a tmp file with O_EXCL, write the envelope,
//     fsync it, rename it to its final name, fsync the directory
//     ([Dir.Append] with [Dir.SyncDir]);
//   - the same with many writers sharing directory fsyncs
//     ([Dir.Append] with a [Group]);
//   - claim and delete: create the record's lock file with O_EXCL and
//     flock it, read the record, unlink the record, unlink the lock, with a
//     directory fsync per batch of deletes ([Dir.Consume]);
//   - listing: getdents64 into one large buffer on a fresh descriptor
//     ([Dir.Count], and [Dir.Oldest] for the records a bounded drain takes).
//
// Every call is relative to a held directory descriptor
// (openat/renameat/unlinkat), as capq's own file system layer does, so the
// two differ only by what capq adds on top: validation, ULIDs, envelopes,
// locking rules, error handling, overflow accounting. The package also
// writes files without fsync and makes hard links ([Dir.WriteFile],
// [Dir.Link]), with which benchmarks fill deep queues quickly.
//
// The floor is a measuring instrument, not a queue: it checks nothing that
// does not cost a system call, and it is not safe to share a directory
// between a floor and a consumer that expects capq's guarantees.
package floor
