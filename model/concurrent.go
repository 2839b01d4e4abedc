package model

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/capq/capq/internal/fsys"
	"github.com/capq/capq/internal/queuefs"
	"github.com/capq/capq/queue"
	"github.com/capq/capq/ulid"
)

// This file is the concurrency check: several processes (views of one Mem)
// with several goroutines each append, ingest and list at once; the
// history of calls and returns must be linearizable against a set model
// (porcupine), and every acknowledged record must be delivered exactly
// once across all consumers, with its bytes (R4, R11).

// linOp is the input of one operation of the history.
type linOp struct {
	kind string // "append", "deliver", "list"
	id   string // append, deliver
}

// linModel is the sequential specification: the set of pending ULIDs,
// as their sorted, joined strings (a comparable state).
var linModel = porcupine.Model{
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		s, in := state.(string), input.(linOp)
		set := splitSet(s)
		switch in.kind {
		case "append":
			if slices.Contains(set, in.id) {
				return false, s
			}
			return true, joinSet(append(set, in.id))
		case "deliver":
			i := slices.Index(set, in.id)
			if i < 0 {
				return false, s // delivered twice, or before it was appended
			}
			return true, joinSet(slices.Delete(set, i, i+1))
		default: // list: exactly the pending set, oldest first (R7)
			return output.(string) == s, s
		}
	},
	DescribeOperation: func(input, output any) string {
		in := input.(linOp)
		if in.kind == "list" {
			return "list() -> " + output.(string)
		}
		return in.kind + "(" + in.id + ")"
	},
}

func splitSet(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func joinSet(set []string) string {
	set = slices.Clone(set)
	slices.Sort(set)
	return strings.Join(set, ",")
}

// ConcurrentConfig configures one concurrency run.
type ConcurrentConfig struct {
	Procs      int // processes sharing the directory (default 2)
	Goroutines int // goroutines per process (default 2)
	Ops        int // operations per goroutine (default 12)
	// Dir, if set, runs the processes on the real disk in this directory
	// (which must not hold a queue yet), each with its own descriptors,
	// instead of on the in-memory file system.
	Dir string
}

// RunConcurrent runs one concurrency check seeded with seed and returns the
// number of operations in its history and the first violation found.
func RunConcurrent(seed uint64, cfg ConcurrentConfig) (int, error) {
	cfg.Procs = cmpOr(cfg.Procs, 2)
	cfg.Goroutines = cmpOr(cfg.Goroutines, 2)
	cfg.Ops = cmpOr(cfg.Ops, 12)
	mem := fsys.NewMem(nil)
	var queues []*queue.Queue
	for range cfg.Procs {
		opts := queuefs.WithULIDs(queue.Options{MaxSize: -1, DeleteSyncEvery: 2}, ulid.NewGenerator(ulid.GeneratorOptions{}))
		dir := "mem"
		if cfg.Dir == "" {
			opts = queuefs.With(opts, mem.FS())
		} else {
			dir = cfg.Dir
		}
		q, err := queue.Open(dir, opts)
		if err != nil {
			return 0, err
		}
		defer q.Close()
		queues = append(queues, q)
	}

	var (
		clock     atomic.Int64
		mu        sync.Mutex
		history   []porcupine.Operation
		appended  = map[ulid.ULID][]byte{}
		delivered = map[ulid.ULID]int{}
		errs      []string
	)
	record := func(op porcupine.Operation) {
		mu.Lock()
		history = append(history, op)
		mu.Unlock()
	}
	fail := func(format string, args ...any) {
		mu.Lock()
		errs = append(errs, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	var got sync.Map // ULID -> delivered bytes
	var wg sync.WaitGroup
	client := 0
	for pi, q := range queues {
		for g := range cfg.Goroutines {
			cid := client
			client++
			rng := rand.New(rand.NewPCG(seed, uint64(pi*100+g)))
			wg.Go(func() {
				c := randChooser{rng}
				for range cfg.Ops {
					switch w := rng.IntN(10); {
					case w < 5:
						rec := genRecord(c, 8)
						call := clock.Add(1)
						id, err := q.Append(rec)
						ret := clock.Add(1)
						if err != nil {
							fail("Append: %v", err)
							return
						}
						mu.Lock()
						appended[id] = TrimJSONSpace(rec)
						mu.Unlock()
						record(porcupine.Operation{ClientId: cid, Input: linOp{"append", id.String()}, Call: call, Return: ret})
					case w < 8:
						var open *porcupine.Operation
						closeOp := func() {
							if open != nil {
								open.Return = clock.Add(1)
								record(*open)
								open = nil
							}
						}
						_, err := q.Ingest(context.Background(), func(_ context.Context, d queue.Delivery) error {
							closeOp() // the previous record was deleted before this call
							open = &porcupine.Operation{ClientId: cid, Input: linOp{"deliver", d.ULID.String()}, Call: clock.Add(1)}
							mu.Lock()
							delivered[d.ULID]++
							mu.Unlock()
							got.Store(d.ULID, []byte(slices.Clone(d.Record)))
							return nil
						}, queue.IngestOptions{MaxRecords: 1 + rng.IntN(3)})
						closeOp()
						if err != nil {
							fail("Ingest: %v", err)
							return
						}
					default:
						call := clock.Add(1)
						ids, err := q.List()
						ret := clock.Add(1)
						if err != nil {
							fail("List: %v", err)
							return
						}
						ss := make([]string, len(ids))
						for i, id := range ids {
							ss[i] = id.String()
						}
						if !slices.IsSorted(ss) {
							fail("R7: List not oldest first: %v", ss)
						}
						record(porcupine.Operation{ClientId: cid, Input: linOp{kind: "list"}, Output: joinSet(ss), Call: call, Return: ret})
					}
				}
			})
		}
	}
	wg.Wait()
	if len(errs) > 0 {
		return len(history), fmt.Errorf("%s", strings.Join(errs, "\n"))
	}

	// Drain what is left, then every acknowledged record has been
	// delivered exactly once, with its bytes; nothing else was.
	if _, err := queues[0].Ingest(context.Background(), func(_ context.Context, d queue.Delivery) error {
		delivered[d.ULID]++
		got.Store(d.ULID, []byte(slices.Clone(d.Record)))
		return nil
	}, queue.IngestOptions{}); err != nil {
		return len(history), fmt.Errorf("final drain: %v", err)
	}
	for id, data := range appended {
		b, _ := got.Load(id)
		switch n := delivered[id]; {
		case n == 0:
			errs = append(errs, fmt.Sprintf("acknowledged record %s was never delivered (lost)", id))
		case n > 1:
			errs = append(errs, fmt.Sprintf("R11: record %s delivered %d times", id, n))
		case string(b.([]byte)) != string(data):
			errs = append(errs, fmt.Sprintf("R4: record %s delivered as %q, appended %q", id, b, data))
		}
	}
	for id := range delivered {
		if appended[id] == nil {
			errs = append(errs, fmt.Sprintf("delivered %s, which no append acknowledged", id))
		}
	}
	if len(errs) > 0 {
		slices.Sort(errs)
		return len(history), fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	switch porcupine.CheckOperationsTimeout(linModel, history, 20*time.Second) {
	case porcupine.Illegal:
		return len(history), fmt.Errorf("the history of %d operations is not linearizable against the set model", len(history))
	case porcupine.Unknown:
		// The checker ran out of time: no verdict, not a violation.
	}
	return len(history), nil
}

func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}
