package floor_test

import (
	"flag"
	"fmt"
	"testing"

	"github.com/capq/capq/internal/benchsuite"
)

// The floor's benchmarks alone, from the bodies in internal/benchsuite.
// The same flags as queue/bench_test.go choose the directory and the
// depths.
var (
	benchDir   = flag.String("capq.dir", "", "directory under which benchmarks create their queues (default $TMPDIR)")
	benchQuick = flag.Bool("capq.quick", false, "benchmark smaller queues (depths divided by ten)")
	benchBig   = flag.Bool("capq.big", false, "also benchmark listings of 1,000,000 pending files (slow to create and remove)")
)

func env(b *testing.B) *benchsuite.Env {
	return benchsuite.NewTestEnv(b, benchsuite.Config{Dir: *benchDir, Quick: *benchQuick, Big: *benchBig})
}

func BenchmarkAppend(b *testing.B) { env(b).FloorAppend(b) }

func BenchmarkConcurrentAppend(b *testing.B) {
	e := env(b)
	b.Run("shared", e.FloorConcurrentAppend(true))
	b.Run("unshared", e.FloorConcurrentAppend(false))
}

func BenchmarkConsume(b *testing.B) {
	e := env(b)
	medium, deep := e.Depths()
	for _, n := range []int{medium, deep} {
		b.Run(fmt.Sprintf("pending=%d", n), e.FloorConsume(n))
	}
}

func BenchmarkCount(b *testing.B) {
	e := env(b)
	for _, n := range e.ListDepths() {
		b.Run(fmt.Sprintf("pending=%d", n), e.FloorCount(n))
	}
}
