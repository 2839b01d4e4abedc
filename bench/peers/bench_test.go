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

// BenchmarkAppend interleaves one durable append of each peer per
// iteration, rotating the order.
func BenchmarkAppend(b *testing.B) {
	qs := openAll(b)
	d := make([]time.Duration, len(qs))
	b.ResetTimer()
	for i := range b.N {
		for k := range qs {
			j := (k + i) % len(qs)
			t0 := time.Now()
			if err := qs[j].Append(record); err != nil {
				b.Fatal(err)
			}
			d[j] += time.Since(t0)
		}
	}
	b.StopTimer()
	report(b, d, b.N)
}

// batchSize is the records per batch of BenchmarkAppendBatch (issue 16).
const batchSize = 100

// BenchmarkAppendBatch interleaves one batch of batchSize durable records
// per peer per round (each peer's own batch API or one transaction),
// rotating the order; an op is one record.
func BenchmarkAppendBatch(b *testing.B) {
	qs := openAll(b)
	d := make([]time.Duration, len(qs))
	recs := make([][]byte, batchSize)
	for i := range recs {
		recs[i] = record
	}
	b.ResetTimer()
	for done, round := 0, 0; done < b.N; round++ {
		n := min(batchSize, b.N-done)
		for k := range qs {
			j := (k + round) % len(qs)
			t0 := time.Now()
			if err := qs[j].AppendBatch(recs[:n]); err != nil {
				b.Fatal(err)
			}
			d[j] += time.Since(t0)
		}
		done += n
	}
	b.StopTimer()
	report(b, d, b.N)
}

// producers is the goroutines of BenchmarkProducers (issue 16).
const producers = 16

// BenchmarkProducers interleaves rounds of producers*4 durable appends
// per peer, made by producers goroutines at once (AppendShared: bbolt's
// DB.Batch), rotating the order; an op is one record.
func BenchmarkProducers(b *testing.B) {
	qs := openAll(b)
	d := make([]time.Duration, len(qs))
	chunk := producers * 4
	b.ResetTimer()
	for done, round := 0, 0; done < b.N; round++ {
		n := min(chunk, b.N-done)
		for k := range qs {
			j := (k + round) % len(qs)
			var next atomic.Int64
			errs := make(chan error, producers)
			var wg sync.WaitGroup
			t0 := time.Now()
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
			d[j] += time.Since(t0)
			close(errs)
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
		}
		done += n
	}
	b.StopTimer()
	report(b, d, b.N)
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
	d := make([]time.Duration, len(qs))
	noop := func([]byte) error { return nil }
	b.ResetTimer()
	for done, round := 0, 0; done < b.N; round++ {
		n := min(consumeChunk, b.N-done)
		for k := range qs {
			j := (k + round) % len(qs)
			t0 := time.Now()
			got, err := qs[j].Consume(n, noop)
			d[j] += time.Since(t0)
			if err != nil || got != n {
				b.Fatal(fmt.Errorf("%s consumed %d of %d: %v", Peers[j].Name, got, n, err))
			}
		}
		done += n
	}
	b.StopTimer()
	report(b, d, b.N)
}
