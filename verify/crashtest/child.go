package crashtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/capq/capq/internal/mutate"
	"github.com/capq/capq/queue"
)

// Environment variables that turn a process into a child.
const (
	// EnvChild selects the child's role: RoleAppender or RoleConsumer.
	EnvChild = "CAPQ_CRASHTEST_CHILD"
	// EnvConfig holds the child's ChildConfig as JSON.
	EnvConfig = "CAPQ_CRASHTEST_CONFIG"
)

// The child roles.
const (
	RoleAppender = "appender"
	RoleConsumer = "consumer"
	// RoleHandler is a `capq drain --exec` handler of an exec consumer
	// (Config.ExecConsumers): it reads the record's ULID and attempt from
	// CAPQ_ULID and CAPQ_ATTEMPT.
	RoleHandler = "handler"
)

// ChildConfig is what a child needs to know; the driver passes it in
// EnvConfig.
type ChildConfig struct {
	Dir         string  `json:"dir"`          // the queue directory
	Seed        uint64  `json:"seed"`         // seeds the child's choices (record sizes, failures)
	MaxSize     int     `json:"max_size"`     // queue.Options.MaxSize of appenders and consumers
	FailRate    float64 `json:"fail_rate"`    // consumer: probability that a delivery fails
	MaxAttempts int     `json:"max_attempts"` // consumer: queue.IngestOptions.MaxAttempts (at least 1)
	// Mutants plants bugs in the child's queue (internal/mutate), to show
	// that the driver's checks catch them; only a child built with
	// -tags capqmutants accepts them.
	Mutants mutate.Set `json:"mutants,omitempty"`
	// MaxHandle is how long a handler works at most (RoleHandler).
	MaxHandle time.Duration `json:"max_handle,omitempty"`
}

// MaybeRunChild runs a child and exits the process if EnvChild is set, and
// returns at once otherwise. Call it first thing in main or TestMain of a
// program that the driver re-executes.
func MaybeRunChild() {
	role := os.Getenv(EnvChild)
	if role == "" {
		return
	}
	var cfg ChildConfig
	if err := json.Unmarshal([]byte(os.Getenv(EnvConfig)), &cfg); err != nil {
		fmt.Fprintf(os.Stderr, "crashtest: bad %s: %v\n", EnvConfig, err)
		os.Exit(2)
	}
	if role == RoleHandler {
		if err := runHandler(cfg, os.Stdin, os.Stdout); err != nil {
			if !errors.Is(err, errInjected) {
				fmt.Fprintf(os.Stderr, "crashtest %s: %v\n", role, err)
			}
			os.Exit(1)
		}
		os.Exit(0)
	}
	if err := RunChild(context.Background(), role, cfg, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "crashtest %s: %v\n", role, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// RunChild runs the loop of role on cfg.Dir until ctx is done or an
// operation fails, printing its report lines to out (see the package
// documentation). Each line is a single Write, made after the operation
// it reports: out should be unbuffered.
func RunChild(ctx context.Context, role string, cfg ChildConfig, out io.Writer) error {
	// Mutants exist only in a binary built with -tags capqmutants (a
	// test binary); any other binary refuses them with mutate.ErrNotBuilt.
	restore, err := mutate.Enable(cfg.Mutants)
	if err != nil {
		return err
	}
	defer restore()
	rng := rand.New(rand.NewPCG(cfg.Seed, uint64(os.Getpid())))
	q, err := queue.Open(cfg.Dir, queue.Options{MaxSize: cfg.MaxSize})
	if err != nil {
		return err
	}
	defer q.Close()
	switch role {
	case RoleAppender:
		return appender(ctx, q, rng, out)
	case RoleConsumer:
		return consumer(ctx, q, cfg, rng, out)
	}
	return fmt.Errorf("unknown role %q", role)
}

func appender(ctx context.Context, q *queue.Queue, rng *rand.Rand, out io.Writer) error {
	pid := os.Getpid()
	for n := 0; ctx.Err() == nil; n++ {
		rec := fmt.Sprintf(`{"pid":%d,"n":%d,"pad":%q}`, pid, n, strings.Repeat("x", rng.IntN(256)))
		id, err := q.Append([]byte(rec))
		if err != nil {
			return err
		}
		if _, err := io.WriteString(out, "A "+id.String()+"\n"); err != nil {
			return err
		}
	}
	return nil
}

// errInjected is the failure a consumer's handler returns on purpose.
var errInjected = errors.New("crashtest: injected handler failure")

func consumer(ctx context.Context, q *queue.Queue, cfg ChildConfig, rng *rand.Rand, out io.Writer) error {
	handler := func(_ context.Context, d queue.Delivery) error {
		tag, ret := "D ", error(nil)
		if rng.Float64() < cfg.FailRate {
			tag, ret = "F ", errInjected
		}
		if _, err := io.WriteString(out, tag+d.ULID.String()+" "+strconv.Itoa(d.Attempt)+"\n"); err != nil {
			return err
		}
		return ret
	}
	opts := queue.IngestOptions{MaxRecords: 16, MaxAttempts: max(cfg.MaxAttempts, 1)}
	for ctx.Err() == nil {
		res, err := q.Ingest(ctx, handler, opts)
		// With MaxAttempts set a failure does not stop the drain; should
		// one still surface as a *queue.HandlerError, the next pass
		// retries the record.
		if err != nil && ctx.Err() == nil && !errors.Is(err, errInjected) {
			return err
		}
		if res.Delivered+res.Failed+res.DeadLettered == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	return nil
}
