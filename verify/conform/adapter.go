package conform

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/capq/capq/internal/layout"
	"github.com/capq/capq/queue"
	"github.com/capq/capq/ulid"
)

// This file is capq's own side of the protocol: Serve speaks it for
// capq's queue (`capq adapter`), so that the judge can be checked against
// an implementation that passes every probe, and against deliberately
// broken variants of it that must fail.

// BrokenModes are the deliberate bugs Serve can have, each of which the
// judge must catch (the tests say which requirement).
var BrokenModes = map[string]string{
	"reverse-list": "list replies newest first",
	"lose-append":  "every third append is acknowledged but its file removed",
	"no-delete":    "a record whose handler succeeded stays pending",
	"no-sync":      "the queue runs with NoSync: acknowledged before durable",
}

// ErrBrokenMode is returned by Serve for a mode not in BrokenModes.
var ErrBrokenMode = errors.New("unknown broken mode")

// Serve reads requests from in and writes replies to out until quit or the
// end of in, for capq's queue in dir (opened at hello, with hello's
// max_size). broken, if not empty, is one of BrokenModes.
func Serve(dir string, in io.Reader, out io.Writer, broken string) error {
	if _, ok := BrokenModes[broken]; broken != "" && !ok {
		return fmt.Errorf("%w %q", ErrBrokenMode, broken)
	}
	a := &adapter{dir: dir, broken: broken}
	defer a.close()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		var req Request
		var rep Reply
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			rep = protoErr(ErrKindBadRequest, err)
		} else {
			rep = a.serve(&req)
		}
		line, _ := json.Marshal(rep)
		// One write per reply: the line is the acknowledgement.
		if _, err := out.Write(append(line, '\n')); err != nil {
			return err
		}
		if req.Op == "quit" {
			return nil
		}
	}
	return sc.Err()
}

// adapter serves the protocol for one queue.
type adapter struct {
	dir     string
	q       *queue.Queue
	broken  string
	appends int
}

func protoErr(kind string, err error) Reply {
	return Reply{Error: kind, Message: err.Error()}
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
	q, err := queue.Open(a.dir, opts)
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

func (a *adapter) serve(req *Request) Reply {
	if req.Op == "hello" {
		if err := a.open(req.MaxSize); err != nil {
			return protoErr(ErrKindIO, err)
		}
		return Reply{OK: true, Protocol: ProtocolVersion, Name: "capq-go", Level: "hardened",
			Features: []string{FeatureAttempts, FeatureDeadLetter, FeaturePrune,
				FeatureAudit, FeatureMaxSize, FeatureULIDs}}
	}
	if req.Op == "quit" {
		return Reply{OK: true}
	}
	if a.q == nil {
		if err := a.open(nil); err != nil {
			return protoErr(ErrKindIO, err)
		}
	}
	switch req.Op {
	case "append":
		if req.Record == nil {
			return protoErr(ErrKindBadRequest, errors.New("append needs a record"))
		}
		id, err := a.q.Append([]byte(*req.Record))
		switch {
		case errors.Is(err, queue.ErrInvalidRecord):
			return protoErr(ErrKindInvalidRecord, err)
		case err != nil:
			return protoErr(ErrKindIO, err)
		}
		a.appends++
		if a.broken == "lose-append" && a.appends%3 == 0 {
			os.Remove(filepath.Join(a.dir, layout.PendingName(id.String())))
		}
		return Reply{OK: true, ULID: id.String()}
	case "ulids":
		out := make([]string, 0, req.Count)
		for range req.Count {
			id, err := ulid.New() // the generator every queue of this process appends with
			if err != nil {
				return protoErr(ErrKindIO, err)
			}
			out = append(out, id.String())
		}
		return Reply{OK: true, ULIDs: out}
	case "list":
		ids, err := a.q.List()
		if err != nil {
			return protoErr(ErrKindIO, err)
		}
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = id.String()
		}
		if a.broken == "reverse-list" {
			slices.Reverse(out)
		}
		return Reply{OK: true, ULIDs: out}
	case "count":
		n, err := a.q.Count()
		if err != nil {
			return protoErr(ErrKindIO, err)
		}
		return Reply{OK: true, Count: &n}
	case "ingest":
		return a.ingest(req)
	case "prune":
		if req.Keep == nil || *req.Keep < 0 {
			return protoErr(ErrKindBadRequest, errors.New("prune needs keep >= 0"))
		}
		res, err := a.q.Prune(context.Background(), *req.Keep)
		if err != nil {
			return protoErr(ErrKindIO, err)
		}
		return Reply{OK: true, Dropped: &res.Dropped}
	}
	return protoErr(ErrKindUnsupported, fmt.Errorf("unknown op %q", req.Op))
}

// errOutcome is the failure an ingest's handler returns when told to.
var errOutcome = errors.New("outcome fail")

func (a *adapter) ingest(req *Request) Reply {
	deliveries := []Delivery{}
	var restore [][2][]byte // no-delete: files to put back
	calls := 0
	h := func(_ context.Context, d queue.Delivery) error {
		deliveries = append(deliveries, Delivery{ULID: d.ULID.String(), Attempt: d.Attempt, Record: string(d.Record)})
		outcome := "ok"
		if calls < len(req.Outcomes) {
			outcome = req.Outcomes[calls]
		}
		calls++
		if outcome != "ok" {
			return errOutcome
		}
		if a.broken == "no-delete" {
			path := filepath.Join(a.dir, layout.PendingName(d.ULID.String()))
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
		return Reply{OK: true, Deliveries: deliveries}
	case errors.Is(err, queue.ErrSchemaVersion):
		return Reply{Error: ErrKindSchema, Message: err.Error(), Deliveries: deliveries}
	}
	return Reply{Error: ErrKindIO, Message: err.Error(), Deliveries: deliveries}
}
