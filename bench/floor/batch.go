package floor

import "fmt"

// BatchMode is how [Dir.AppendBatch] makes a batch's files durable before
// renaming them.
type BatchMode int

// The batch variants the floor measures (issue 16).
const (
	// BatchSequential fsyncs each file in turn: one device flush per
	// file, as a loop of [Dir.Append] pays.
	BatchSequential BatchMode = iota
	// BatchConcurrent fsyncs all files at once from as many goroutines,
	// so that the block layer can merge the flushes that wait together.
	BatchConcurrent
	// BatchSyncFileRange starts writeback of every file with
	// sync_file_range(SYNC_FILE_RANGE_WRITE), then fsyncs each in turn:
	// the data is written in one go, the flushes are still one per file.
	BatchSyncFileRange
	// BatchSyncFS writes every file and makes them all durable with one
	// syncfs(2) of the file system: one flush for the batch, plus
	// whatever else is dirty on that file system.
	BatchSyncFS
	numBatchModes
)

// BatchModes lists every BatchMode this system has, for benchmarks that
// run them all (sync_file_range is Linux's; syncfs is Linux's too, and
// the floor's SyncFS elsewhere fails).
var BatchModes = batchModes

// String returns the variant's name as benchmarks print it.
func (m BatchMode) String() string {
	switch m {
	case BatchSequential:
		return "sequential"
	case BatchConcurrent:
		return "concurrent"
	case BatchSyncFileRange:
		return "syncfilerange"
	case BatchSyncFS:
		return "syncfs"
	}
	return fmt.Sprintf("BatchMode(%d)", int(m))
}
