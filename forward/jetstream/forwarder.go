package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/capq/capq/gen"
	"github.com/capq/capq/queue"
)

// Header names of a forwarded message. NATS headers are case-sensitive;
// these are the exact spellings.
const (
	// HeaderMsgID is JetStream's deduplication header; it carries the
	// record's ULID.
	HeaderMsgID = natsjs.MsgIDHeader // "Nats-Msg-Id"
	// HeaderULID carries the record's ULID (canonical form).
	HeaderULID = "Capq-Ulid"
	// HeaderAppendedAt carries the envelope's appended_at, as
	// queue.FormatAppendedAt writes it.
	HeaderAppendedAt = "Capq-Appended-At"
	// HeaderSchemaVersion carries the envelope's schema_version.
	HeaderSchemaVersion = "Capq-Schema-Version"
	// HeaderAttempt carries the delivery's attempt number: 1 for the
	// first delivery, more after failed or crashed ones. A message stored
	// by the stream keeps the attempt of the publish that was stored; the
	// duplicates JetStream dropped are not kept.
	HeaderAttempt = "Capq-Attempt"
)

// Defaults for Config fields left at their zero value.
const (
	DefaultPublishTimeout = 5 * time.Second
	DefaultPollInterval   = time.Second
)

var (
	// ErrInvalidConfig is wrapped by every error New returns for a bad
	// argument.
	ErrInvalidConfig = errors.New("capq/forward: invalid configuration")

	// ErrNotConnected is the handler's error when the NATS connection is
	// not established (never connected yet, or reconnecting). The
	// forwarder fails fast instead of letting the client buffer a publish
	// whose acknowledgement it could not wait for.
	ErrNotConnected = errors.New("capq/forward: not connected to NATS")

	// ErrRunning is returned by Run when another Run of the same
	// Forwarder is in progress.
	ErrRunning = errors.New("capq/forward: already running")
)

// Config configures a Forwarder. Only Subject is required.
type Config struct {
	// Subject is the subject every record is published to. It must be a
	// literal subject (no wildcards) bound to a stream. One subject per
	// producer host (for example "capture.<host>") lets consumers filter
	// by host; the stream may listen on "capture.>".
	Subject string

	// Stream, when set, is sent as the expected stream with every
	// publish (Nats-Expected-Stream): the server refuses the message,
	// and nothing is deleted, if Subject is not bound to that stream.
	Stream string

	// Follow keeps Run going after the queue is drained: it looks for
	// new records every PollInterval, and right away after a pass that
	// delivered records. Without Follow, Run returns after the first
	// pass that ends without error.
	Follow bool

	// PollInterval is how long a following forwarder waits after a pass
	// that found nothing. Zero means DefaultPollInterval.
	PollInterval time.Duration

	// PublishTimeout bounds the wait for one acknowledgement. Zero means
	// DefaultPublishTimeout.
	PublishTimeout time.Duration

	// Backoff is the pause schedule after failed passes.
	Backoff Backoff

	// Logger receives the forwarder's log: failures and pauses at Warn,
	// recoveries and per-pass counts at Info. Nil discards it.
	Logger *slog.Logger
}

// Phase names what a Forwarder is doing.
type Phase string

// The phases of a Forwarder.
const (
	PhaseNew        Phase = "new"         // Run not called yet
	PhaseForwarding Phase = "forwarding"  // a pass is draining the queue
	PhaseIdle       Phase = "idle"        // drained; following, waiting for new records
	PhaseBackingOff Phase = "backing_off" // a pass failed; waiting until State.RetryAt
	PhaseStopped    Phase = "stopped"     // Run returned
)

// State is a snapshot of a Forwarder, for logs, health checks and tests.
// Counters count since New.
type State struct {
	Phase Phase `json:"phase"`
	// Connected reports whether the NATS connection is up right now.
	Connected bool `json:"connected"`
	// Forwarded counts records the stream stored and acknowledged.
	Forwarded uint64 `json:"forwarded"`
	// Duplicates counts records the stream acknowledged as duplicates of
	// a message it already held (a redelivery after a crash between
	// acknowledgement and delete). They are deleted locally too.
	Duplicates uint64 `json:"duplicates"`
	// PublishFailures counts publishes that failed; each kept its record.
	PublishFailures uint64 `json:"publish_failures"`
	// FailedPasses counts passes that ended with an error.
	FailedPasses uint64 `json:"failed_passes"`
	// ConsecutiveFailures counts failed passes since the last
	// acknowledged publish or clean pass; it drives the backoff.
	ConsecutiveFailures int `json:"consecutive_failures"`
	// LastError is the last pass's error, empty once a pass succeeds.
	LastError string `json:"last_error,omitempty"`
	// LastErrorAt is when LastError happened.
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	// RetryAt is when the next pass starts, while backing off.
	RetryAt time.Time `json:"retry_at,omitzero"`
	// LastULID and LastSeq name the last acknowledged record and its
	// stream sequence.
	LastULID string `json:"last_ulid,omitempty"`
	LastSeq  uint64 `json:"last_seq,omitempty"`
}

