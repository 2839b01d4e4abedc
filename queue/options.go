package queue

import (
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/capq/capq/internal/fsys"
	"github.com/capq/capq/ulid"
)

// Defaults for Options fields left at their zero value. They are not
// exported: each field's doc states its default, and Queue.Options returns
// the values a queue runs with.
const (
	// defaultMaxSize is the pending count above which an append prunes
	// the oldest records (the reference's DEFAULT_MAX_SIZE).
	defaultMaxSize = 10000
	// defaultMaxRecordSize bounds a record's JSON, in bytes.
	defaultMaxRecordSize = 4 << 20
	// defaultMaxDepth bounds the nesting of a record's JSON at Append.
	defaultMaxDepth = 512
	// maxDepthLimit is the largest MaxDepth Open accepts, and the nesting
	// of a record that every read accepts (spec R24): one bound for both,
	// so that no queue can acknowledge a record it then quarantines as
	// too deep. It also bounds the scanner's recursion (one Go frame per
	// level, a few hundred KiB of stack at most, on 32-bit too), so that
	// no option or input can overflow the stack. 9,999 keeps the file
	// (the envelope object around the record) within 10,000 levels, the
	// depth encoding/json and the JSON Schema validators built on it
	// accept, so other readers of the same files read them too.
	maxDepthLimit = 9999
	// defaultTmpGrace is how old a stray .tmp file must be before Open
	// and Recover remove it: far longer than any append takes, so an
	// append in progress in another process is never disturbed.
	defaultTmpGrace = 15 * time.Minute
	// defaultDeleteSyncEvery is how many deletes Ingest makes before it
	// fsyncs the directory (it always does at the end of a call too).
	defaultDeleteSyncEvery = 64
	// defaultAuditLogMaxSize is the audit log size at which a capq writer
	// rotates it (spec R30).
	defaultAuditLogMaxSize = 16 << 20
)

// Options configure a Queue. The zero value is a durable queue with the
// reference's defaults.
//
// Every limit follows one rule: zero means its default, and a negative
// value means no limit. MaxRecordSize and MaxDepth, which bound memory and
// stack, have no "no limit": Open and Verify refuse a negative value with
// ErrInvalidOptions, and a MaxDepth above 9,999.
type Options struct {
	// MaxSize is the pending count above which an append prunes the
	// oldest records, down to MaxSize minus a headroom of a tenth of
	// MaxSize (at least 1, at most 100). Zero means 10,000 (the
	// reference's DEFAULT_MAX_SIZE); a negative value never prunes.
	MaxSize int

	// MaxRecordSize bounds a record's JSON in bytes at Append, and (plus
	// room for the envelope) a pending file's size at read. Zero means
	// 4 MiB; negative is refused.
	MaxRecordSize int

	// MaxDepth bounds the nesting of objects and arrays in a record at
	// Append. Zero means 512; negative, or above 9,999, is refused.
	// Reading accepts records nested up to 9,999 levels whatever
	// MaxDepth is (files written with a larger MaxDepth or by other
	// implementations stay readable), so every record Append accepts is
	// read back (spec R24).
	MaxDepth int

	// NoSync skips every fsync. Appends become about as fast as the page
	// cache, and a crash of the process still loses nothing, but a power
	// cut or kernel crash can lose acknowledged appends, resurrect
	// delivered records, and leave empty or truncated pending files
	// (which Ingest then quarantines). Never the default; see spec
	// R27.
	NoSync bool

	// TmpGrace is the age beyond which Open and Recover remove stray
	// .tmp files. Zero means 15 minutes (far longer than any append
	// takes, so an append in progress in another process is never
	// disturbed); a negative value never removes them.
	TmpGrace time.Duration

	// DeleteSyncEvery is how many successful deliveries Ingest deletes
	// before it fsyncs the directory; a power cut can re-deliver at most
	// that many records per consumer (spec R15). Zero means 64; a
	// negative value fsyncs only at the end of each Ingest call.
	DeleteSyncEvery int

	// AuditLogMaxSize is the size at which a capq writer renames the
	// audit log to .overflow-audit.log.1 (replacing the generation before)
	// after writing its lines, so that the log takes at most about twice
	// this much space (spec R30). Zero means 16 MiB; a negative value
	// never rotates.
	AuditLogMaxSize int64

	// SkipRecover makes Open skip the recovery pass (stray .tmp removal,
	// orphan lock cleanup). Recover can be called later.
	SkipRecover bool

	// Logger receives warnings the queue cannot return as errors (for
	// example a prune that failed after an append had already
	// committed). Nil discards them.
	Logger *slog.Logger

	// fileSystem replaces the operating system's file system, for capq's
	// own tests, model and tools (crash, power-loss and fault injection).
	// It is set through internal/queuefs, so it is not part of the API.
	fileSystem fsys.FS

	// clock returns the time used for appended_at, audit lines and the
	// age of stray files; nil means time.Now. ulids generates record
	// ULIDs; nil means ulid.Default(), shared by every queue in the
	// process so that their ULIDs are ordered. Both are set through
	// internal/queuefs, for capq's tests and model.
	clock func() time.Time
	ulids *ulid.Generator

	// spareLocks is how many spare files Ingest and Prune keep in the
	// directory (.capq-spare-0, ...) to claim records with when no file
	// can be created (out of inodes or disk space), so that draining and
	// pruning can always free space (spec R32). Zero means 4; a negative
	// value keeps none (some of the queue's tests).
	spareLocks int
}

