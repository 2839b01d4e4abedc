//go:build !linux

package floor

var batchModes = []BatchMode{BatchSequential, BatchConcurrent}
