// Command capq-forward forwards a capq queue into a NATS JetStream stream.
//
// Usage:
//
//	capq-forward --nats URL --stream NAME --subject SUBJ [--follow] [flags]
//
// Each record is published to SUBJ with its ULID as Nats-Msg-Id and deleted
// from the queue once the stream has acknowledged it. Without --follow the
// command forwards what is pending, retrying with backoff while the server
// is unreachable, and exits 0 once a pass ends cleanly; with --follow it
// keeps forwarding new records until SIGINT or SIGTERM.
//
// Credentials never go on the command line in clear: use --creds (a .creds
// file), --nkey (an NKey seed file), --user with --password-file, and TLS
// client certificates (--tls-cert, --tls-key, --tls-ca). A --nats URL
// carrying user information is refused; NATS_URL in the environment may
// carry it. Every flag's default comes from the environment variable named
// in its help, the same names the nats CLI reads.
//
// Exit status: 0 done (or stopped by a signal), 1 forwarding failed or
// --timeout expired with records left, 2 bad usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	capqjs "github.com/capq/capq/forward/jetstream"
	"github.com/capq/capq/queue"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// options are the parsed command line.
type options struct {
	dir, url, stream, subject string
	follow                    bool
	creds, nkey               string
	user, passwordFile        string
	tlsCert, tlsKey, tlsCA    string
	name                      string
	status                    string
	poll, publishTimeout      time.Duration
	backoffMin, backoffMax    time.Duration
	timeout                   time.Duration
	verbose                   bool
}

// usageError is a mistake on the command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// parse reads args, with defaults from getenv.
func parse(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	defDir := getenv("CAPQ_DIR")
	if defDir == "" {
		if home, err := os.UserHomeDir(); err == nil {
			defDir = filepath.Join(home, ".iai-mcp", "pending")
		}
	}
	host, _ := os.Hostname()
	fs := flag.NewFlagSet("capq-forward", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.dir, "dir", defDir, "queue directory ($CAPQ_DIR, else ~/.iai-mcp/pending)")
	fs.StringVar(&o.url, "nats", "", "NATS server URLs, comma-separated, without credentials ($NATS_URL, else nats://127.0.0.1:4222)")
	fs.StringVar(&o.stream, "stream", env("CAPQ_STREAM", ""), "JetStream stream the subject must belong to ($CAPQ_STREAM)")
	fs.StringVar(&o.subject, "subject", env("CAPQ_SUBJECT", ""), "subject to publish to, for example capture.<host> ($CAPQ_SUBJECT)")
	fs.BoolVar(&o.follow, "follow", false, "keep forwarding new records until SIGINT or SIGTERM")
	fs.StringVar(&o.creds, "creds", env("NATS_CREDS", ""), "user credentials file ($NATS_CREDS)")
	fs.StringVar(&o.nkey, "nkey", env("NATS_NKEY", ""), "NKey user seed file ($NATS_NKEY)")
	fs.StringVar(&o.user, "user", env("NATS_USER", ""), "user name, with --password-file ($NATS_USER)")
	fs.StringVar(&o.passwordFile, "password-file", env("NATS_PASSWORD_FILE", ""), "file holding the user's password ($NATS_PASSWORD_FILE)")
	fs.StringVar(&o.tlsCert, "tls-cert", env("NATS_CERT", ""), "TLS client certificate file ($NATS_CERT)")
	fs.StringVar(&o.tlsKey, "tls-key", env("NATS_KEY", ""), "TLS client key file ($NATS_KEY)")
	fs.StringVar(&o.tlsCA, "tls-ca", env("NATS_CA", ""), "TLS CA certificates file to verify the server ($NATS_CA)")
	fs.StringVar(&o.name, "name", "capq-forward@"+host, "client name shown by the server")
	fs.StringVar(&o.status, "status", "", "serve the forwarder's state as JSON on this address, for example 127.0.0.1:7788")
	fs.DurationVar(&o.poll, "poll", capqjs.DefaultPollInterval, "with --follow, how often to look for new records")
	fs.DurationVar(&o.publishTimeout, "publish-timeout", capqjs.DefaultPublishTimeout, "how long to wait for one acknowledgement")
	fs.DurationVar(&o.backoffMin, "backoff-min", capqjs.DefaultBackoffMin, "first pause after a failure")
	fs.DurationVar(&o.backoffMax, "backoff-max", capqjs.DefaultBackoffMax, "longest pause after failures")
	fs.DurationVar(&o.timeout, "timeout", 0, "give up after this long (0: never); records not forwarded stay queued")
	fs.BoolVar(&o.verbose, "v", false, "log debug messages")
	if err := fs.Parse(args); err != nil {
		return o, usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return o, usagef("unexpected arguments: %q", fs.Args())
	}
	if o.url != "" {
		// The command line is visible to every user of the machine.
		if err := checkNoUserInfo(o.url); err != nil {
			return o, err
		}
	} else {
		o.url = env("NATS_URL", nats.DefaultURL)
	}
	switch {
	case o.dir == "":
		return o, usagef("--dir is required (no home directory to default to)")
	case o.subject == "":
		return o, usagef("--subject is required")
	case o.stream == "":
		return o, usagef("--stream is required")
	case (o.tlsCert == "") != (o.tlsKey == ""):
		return o, usagef("--tls-cert and --tls-key go together")
	case o.passwordFile != "" && o.user == "":
		return o, usagef("--password-file needs --user")
	case o.creds != "" && o.nkey != "":
		return o, usagef("--creds and --nkey are exclusive")
	}
	return o, nil
}

