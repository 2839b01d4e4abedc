package jetstream_test

import (
	"context"
	"log"
	"log/slog"
	"net/http"
	"os"
	"os/signal"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	capqjs "github.com/capq/capq/forward/jetstream"
	"github.com/capq/capq/queue"
)

// A producer host forwards its queue into the CAPTURE stream until it is
// interrupted, with its state on a local status endpoint.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	q, err := queue.Open("/var/lib/capture/pending", queue.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer q.Close()
	opts := append(capqjs.ConnOptions(), nats.UserCredentials("/etc/capq/host-a.creds"))
	nc, err := nats.Connect("tls://js1:4222,tls://js2:4222,tls://js3:4222", opts...)
	if err != nil {
		log.Fatal(err) // bad options only: an unreachable server is retried
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	f, err := capqjs.New(q, js, capqjs.Config{
		Subject: "capture.host-a",
		Stream:  "CAPTURE",
		Follow:  true,
		Logger:  slog.Default(),
	})
	if err != nil {
		log.Fatal(err)
	}
	go http.ListenAndServe("127.0.0.1:7788", f) // GET / returns f.State() as JSON
	if err := f.Run(ctx); err != nil && ctx.Err() == nil {
		log.Fatal(err)
	}
}
