package floor

import "golang.org/x/sys/unix"

var batchModes = []BatchMode{BatchSequential, BatchConcurrent, BatchSyncFileRange, BatchSyncFS}

// startWriteback starts writing fd's dirty pages without waiting and
// without a cache flush (sync_file_range(SYNC_FILE_RANGE_WRITE)).
func startWriteback(fd int) error {
	return retry(func() error { return unix.SyncFileRange(fd, 0, 0, unix.SYNC_FILE_RANGE_WRITE) })
}
