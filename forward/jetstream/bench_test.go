package jetstream

import (
	"context"
	"strconv"
	"testing"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/capq/capq/queue"
)

// BenchmarkForward measures forwarded records per second from one durable
// queue into a local single-node JetStream (file storage, R1), through one
// Forwarder.Run pass: claim, read, publish, wait for the acknowledgement,
// delete. Run it bounded, for example:
//
//	go test -run '^$' -bench Forward -benchtime 2000x
func BenchmarkForward(b *testing.B) {
	for _, bc := range []struct {
		name   string
		noSync bool
	}{
		{"durable", false},
		{"nosync", true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := startServer(b, serverOptions("bench", b.TempDir(), 0))
			_, js := connect(b, s.ClientURL())
			createStream(b, js, streamConfig())
			q, err := queue.Open(b.TempDir(), queue.Options{MaxSize: -1, NoSync: bc.noSync})
			if err != nil {
				b.Fatal(err)
			}
			defer q.Close()
			fill(b, q, "bench", 0, b.N)
			f, err := New(q, js, Config{Subject: "capture.bench", Stream: "CAPTURE"})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			if err := f.Run(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if st := f.State(); st.Forwarded != uint64(b.N) {
				b.Fatalf("forwarded %d of %d", st.Forwarded, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
	// The publishes alone, without the queue: one synchronous publish
	// with a Nats-Msg-Id per record, as Handle makes them.
	b.Run("baseline-publish-only", func(b *testing.B) {
		s := startServer(b, serverOptions("bench", b.TempDir(), 0))
		_, js := connect(b, s.ClientURL())
		createStream(b, js, streamConfig())
		msgs := make([]*nats.Msg, b.N)
		for i := range msgs {
			msgs[i] = &nats.Msg{Subject: "capture.bench", Header: nats.Header{HeaderMsgID: {strconv.Itoa(i)}}, Data: record("bench", i)}
		}
		ctx := context.Background()
		b.ResetTimer()
		for _, m := range msgs {
			if _, err := js.PublishMsg(ctx, m, natsjs.WithExpectStream("CAPTURE")); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
	// The same drain with a handler that does nothing: what capq's claim,
	// read and delete cost without the network, for comparison.
	b.Run("baseline-no-publish", func(b *testing.B) {
		q, err := queue.Open(b.TempDir(), queue.Options{MaxSize: -1})
		if err != nil {
			b.Fatal(err)
		}
		defer q.Close()
		fill(b, q, "bench", 0, b.N)
		b.ResetTimer()
		res, err := q.Ingest(context.Background(), func(context.Context, queue.Delivery) error { return nil }, queue.IngestOptions{})
		b.StopTimer()
		if err != nil || res.Delivered != b.N {
			b.Fatalf("delivered %d of %d: %v", res.Delivered, b.N, err)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
}
