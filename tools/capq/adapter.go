package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"

	"github.com/capq/capq/queue"
	"github.com/capq/capq/ulid"
	"github.com/capq/capq/verify/conform"
)

// brokenModes are the deliberate bugs of `capq adapter --broken`, each of
// which `capq check --impl` must catch (the tests say which requirement).
var brokenModes = map[string]string{
	"reverse-list": "list replies newest first",
	"lose-append":  "every third append is acknowledged but its file removed",
	"no-delete":    "a record whose handler succeeded stays pending",
	"no-sync":      "the queue runs with NoSync: acknowledged before durable",
}

func adapterCmd() *command {
	var broken string
	return &command{
		name:    "adapter",
		hidden:  true,
		summary: "speak the check protocol (spec/PROTOCOL.md) for capq's own queue in --dir",
		help: `Reads requests from stdin and writes replies to stdout, one JSON object per
line, as spec/PROTOCOL.md describes; capq check --impl 'capq adapter' runs it.
The queue is opened at hello (with hello's max_size), or at the first other
request. --broken=MODE makes it wrong on purpose, to show that the check
catches it: reverse-list, lose-append, no-delete or no-sync.`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&broken, "broken", "", "misbehave on purpose: `MODE` is reverse-list, lose-append, no-delete or no-sync")
		},
		run: func(e *env, fs *flag.FlagSet) error {
			if fs.NArg() > 0 {
				return usageErrorf("usage: adapter takes no arguments")
			}
			if _, ok := brokenModes[broken]; broken != "" && !ok {
				return usageErrorf("usage: unknown --broken mode %q", broken)
			}
			a := &adapter{e: e, broken: broken}
			defer a.close()
			sc := bufio.NewScanner(e.stdin)
			sc.Buffer(make([]byte, 64<<10), 64<<20)
			for sc.Scan() {
				var req conform.Request
				var rep conform.Reply
				if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
					rep = protoErr(conform.ErrKindBadRequest, err)
				} else {
					rep = a.serve(&req)
				}
				line, _ := json.Marshal(rep)
				// One write per reply: the line is the acknowledgement.
				if _, err := e.stdout.Write(append(line, '\n')); err != nil {
					return failf("%v", err)
				}
				if req.Op == "quit" {
					return nil
				}
			}
			if err := sc.Err(); err != nil {
				return failf("%v", err)
			}
			return nil
		},
	}
}

// adapter serves the protocol for one queue.
type adapter struct {
	e       *env
	q       *queue.Queue
	broken  string
	appends int
}

func protoErr(kind string, err error) conform.Reply {
	return conform.Reply{Error: kind, Message: err.Error()}
}

// open opens the queue with the given MaxSize (nil: the default).
func (a *adapter) open(maxSize *int) error {
	a.close()
	opts := queue.Options{NoSync: a.broken == "no-sync"}
	if maxSize != nil {
		opts.MaxSize = *maxSize
		if *maxSize <= 0 {
			opts.MaxSize = -1 // the protocol's -1 is no bound; capq's 0 would be the default
		}
	}
	q, err := openQueueOpts(a.e, true, opts)
	if err != nil {
		return err
	}
	a.q = q
	return nil
}

func (a *adapter) close() {
	if a.q != nil {
		a.q.Close()
		a.q = nil
	}
}

func (a *adapter) serve(req *conform.Request) conform.Reply {
	if req.Op == "hello" {
		if err := a.open(req.MaxSize); err != nil {
			return protoErr(conform.ErrKindIO, err)
		}
		return conform.Reply{OK: true, Protocol: conform.ProtocolVersion, Name: "capq-go", Level: "hardened",
			Features: []string{conform.FeatureAttempts, conform.FeatureDeadLetter, conform.FeaturePrune,
				conform.FeatureAudit, conform.FeatureMaxSize, conform.FeatureULIDs}}
	}
	if req.Op == "quit" {
		return conform.Reply{OK: true}
	}
	if a.q == nil {
		if err := a.open(nil); err != nil {
			return protoErr(conform.ErrKindIO, err)
		}
	}
	switch req.Op {
	case "append":
		if req.Record == nil {
			return protoErr(conform.ErrKindBadRequest, errors.New("append needs a record"))
		}
		id, err := a.q.Append([]byte(*req.Record))
		switch {
		case errors.Is(err, queue.ErrInvalidRecord):
			return protoErr(conform.ErrKindInvalidRecord, err)
		case err != nil:
			return protoErr(conform.ErrKindIO, err)
		}
		a.appends++
		if a.broken == "lose-append" && a.appends%3 == 0 {
			os.Remove(a.q.Path(id))
		}
		return conform.Reply{OK: true, ULID: id.String()}
	case "ulids":
		out := make([]string, 0, req.Count)
		for range req.Count {
			id, err := ulid.New() // the generator every queue of this process appends with
			if err != nil {
				return protoErr(conform.ErrKindIO, err)
			}
			out = append(out, id.String())
		}
		return conform.Reply{OK: true, ULIDs: out}
	case "list":
		ids, err := a.q.List()
		if err != nil {
			return protoErr(conform.ErrKindIO, err)
		}
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = id.String()
		}
		if a.broken == "reverse-list" {
			slices.Reverse(out)
		}
		return conform.Reply{OK: true, ULIDs: out}
	case "count":
		n, err := a.q.Count()
		if err != nil {
			return protoErr(conform.ErrKindIO, err)
		}
		return conform.Reply{OK: true, Count: &n}
	case "ingest":
		return a.ingest(req)
	case "prune":
		if req.Keep == nil || *req.Keep < 0 {
			return protoErr(conform.ErrKindBadRequest, errors.New("prune needs keep >= 0"))
		}
		res, err := a.q.Prune(context.Background(), *req.Keep)
		if err != nil {
			return protoErr(conform.ErrKindIO, err)
		}
		return conform.Reply{OK: true, Dropped: &res.Dropped}
	}
	return protoErr(conform.ErrKindUnsupported, fmt.Errorf("unknown op %q", req.Op))
}

// errOutcome is the failure an ingest's handler returns when told to.
var errOutcome = errors.New("outcome fail")

func (a *adapter) ingest(req *conform.Request) conform.Reply {
	deliveries := []conform.Delivery{}
	var restore [][2][]byte // no-delete: files to put back
	calls := 0
	h := func(_ context.Context, d queue.Delivery) error {
		deliveries = append(deliveries, conform.Delivery{ULID: d.ULID.String(), Attempt: d.Attempt, Record: string(d.Record)})
		outcome := "ok"
		if calls < len(req.Outcomes) {
			outcome = req.Outcomes[calls]
		}
		calls++
		if outcome != "ok" {
			return errOutcome
		}
		if a.broken == "no-delete" {
			path := a.q.Path(d.ULID)
			if data, err := os.ReadFile(path); err == nil {
				restore = append(restore, [2][]byte{[]byte(path), bytes.Clone(data)})
			}
		}
		return nil
	}
	_, err := a.q.Ingest(context.Background(), h, queue.IngestOptions{MaxAttempts: req.MaxAttempts})
	for _, r := range restore {
		os.WriteFile(string(r[0]), r[1], 0o600)
	}
	switch {
	case err == nil || errors.Is(err, errOutcome):
		return conform.Reply{OK: true, Deliveries: deliveries}
	case errors.Is(err, queue.ErrSchemaVersion):
		return conform.Reply{Error: conform.ErrKindSchema, Message: err.Error(), Deliveries: deliveries}
	}
	return conform.Reply{Error: conform.ErrKindIO, Message: err.Error(), Deliveries: deliveries}
}
