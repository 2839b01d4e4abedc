//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package queue_test

// Benchmarks of issue 7 (performance), issue 2 (BenchmarkAppendAtDepth) and
// issue 3 (single and concurrent durable appends). The bodies live in
// bench/suite, which `capq bench` runs too; each interleaves capq
// with the floor (bench/floor: the same protocols in raw system calls)
// and reports both arms and their ratio as metrics. See BENCHMARKS.md for
// the commands and the latest figures.

import (
	"fmt"
	"testing"

	"github.com/capq/capq/bench/suite"
)

// env returns a run directory for one top-level benchmark, chosen by the
// -capq.* flags; its sub-benchmarks share its fills, and it is removed when
// the benchmark (with all its -count repetitions) ends.
var env = benchsuite.TestFlags()

// Spec R9; target speed-vs-floor >= 0.85.
func BenchmarkDurableAppend(b *testing.B) { env(b).DurableAppend(b) }

// Spec R9 (group commit); 50 goroutines; target speed-vs-floor >= 0.85.
func BenchmarkConcurrentAppend(b *testing.B) { env(b).ConcurrentAppend(b) }

// Spec R19; targets time-100000-vs-0-with-check <= 1.2 (issue 7) and
// time-100000-vs-0 <= 1.5 (issue 2).
// The sub-benchmark keeps the fills in the parent's run directory, shared
// by every -count repetition.
func BenchmarkAppendAtDepth(b *testing.B) {
	e := env(b)
	medium, deep := e.Depths()
	b.Run(fmt.Sprintf("pending=0,%d,%d", medium, deep), e.AppendAtDepth)
}

// Spec R11, R15; target speed-vs-floor >= 0.8.
func BenchmarkIngest(b *testing.B) {
	e := env(b)
	benchsuite.RunDepths(b, e.DrainDepths(), e.Ingest)
}

// Spec R7; targets time-vs-floor <= 1.5 and capq-count-B/op < 16 MiB.
func BenchmarkCountList(b *testing.B) {
	e := env(b)
	benchsuite.RunDepths(b, e.ListDepths(), e.CountList)
}

// Spec R18, R19: appends that prune at MaxSize 10,000.
func BenchmarkOverflow(b *testing.B) {
	e := env(b)
	b.Run(fmt.Sprintf("maxsize=%d", e.OverflowMaxSize()), e.Overflow)
}

// Spec R6.
func BenchmarkULID(b *testing.B) { env(b).ULID(b) }

// BenchmarkAppend and BenchmarkIngestOnly run capq alone, for
// -cpuprofile/-memprofile and clean -benchmem figures.
func BenchmarkAppend(b *testing.B) { env(b).Append(b) }

func BenchmarkIngestOnly(b *testing.B) {
	e := env(b)
	benchsuite.RunDepths(b, e.DrainDepths(), e.IngestOnly)
}

// Spec R49; issue 16 targets batch-vs-single >= 5 and
// speed-vs-floor-best >= 0.8.
func BenchmarkBatchAppend(b *testing.B) { env(b).BatchAppend(b) }

// Spec R50; issue 16 target producers-vs-one >= 5.
func BenchmarkProducersAppend(b *testing.B) { env(b).ProducersAppend(b) }