// validate refuses the values that have no meaning (see Options).
func (o Options) validate() error {
	switch {
	case o.MaxRecordSize < 0:
		return fmt.Errorf("%w: MaxRecordSize %d is negative", ErrInvalidOptions, o.MaxRecordSize)
	case o.MaxDepth < 0:
		return fmt.Errorf("%w: MaxDepth %d is negative", ErrInvalidOptions, o.MaxDepth)
	case o.MaxDepth > maxDepthLimit:
		// Above the limit, reading (R24) would quarantine records Append
		// accepted, and the recursive scanner's stack would grow with
		// the option.
		return fmt.Errorf("%w: MaxDepth %d is above the limit of %d", ErrInvalidOptions, o.MaxDepth, maxDepthLimit)
	}
	return nil
}

// Options returns the options q runs with: those given to Open, with every
// zero value replaced by its default and a nil Logger by one that
// discards; a negative value (no limit) is returned as given. A caller that bounds
// what it hands the queue, such as capq append reading records of at most
// MaxRecordSize bytes, reads the bound here instead of repeating the
// default.
func (q *Queue) Options() Options {
	if q == nil {
		return Options{}
	}
	return q.opts
}

// resolved returns o with defaults filled in.
func (o Options) resolved() Options {
	if o.MaxSize == 0 {
		o.MaxSize = defaultMaxSize
	}
	if o.MaxRecordSize == 0 {
		o.MaxRecordSize = defaultMaxRecordSize
	}
	if o.MaxDepth == 0 {
		o.MaxDepth = defaultMaxDepth
	}
	if o.TmpGrace == 0 {
		o.TmpGrace = defaultTmpGrace // negative stays: never remove
	}
	if o.AuditLogMaxSize == 0 {
		o.AuditLogMaxSize = defaultAuditLogMaxSize
	}
	if o.spareLocks == 0 {
		o.spareLocks = defaultSpareLocks
	}
	if o.DeleteSyncEvery == 0 {
		o.DeleteSyncEvery = defaultDeleteSyncEvery // negative stays: only the fsync at the end of each call
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.clock == nil {
		o.clock = time.Now
	}
	if o.ulids == nil {
		o.ulids = ulid.Default()
	}
	return o
}

// headroom is how far below MaxSize an overflow prune goes: a tenth of
// MaxSize, at least 1 and at most 100 (spec R18).
func headroom(maxSize int) int {
	return min(max(maxSize/10, 1), 100)
}

// maxFileSize bounds the bytes read from a pending file: the record limit
// plus room for the envelope around it. It saturates one below math.MaxInt
// (spec R48): a MaxRecordSize near the top of int (math.MaxInt32 on a
// 32-bit system) must not wrap to a negative bound that makes every record
// look too large, and the read buffer's capacity is the bound plus one.
func (o Options) maxFileSize() int { return min(o.MaxRecordSize, math.MaxInt-513) + 512 }

// IngestOptions bound one Ingest call. The zero value drains everything and
// stops at the first handler failure, as the reference does.
type IngestOptions struct {
	// MaxRecords bounds how many records are handed to the handler:
	// every handler call counts, whether it succeeds, fails or returns
	// an error wrapping ErrNotHandlerFault, so it bounds the handler's
	// work (capq drain --max), not only the records delivered. Records
	// passed over without a call (locked, quarantined, left) do not
	// count. Zero or a negative value means no bound (unlike the
	// reference's max_records <= 0, which delivers nothing: the Options
	// rule).
	MaxRecords int

	// Budget bounds the time Ingest spends: no record is started once
	// it has elapsed, except that every call takes at least one record,
	// so that repeated bounded calls converge. Zero or a negative value
	// means no bound.
	Budget time.Duration

	// MaxAttempts, when positive, moves a record whose handler has failed
	// that many times to the dead-letter folder and goes on with the
	// drain. Zero or a negative value keeps the reference's behaviour: a
	// handler failure stops the drain and is returned. Attempt numbers
	// saturate at 2^31-1 (spec R35), so a larger MaxAttempts means 2^31-1,
	// the same on every build.
	MaxAttempts int
}