// Forwarder publishes the records of one queue to JetStream. Its methods
// are safe for concurrent use; Run runs once at a time.
type Forwarder struct {
	q   *queue.Queue
	js  natsjs.JetStream
	cfg Config
	log *slog.Logger

	running atomic.Bool

	mu sync.Mutex
	st State
}

// New returns a Forwarder that drains q into js according to cfg. It does
// not contact the server: a Forwarder can be built while the server is
// down, and Run waits for it.
func New(q *queue.Queue, js natsjs.JetStream, cfg Config) (*Forwarder, error) {
	if q == nil {
		return nil, fmt.Errorf("%w: nil queue", ErrInvalidConfig)
	}
	if js == nil || js.Conn() == nil {
		return nil, fmt.Errorf("%w: nil JetStream context", ErrInvalidConfig)
	}
	if err := checkSubject(cfg.Subject); err != nil {
		return nil, err
	}
	if strings.ContainsAny(cfg.Stream, " \t\r\n.*>/\\") {
		return nil, fmt.Errorf("%w: stream name %q", ErrInvalidConfig, cfg.Stream)
	}
	if cfg.PollInterval < 0 || cfg.PublishTimeout < 0 || cfg.Backoff.Min < 0 || cfg.Backoff.Max < 0 {
		return nil, fmt.Errorf("%w: negative duration", ErrInvalidConfig)
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.PublishTimeout == 0 {
		cfg.PublishTimeout = DefaultPublishTimeout
	}
	cfg.Backoff = cfg.Backoff.withDefaults()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Forwarder{q: q, js: js, cfg: cfg, log: log, st: State{Phase: PhaseNew}}, nil
}

// checkSubject accepts a literal NATS subject: dot-separated non-empty
// tokens of printable characters, without wildcards or white space.
func checkSubject(s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty subject", ErrInvalidConfig)
	}
	for tok := range strings.SplitSeq(s, ".") {
		if tok == "" || tok == "*" || tok == ">" {
			return fmt.Errorf("%w: subject %q: empty token or wildcard", ErrInvalidConfig, s)
		}
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f {
			return fmt.Errorf("%w: subject %q: white space or control character", ErrInvalidConfig, s)
		}
	}
	return nil
}

// Message returns the NATS message the forwarder publishes for d: d's
// record bytes as payload (shared, not copied) and the headers described
// in the package documentation.
func (f *Forwarder) Message(d queue.Delivery) *nats.Msg {
	id := d.ULID.String()
	h := make(nats.Header, 5)
	h.Set(HeaderMsgID, id)
	h.Set(HeaderULID, id)
	h.Set(HeaderAppendedAt, queue.FormatAppendedAt(d.AppendedAt))
	h.Set(HeaderSchemaVersion, strconv.Itoa(gen.SchemaVersion)) // d decoded without error: of this version
	h.Set(HeaderAttempt, strconv.Itoa(d.Attempt))
	return &nats.Msg{Subject: f.cfg.Subject, Header: h, Data: d.Record}
}

// Handle is the forwarder's queue.Handler: it publishes d and returns nil
// once the stream has acknowledged it, as a new message or as a duplicate.
// Any other outcome returns an error, so that capq keeps the record. Run
// uses it; it is exported for callers that drive queue.Ingest themselves.
func (f *Forwarder) Handle(ctx context.Context, d queue.Delivery) error {
	nc := f.js.Conn()
	if !nc.IsConnected() {
		f.publishFailed()
		return ErrNotConnected
	}
	// Message sets Nats-Msg-Id, JetStream's deduplication key, so no
	// WithMsgID option is needed.
	var opts []natsjs.PublishOpt
	if f.cfg.Stream != "" {
		opts = append(opts, natsjs.WithExpectStream(f.cfg.Stream))
	}
	pctx, cancel := context.WithTimeout(ctx, f.cfg.PublishTimeout)
	defer cancel()
	ack, err := f.js.PublishMsg(pctx, f.Message(d), opts...)
	if err == nil && ack == nil {
		err = errors.New("empty acknowledgement")
	}
	if err != nil {
		f.publishFailed()
		return fmt.Errorf("publish to %q: %w", f.cfg.Subject, err)
	}
	f.mu.Lock()
	if ack.Duplicate {
		f.st.Duplicates++
	} else {
		f.st.Forwarded++
	}
	resumed := f.st.ConsecutiveFailures
	f.st.ConsecutiveFailures = 0
	f.st.LastULID = d.ULID.String()
	f.st.LastSeq = ack.Sequence
	f.mu.Unlock()
	if resumed > 0 {
		f.log.Info("forwarding resumed", "after_failed_passes", resumed, "ulid", d.ULID.String(), "seq", ack.Sequence)
	}
	if ack.Duplicate {
		f.log.Info("stream already held record; deleting the local copy",
			"ulid", d.ULID.String(), "attempt", d.Attempt, "seq", ack.Sequence)
	}
	return nil
}

