package floor_test

import (
	"testing"

	"github.com/capq/capq/bench/floor"
	"github.com/capq/capq/bench/suite"
)

// The floor's benchmarks alone, from the bodies in bench/suite,
// with the same flags as queue/bench_test.go (benchsuite.TestFlags).
var env = benchsuite.TestFlags()

func BenchmarkAppend(b *testing.B) { env(b).FloorAppend(b) }

func BenchmarkConcurrentAppend(b *testing.B) {
	e := env(b)
	b.Run("shared", e.FloorConcurrentAppend(true))
	b.Run("unshared", e.FloorConcurrentAppend(false))
}

func BenchmarkConsume(b *testing.B) {
	e := env(b)
	benchsuite.RunDepths(b, e.DrainDepths(), e.FloorConsume)
}

func BenchmarkCount(b *testing.B) {
	e := env(b)
	benchsuite.RunDepths(b, e.ListDepths(), e.FloorCount)
}

func BenchmarkBatch(b *testing.B) {
	e := env(b)
	for _, mode := range floor.BatchModes {
		b.Run(mode.String(), e.FloorBatch(mode))
	}
}
