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
)

// The wire types of spec/PROTOCOL.md.

// protoRequest is one request line.
type protoRequest struct {
	Op          string   `json:"op"`
	Record      *string  `json:"record,omitempty"`       // append: the record's JSON text
	Outcomes    []string `json:"outcomes,omitempty"`     // ingest: "ok" or "fail" per handler call
	MaxAttempts int      `json:"max_attempts,omitempty"` // ingest: dead-letter after this many failures
	Keep        *int     `json:"keep,omitempty"`         // prune
}

// protoDelivery is one handler call of an ingest.
type protoDelivery struct {
	ULID    string `json:"ulid"`
	Attempt int    `json:"attempt"`
	Record  string `json:"record"`
}

// protoReply is one reply line. Fields not used by an op are omitted.
type protoReply struct {
	OK         bool            `json:"ok"`
	Error      string          `json:"error,omitempty"`
	Message    string          `json:"message,omitempty"`
	Protocol   int             `json:"protocol,omitempty"`
	Name       string          `json:"name,omitempty"`
	Features   []string        `json:"features,omitempty"`
	ULID       string          `json:"ulid,omitempty"`
	ULIDs      []string        `json:"ulids,omitempty"`
	Count      *int            `json:"count,omitempty"`
	Deliveries []protoDelivery `json:"deliveries,omitempty"`
	Dropped    *int            `json:"dropped,omitempty"`
}

// protocolVersion is the version of spec/PROTOCOL.md the adapter speaks.
const protocolVersion = 1

// brokenModes are the deliberate bugs of `capq adapter --broken`, each of
// which `capq check --impl` must catch.
var brokenModes = map[string]string{
	"reverse-list": "list replies newest first",
	"lose-append":  "every third append is acknowledged but its file removed",
	"no-delete":    "a record whose handler succeeded stays pending",
}

func adapterCmd() *command {
	var broken string
	return &command{
		name:    "adapter",
		hidden:  true,
		summary: "speak the check protocol (spec/PROTOCOL.md) for capq's own queue in --dir",
		help: `Reads requests from stdin and writes replies to stdout, one JSON object per
line, as spec/PROTOCOL.md describes; capq check --impl 'capq adapter' runs it.
--broken=MODE makes it wrong on purpose, to show that the check catches it:
reverse-list, lose-append or no-delete.`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&broken, "broken", "", "misbehave on purpose: `MODE` is reverse-list, lose-append or no-delete")
		},
		run: func(e *env, fs *flag.FlagSet) error {
			if fs.NArg() > 0 {
				return usageErrorf("usage: adapter takes no arguments")
			}
			if _, ok := brokenModes[broken]; broken != "" && !ok {
				return usageErrorf("usage: unknown --broken mode %q", broken)
			}
			q, err := openQueueOpts(e, true, queue.Options{})
			if err != nil {
				return err
			}
			defer q.Close()
			a := &adapter{q: q, dir: e.dir, broken: broken}
			sc := bufio.NewScanner(e.stdin)
			sc.Buffer(make([]byte, 64<<10), 64<<20)
			for sc.Scan() {
				var req protoRequest
				var rep protoReply
				if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
					rep = protoReply{Error: "bad_request", Message: err.Error()}
				} else {
					rep = a.serve(&req)
				}
				line, _ := json.Marshal(rep)
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
	q       *queue.Queue
	dir     string
	broken  string
	appends int
}

func protoErr(kind string, err error) protoReply {
	return protoReply{Error: kind, Message: err.Error()}
}

func (a *adapter) serve(req *protoRequest) protoReply {
	switch req.Op {
	case "hello":
		return protoReply{OK: true, Protocol: protocolVersion, Name: "capq-go",
			Features: []string{"attempts", "dead_letter", "prune", "audit"}}
	case "quit":
		return protoReply{OK: true}
	case "append":
		if req.Record == nil {
			return protoErr("bad_request", errors.New("append needs a record"))
		}
		id, err := a.q.Append([]byte(*req.Record))
		switch {
		case errors.Is(err, queue.ErrInvalidRecord):
			return protoErr("invalid_record", err)
		case err != nil:
			return protoErr("io", err)
		}
		a.appends++
		if a.broken == "lose-append" && a.appends%3 == 0 {
			os.Remove(a.q.Path(id))
		}
		return protoReply{OK: true, ULID: id.String()}
	case "list":
		ids, err := a.q.List()
		if err != nil {
			return protoErr("io", err)
		}
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = id.String()
		}
		if a.broken == "reverse-list" {
			slices.Reverse(out)
		}
		return protoReply{OK: true, ULIDs: out}
	case "count":
		n, err := a.q.Count()
		if err != nil {
			return protoErr("io", err)
		}
		return protoReply{OK: true, Count: &n}
	case "ingest":
		return a.ingest(req)
	case "prune":
		if req.Keep == nil || *req.Keep < 0 {
			return protoErr("bad_request", errors.New("prune needs keep >= 0"))
		}
		res, err := a.q.Prune(*req.Keep)
		if err != nil {
			return protoErr("io", err)
		}
		return protoReply{OK: true, Dropped: &res.Dropped}
	}
	return protoErr("unsupported", fmt.Errorf("unknown op %q", req.Op))
}

// errOutcome is the failure an ingest's handler returns when told to.
var errOutcome = errors.New("outcome fail")

func (a *adapter) ingest(req *protoRequest) protoReply {
	deliveries := []protoDelivery{}
	var restore [][2][]byte // no-delete: files to put back
	calls := 0
	h := func(_ context.Context, d queue.Delivery) error {
		deliveries = append(deliveries, protoDelivery{ULID: d.ULID.String(), Attempt: d.Attempt, Record: string(d.Record)})
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
	if err != nil && !errors.Is(err, errOutcome) {
		return protoReply{Error: "io", Message: err.Error(), Deliveries: deliveries}
	}
	return protoReply{OK: true, Deliveries: deliveries}
}