// checkNoUserInfo refuses URLs with a user, password or token in them.
func checkNoUserInfo(urls string) error {
	for raw := range strings.SplitSeq(urls, ",") {
		u, err := url.Parse(strings.TrimSpace(raw))
		if err != nil {
			return usagef("--nats: not a URL")
		}
		if u.User != nil {
			// Do not echo the URL: it holds the secret.
			return usagef("--nats: a URL holds a user, password or token; credentials on the command line are visible to every user; use --creds, --nkey, --password-file or NATS_URL")
		}
	}
	return nil
}

// natsOptions turns the credential and TLS flags into client options.
func natsOptions(o options, log *slog.Logger) ([]nats.Option, error) {
	opts := append(capqjs.ConnOptions(),
		nats.Name(o.name),
		nats.ConnectHandler(func(nc *nats.Conn) { log.Info("connected", "server", nc.ConnectedUrlRedacted()) }),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("reconnected", "server", nc.ConnectedUrlRedacted()) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { log.Warn("disconnected", "err", err) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { log.Warn("nats error", "err", err) }),
	)
	if o.creds != "" {
		opts = append(opts, nats.UserCredentials(o.creds))
	}
	if o.nkey != "" {
		opt, err := nats.NkeyOptionFromSeed(o.nkey)
		if err != nil {
			return nil, fmt.Errorf("--nkey: %w", err)
		}
		opts = append(opts, opt)
	}
	if o.user != "" {
		var pw string
		if o.passwordFile != "" {
			b, err := os.ReadFile(o.passwordFile)
			if err != nil {
				return nil, fmt.Errorf("--password-file: %w", err)
			}
			pw = strings.TrimRight(string(b), "\r\n")
		}
		opts = append(opts, nats.UserInfo(o.user, pw))
	}
	if o.tlsCA != "" {
		opts = append(opts, nats.RootCAs(o.tlsCA))
	}
	if o.tlsCert != "" {
		opts = append(opts, nats.ClientCert(o.tlsCert, o.tlsKey))
	}
	return opts, nil
}

// run is the command, with its environment passed in for tests.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	o, err := parse(args, getenv, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "capq-forward:", err)
		}
		return exitUsage
	}
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	nopts, err := natsOptions(o, log)
	if err != nil {
		log.Error("bad credentials", "err", err)
		return exitUsage
	}
	q, err := queue.Open(o.dir, queue.Options{Logger: log})
	if err != nil {
		log.Error("open queue", "dir", o.dir, "err", err)
		return exitFail
	}
	defer q.Close()
	// With RetryOnFailedConnect, Connect fails only on bad options; an
	// unreachable server is retried in the background.
	closed := make(chan struct{})
	nopts = append(nopts, nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	nc, err := nats.Connect(o.url, nopts...)
	if err != nil {
		log.Error("connect", "err", err)
		return exitFail
	}
	defer func() {
		// The client runs its callbacks (our log lines) on its own
		// goroutine; wait for the last one before returning.
		nc.Close()
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
		}
	}()
	js, err := natsjs.New(nc)
	if err != nil {
		log.Error("jetstream", "err", err)
		return exitFail
	}
	f, err := capqjs.New(q, js, capqjs.Config{
		Subject:        o.subject,
		Stream:         o.stream,
		Follow:         o.follow,
		PollInterval:   o.poll,
		PublishTimeout: o.publishTimeout,
		Backoff:        capqjs.Backoff{Min: o.backoffMin, Max: o.backoffMax},
		Logger:         log,
	})
	if err != nil {
		log.Error("configure", "err", err)
		return exitUsage
	}
	if o.status != "" {
		l, err := net.Listen("tcp", o.status)
		if err != nil {
			log.Error("status listener", "err", err)
			return exitFail
		}
		srv := &http.Server{Handler: f, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(l) // returns when Close is called
		defer srv.Close()
		log.Info("serving state", "addr", "http://"+l.Addr().String()+"/")
	}
	if o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	log.Info("forwarding", "dir", o.dir, "subject", o.subject, "stream", o.stream, "follow", o.follow)
	err = f.Run(ctx)
	st := f.State()
	switch {
	case err == nil:
		log.Info("done", "forwarded", st.Forwarded, "duplicates", st.Duplicates)
		return exitOK
	case errors.Is(err, context.DeadlineExceeded):
		n, _ := q.Count()
		log.Error("timeout; records stay queued", "forwarded", st.Forwarded, "left", n, "last_error", st.LastError)
		return exitFail
	case errors.Is(err, context.Canceled):
		log.Info("stopped", "forwarded", st.Forwarded, "duplicates", st.Duplicates)
		return exitOK
	default:
		log.Error("forwarding failed", "err", err)
		return exitFail
	}
}
