//go:build !linux

package floor

import "errors"

var batchModes = []BatchMode{BatchSequential, BatchConcurrent}

// startWriteback is Linux's sync_file_range; elsewhere it is unsupported.
func startWriteback(int) error { return errors.ErrUnsupported }
