//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package queue_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/capq/capq/queue"
)

// tempQueue opens a queue in a new temporary directory and returns it with
// a function that closes it and removes the directory.
func tempQueue(opts queue.Options) (*queue.Queue, func()) {
	dir, err := os.MkdirTemp("", "capq-example")
	if err != nil {
		log.Fatal(err)
	}
	q, err := queue.Open(filepath.Join(dir, "pending"), opts)
	if err != nil {
		log.Fatal(err)
	}
	return q, func() { q.Close(); os.RemoveAll(dir) }
}

// Open creates the queue directory, readable by its owner only, and
// recovers from earlier crashes.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "capq-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	qdir := filepath.Join(dir, "pending")
	q, err := queue.Open(qdir, queue.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer q.Close()

	n, err := q.Count()
	if err != nil {
		log.Fatal(err)
	}
	fi, err := os.Stat(qdir)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("pending:", n)
	fmt.Println("mode:", fi.Mode().Perm())
	// Output:
	// pending: 0
	// mode: -rwx------
}

// Append returns once the record is on disk for good. The record's bytes
// are kept verbatim, and anything but one JSON object is refused before
// the disk is touched.
func ExampleQueue_Append() {
	q, done := tempQueue(queue.Options{})
	defer done()

	id, err := q.Append([]byte(`{"surface":"Привет 🧠","n":1.0}`))
	if err != nil {
		log.Fatal(err)
	}
	st, err := q.Get(id) // the record's file, as stored
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(st.Record))
	fmt.Println(st.ULID == id)

	_, err = q.Append([]byte(`["not", "an", "object"]`))
	fmt.Println(errors.Is(err, queue.ErrInvalidRecord))
	n, _ := q.Count()
	fmt.Println("pending:", n)
	// Output:
	// {"surface":"Привет 🧠","n":1.0}
	// true
	// true
	// pending: 1
}

// Ingest delivers the records oldest first and deletes each one its
// handler accepts. A failing handler stops the drain and leaves its record
// for the next one, which says it is a second attempt.
func ExampleQueue_Ingest() {
	q, done := tempQueue(queue.Options{})
	defer done()

	for _, s := range []string{"first", "second", "third"} {
		if _, err := q.Append([]byte(`{"surface":"` + s + `"}`)); err != nil {
			log.Fatal(err)
		}
	}
	fail := true
	handler := func(ctx context.Context, d queue.Delivery) error {
		fmt.Printf("attempt %d: %s\n", d.Attempt, d.Record)
		if fail && string(d.Record) == `{"surface":"second"}` {
			fail = false
			return errors.New("database down")
		}
		return nil
	}

	res, err := q.Ingest(context.Background(), handler, queue.IngestOptions{})
	var he *queue.HandlerError
	fmt.Println("delivered:", res.Delivered, "stopped:", errors.As(err, &he))

	res, err = q.Ingest(context.Background(), handler, queue.IngestOptions{})
	if err != nil {
		log.Fatal(err)
	}
	n, _ := q.Count()
	fmt.Println("delivered:", res.Delivered, "pending:", n)
	// Output:
	// attempt 1: {"surface":"first"}
	// attempt 1: {"surface":"second"}
	// delivered: 1 stopped: true
	// attempt 2: {"surface":"second"}
	// attempt 1: {"surface":"third"}
	// delivered: 2 pending: 0
}

// With MaxAttempts, a record that keeps failing is moved to the dead-letter
// folder and the drain goes on; Requeue puts it back.
func ExampleQueue_Ingest_deadLetter() {
	q, done := tempQueue(queue.Options{})
	defer done()

	poison, _ := q.Append([]byte(`{"surface":"poison"}`))
	q.Append([]byte(`{"surface":"fine"}`))
	handler := func(ctx context.Context, d queue.Delivery) error {
		if d.ULID == poison {
			return errors.New("cannot parse")
		}
		return nil
	}
	for range 2 {
		res, err := q.Ingest(context.Background(), handler, queue.IngestOptions{MaxAttempts: 2})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("delivered %d, failed %d, dead-lettered %d\n", res.Delivered, res.Failed, res.DeadLettered)
	}
	dead, _ := q.DeadLetters()
	fmt.Println("dead letters:", len(dead), dead[0] == poison)
	if err := q.Requeue(poison); err != nil {
		log.Fatal(err)
	}
	n, _ := q.Count()
	fmt.Println("pending after Requeue:", n)
	// Output:
	// delivered 1, failed 1, dead-lettered 0
	// delivered 0, failed 1, dead-lettered 1
	// dead letters: 1 true
	// pending after Requeue: 1
}
