/*
Package queue is capq's durable, crash-safe, multi-process capture queue.

A producer appends JSON records to a queue directory while the consumer may be
down; later a consumer drains them through a handler. Any number of producers
and consumers, in any number of processes, may share one directory, including
processes running the Python reference implementation whose format this
package reads and writes byte for byte. The normative description is
spec/SPEC.md; the requirement numbers (R1, R2, ...) cited in this package's
comments and tests refer to it.

# Systems

The queue runs on Linux, macOS, FreeBSD, NetBSD, OpenBSD and DragonFly, 64-
and 32-bit (spec R45 to R48). Linux has fast paths (O_TMPFILE lock files,
getdents64 listings) and is where every test runs; the other systems run the
portable backend (named temporary lock files locked before they are linked,
batched ReadDir listings), which is tested on Linux with -tags capq_portable
and vetted for each system in CI. On macOS every flush is F_FULLFSYNC, since
fsync there leaves data in the drive's cache. 32-bit builds are tested as
GOARCH=386. On other systems (Windows, Plan 9, WebAssembly, ...) the package
builds and Open fails with an error wrapping errors.ErrUnsupported.

# Guarantees in one paragraph

When Append returns nil, the record is on disk and survives a crash of the
process, the kernel or the power (the file is fsynced, renamed to its final
name, and the directory fsynced). When it returns an error, the record is not
pending. Records reach the handler oldest first, byte for byte as appended, at
least once: a record is deleted only after its handler returned nil, and a
crash or power cut after that but before the delete is durable re-delivers it
(with Delivery.Attempt > 1, so handlers can deduplicate by ULID). Two
consumers never deliver one record at the same time. Corrupt files are moved
aside for a human, never deleted, and never block the queue. What is not
guaranteed is listed in spec/SPEC.md (R28).

# On-disk format

The queue directory holds (R1):

	pending-<ULID>.json       one committed record (the envelope below)
	pending-<ULID>.json.tmp   an append in progress, renamed over the name above when complete
	pending-<ULID>.lock       the record's lock (flock), present while it is being delivered,
	                          and kept after a failed delivery as a crash marker with the
	                          attempt history (JSON Lines) written by capq
	.overflow-audit.log       JSON Lines: records dropped on overflow, quarantined,
	                          dead-lettered or requeued (rotated to .overflow-audit.log.1
	                          at Options.AuditLogMaxSize)
	.capq-spare-<n>           empty spare files, renamed into lock names when no file can be
	                          created (out of inodes), so draining always frees space
	quarantine/               corrupt and unsafe files, moved here, never deleted
	dead-letter/              records whose handler failed MaxAttempts times, each with
	                          pending-<ULID>.history beside it

<ULID> is 26 characters of upper-case Crockford base32 (ulid.Valid). Only
regular files whose name has exactly that shape are pending; names that merely
look like it (pending-.json, lower case, 25 characters) are ignored and
reported by Verify. File name order is ULID order is append order.

An envelope is compact JSON in UTF-8 with non-ASCII characters written raw,
no trailing newline, keys in this order (R2):

	{"ulid":"01M89W077TES8Y8XEAP3E7KMB2","appended_at":"2026-11-25T17:28:07.162144+00:00","record":{...},"schema_version":1}

appended_at is Python's isoformat of the UTC time (no fraction when the
microseconds are zero); readers accept any RFC 3339 date-time, including "Z".
record is the appended JSON object, verbatim. schema_version is the integer
gen.SchemaVersion; a file with another integer stops Ingest with a
*DataError wrapping ErrSchemaVersion (R14). The JSON Schema spec/envelope.schema.json is the source of
truth; package gen is generated from it, and DecodeEnvelope enforces it.

# Protocols

Append (R8, R9): create the .tmp name with O_CREAT|O_EXCL|O_NOFOLLOW mode
0600, write the envelope, fsync, close, rename over the final name, fsync the
directory (shared by concurrent appenders: group commit). Any failure removes
what was written; a failed fsync is never retried (R10). Concurrent appenders
fsync side by side, and AppendBatch makes many files durable at once (one
syncfs on Linux 5.17 and later, concurrent fsyncs elsewhere), with group
commit between concurrent batches (R49, R50); a failure in a batch fails
exactly the records it touches (R51, BatchError).

Ingest (R11): list once, then per record oldest first: create or open the
record's .lock, take flock(LOCK_EX|LOCK_NB) (held elsewhere: skip the record),
check that the lock's name still refers to the locked file, read the record
(O_NOFOLLOW, bounded), call the handler, then unlink the record and then the
lock. The directory is fsynced every Options.DeleteSyncEvery deletes and at the
end of every Ingest call (R15). This is the reference's protocol, so a capq
consumer and a reference consumer may drain one directory at once.

Overflow (R18, R20): after an append takes the count above MaxSize, the
oldest records are dropped down to MaxSize minus a headroom, each under its
lock and each with an audit line written before the unlink. AppendBatch runs
the rule once, after all its records; a batch of at most AppendRoom records
keeps the promises of a lone Append (R19).

# Conventions

Errors: every error the queue returns is one of the sentinels (ErrClosed,
ErrNotFound, ...), wraps one, or is one of four types: a *DataError for bytes
that are not what they should be (a refused record, a corrupt or newer
pending file, an unreadable audit line; errors.Is says which), an *OpError
for a failed step of an operation on a named file, a *HandlerError for a
handler's failure, a *BatchError for the records of an AppendBatch that
failed.

Records and files: a record is named by its ULID (Delivery, HandlerError,
List, RecoverResult.InDoubt); a file, which may not be a record, by its name
relative to the queue directory (Problem, Finding, DataError, OpError,
RecoverResult.Removed, Stored).

Contexts: a call that reads, moves or removes files in numbers that grow
with the queue (Ingest, Prune, Recover, Stats, AuditEntries, RequeueAll,
Verify) takes a context and stops when it is cancelled; a call that only
lists names (List, Count, DeadLetters) or touches the records it is given
(Append, AppendBatch, Get, Requeue) does not. Two exceptions run without a
context and can take as long as the queue is large, each with a way to
bound it: Open runs Recover, which removes every stray .tmp file and
orphaned lock file (Open with SkipRecover, then call Recover(ctx)); and an
Append or AppendBatch that finds the pending count above MaxSize drops
everything above MaxSize minus the headroom at once (spec R18), which is
the headroom plus the appends since the last count in steady state, but
every excess record when MaxSize is lowered below the pending count or
other processes appended without pruning (call Prune(ctx, keep) first).

Limits: zero means the default, stated in each Options field's
documentation; a negative value means no limit, except for the bounds of
memory and stack (MaxRecordSize, MaxDepth), which Open refuses.

# File-system access

Every call goes through one small seam (internal/fsys) relative to the
directory's file descriptor, never following a symlink (R22). The same code
runs on the real disk, on an in-memory file system that models power loss, and
behind a fault injector; that is how the durability claims are tested.
*/
package queue
