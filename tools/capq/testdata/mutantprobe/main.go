// Command mutantprobe links the queue's append and drain paths and nothing
// else: TestShippedBinaryHasNoMutants builds it with -tags capqmutants, as
// the control that shows its symbol check sees the mutant switch when it is
// compiled in. A small binary, so that the tagged build recompiles the
// queue and not all of capq.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/capq/capq/queue"
)

func main() {
	q, err := queue.Open(os.TempDir()+"/mutantprobe", queue.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer q.Close()
	if _, err := q.Append([]byte(`{}`)); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	_, err = q.Ingest(context.Background(), func(context.Context, queue.Delivery) error { return nil }, queue.IngestOptions{})
	fmt.Println(err)
}
