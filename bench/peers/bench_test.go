package peers

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// record is the record appended by every peer: the one of capq's own
// benchmarks (bench/suite.Record), ~200 bytes once in capq's
// envelope.
var record = []byte(`{"surface":"what the user said, in a few words","cue":"cue","session_id":"s-000001","role":"user"}`)

func openAll(b *testing.B) []Queue {
	qs, err := OpenAll(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		for _, q := range qs {
			q.Close()
		}
	})
	return qs
}

// report writes each peer's time per record and its ratio to capq's
// (peer time / capq time: above 1, capq is faster).
func report(b *testing.B, d []time.Duration, n int) {
	for i, p := range Peers {
		ns := float64(d[i].Nanoseconds()) / float64(n)
		b.ReportMetric(ns, p.Name+"-ns/op")
		if i > 0 {
			b.ReportMetric(float64(d[i])/float64(d[0]), p.Name+"-vs-capq")
		}
	}
}

// rotate runs the peers' rounds of a benchmark: b.N ops in rounds of
// chunk (the last one shorter), each round calling op(j, n) for every
// peer j in turn, starting one peer further each round so that no peer
// always runs first. Only op's calls are timed, per peer; then it reports.
func rotate(b *testing.B, peers, chunk int, op func(j, n int) error) {
	d := make([]time.Duration, peers)
	b.ResetTimer()
	for done, round := 0, 0; done < b.N; round++ {
		n := min(chunk, b.N-done)
		for k := range peers {
			j := (k + round) % peers
			t0 := time.Now()
			err := op(j, n)
			d[j] += time.Since(t0)
			if err != nil {
				b.Fatal(err)
			}
		}
		done += n
	}
	b.StopTimer()
	report(b, d, b.N)
}

// BenchmarkAppend interleaves one durable append of each peer per
// iteration, rotating the order.
func BenchmarkAppend(b *testing.B) {
	qs := openAll(b)
	rotate(b, len(qs), 1, func(j, _ int) error { return qs[j].Append(record) })
}

// batchSize is the records per batch of BenchmarkAppendBatch (issue 16).
const batchSize = 100

// BenchmarkAppendBatch interleaves one batch of batchSize durable records
// per peer per round (each peer's own batch API or one transaction),
// rotating the order; an op is one record.
func BenchmarkAppendBatch(b *testing.B) {
	qs := openAll(b)
	recs := make([][]byte, batchSize)
	for i := range recs {
		recs[i] = record
	}
	rotate(b, len(qs), batchSize, func(j, n int) error { return qs[j].AppendBatch(recs[:n]) })
}

// producers is the goroutines of BenchmarkProducers (issue 16).
const producers = 16

// BenchmarkProducers interleaves rounds of producers*4 durable appends
// per peer, made by producers goroutines at once (AppendShared: bbolt's
// DB.Batch), rotating the order; an op is one record.
func BenchmarkProducers(b *testing.B) {
	qs := openAll(b)
	rotate(b, len(qs), producers*4, func(j, n int) error {
		var next atomic.Int64
		errs := make(chan error, producers)
		var wg sync.WaitGroup
		for range producers {
			wg.Go(func() {
				for next.Add(1) <= int64(n) {
					if err := qs[j].AppendShared(record); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		return <-errs
	})
}

// consumeChunk is how many records each peer consumes in turn: capq's
// DeleteSyncEvery, so that capq fsyncs its directory once per turn.
const consumeChunk = 64

// BenchmarkConsume fills every peer with b.N records (untimed, with
// each peer's own durable append), then has each consume them chunk by
// chunk with a no-op handler, rotating the order.
func BenchmarkConsume(b *testing.B) {
	qs := openAll(b)
	for _, q := range qs {
		for range b.N {
			if err := q.Append(record); err != nil {
				b.Fatal(err)
			}
		}
	}
	noop := func([]byte) error { return nil }
	rotate(b, len(qs), consumeChunk, func(j, n int) error {
		got, err := qs[j].Consume(n, noop)
		if err != nil || got != n {
			return fmt.Errorf("%s consumed %d of %d: %v", Peers[j].Name, got, n, err)
		}
		return nil
	})
}