func (f *Forwarder) publishFailed() {
	f.mu.Lock()
	f.st.PublishFailures++
	f.mu.Unlock()
}

// State returns a snapshot of the forwarder's state.
func (f *Forwarder) State() State {
	f.mu.Lock()
	st := f.st
	f.mu.Unlock()
	st.Connected = f.js.Conn().IsConnected()
	return st
}

// ServeHTTP writes State as JSON, so that a Forwarder can be mounted as a
// status endpoint. The status code is 200 unless the forwarder is backing
// off or stopped on an error, when it is 503.
func (f *Forwarder) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	st := f.State()
	w.Header().Set("Content-Type", "application/json")
	if st.Phase == PhaseBackingOff || (st.Phase == PhaseStopped && st.LastError != "") {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(st) // the client went away: nothing to do
}

// Run forwards records until it has to stop.
//
// Each pass drains the queue oldest first and stops at the first record it
// cannot forward. After a failed pass Run waits as Config.Backoff says and
// tries again; nothing is deleted that the stream has not acknowledged.
// Without Config.Follow, Run returns nil after the first pass that ends
// without error; with it, Run keeps looking for new records.
//
// Run returns ctx's error when ctx is done, and returns at once, with the
// error, when the queue cannot be forwarded by this code at all: a record
// of another schema_version (queue.ErrSchemaVersion; forwarding it out of order
// is not an option) or a closed queue.
func (f *Forwarder) Run(ctx context.Context) error {
	if !f.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer f.running.Store(false)
	for {
		f.setPhase(PhaseForwarding)
		res, err := f.q.Ingest(ctx, f.Handle, queue.IngestOptions{})
		if res.Delivered > 0 || res.Quarantined > 0 {
			f.log.Info("forwarded", "records", res.Delivered, "quarantined", res.Quarantined, "skipped", res.Skipped)
		}
		if ctx.Err() != nil {
			f.stop(nil)
			return ctx.Err()
		}
		if err != nil {
			if errors.Is(err, queue.ErrSchemaVersion) || errors.Is(err, queue.ErrClosed) {
				f.stop(err)
				f.log.Error("forwarding stopped", "err", err)
				return err
			}
			delay := f.failed(err)
			if !sleep(ctx, delay) {
				f.stop(nil)
				return ctx.Err()
			}
			continue
		}
		f.recovered()
		if !f.cfg.Follow {
			f.stop(nil)
			return nil
		}
		if res.Delivered > 0 {
			continue // more may have come while we forwarded
		}
		f.setPhase(PhaseIdle)
		if !sleep(ctx, f.cfg.PollInterval) {
			f.stop(nil)
			return ctx.Err()
		}
	}
}

func (f *Forwarder) setPhase(p Phase) {
	f.mu.Lock()
	f.st.Phase = p
	f.st.RetryAt = time.Time{}
	f.mu.Unlock()
}

// failed records a failed pass and returns the pause before the next.
func (f *Forwarder) failed(err error) time.Duration {
	now := time.Now()
	f.mu.Lock()
	f.st.FailedPasses++
	f.st.ConsecutiveFailures++
	n := f.st.ConsecutiveFailures
	delay := f.cfg.Backoff.next(n)
	f.st.Phase = PhaseBackingOff
	f.st.LastError = err.Error()
	f.st.LastErrorAt = now
	f.st.RetryAt = now.Add(delay)
	f.mu.Unlock()
	f.log.Warn("forwarding paused", "err", err, "consecutive_failures", n, "retry_in", delay.Round(time.Millisecond))
	return delay
}

// recovered clears the error after a clean pass.
func (f *Forwarder) recovered() {
	f.mu.Lock()
	f.st.LastError = ""
	f.st.ConsecutiveFailures = 0
	f.mu.Unlock()
}

func (f *Forwarder) stop(err error) {
	f.mu.Lock()
	f.st.Phase = PhaseStopped
	f.st.RetryAt = time.Time{}
	if err != nil {
		f.st.LastError = err.Error()
		f.st.LastErrorAt = time.Now()
	}
	f.mu.Unlock()
}

// sleep waits d or until ctx is done, and reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
