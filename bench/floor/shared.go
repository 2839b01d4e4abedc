package floor

import (
	"slices"
	"strings"
	"sync"
)

// What follows uses only Dir's methods, so it is the same on every system.

// Count counts the pending records, listing into buf.
func (d *Dir) Count(buf []byte) (int, error) {
	n := 0
	err := d.List(buf, func(name []byte, typ uint8) {
		if IsPending(name, typ) {
			n++
		}
	})
	return n, err
}

// Group shares directory fsyncs between concurrent appenders (group
// commit): a caller waits for an fsync that began after it called Sync,
// starting one itself when none is running, so that N concurrent writers
// pay for about two directory fsyncs, not N.
//
// It duplicates the queue's syncer on purpose: the floor shares no code
// with capq (verify/layers checks that it imports none), or it would
// measure capq against itself, and a slow syncer in capq would slow its
// yardstick too. The same holds for the floor's other copies of capq's
// protocols (file names, fsync calls).
type Group struct {
	d       *Dir
	mu      sync.Mutex
	cond    *sync.Cond
	running bool
	started uint64
	done    uint64
	failed  uint64
	err     error
}

// NewGroup returns a Group for d.
func NewGroup(d *Dir) *Group {
	g := &Group{d: d}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// Sync returns once a directory fsync that began after the call has
// finished, with its error.
func (g *Group) Sync() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	need := g.started + 1
	for g.done < need {
		if g.running {
			g.cond.Wait()
			continue
		}
		g.running = true
		g.started++
		gen := g.started
		g.mu.Unlock()
		err := g.d.SyncDir()
		g.mu.Lock()
		g.running, g.done = false, gen
		if err != nil {
			g.failed, g.err = gen, err
		}
		g.cond.Broadcast()
	}
	if g.failed >= need {
		return g.err
	}
	return nil
}

// Oldest lists the directory into buf and returns the n smallest pending
// IDs (the oldest records), sorted, reusing ids: a bounded max-heap, so the
// cost is one pass over the names and no sort of all of them.
func (d *Dir) Oldest(buf []byte, n int, ids [][IDLen]byte) ([][IDLen]byte, error) {
	h := ids[:0]
	if n <= 0 {
		return h, nil
	}
	err := d.List(buf, func(name []byte, typ uint8) {
		if !IsPending(name, typ) {
			return
		}
		id := [IDLen]byte(name[len(Prefix) : len(Prefix)+IDLen])
		switch {
		case len(h) < n:
			h = append(h, id)
			for i := len(h) - 1; i > 0; { // sift up
				p := (i - 1) / 2
				if string(h[p][:]) >= string(h[i][:]) {
					break
				}
				h[p], h[i] = h[i], h[p]
				i = p
			}
		case string(id[:]) < string(h[0][:]):
			h[0] = id
			for i := 0; ; { // sift down
				l, r, m := 2*i+1, 2*i+2, i
				if l < len(h) && string(h[l][:]) > string(h[m][:]) {
					m = l
				}
				if r < len(h) && string(h[r][:]) > string(h[m][:]) {
					m = r
				}
				if m == i {
					break
				}
				h[i], h[m] = h[m], h[i]
				i = m
			}
		}
	})
	slices.SortFunc(h, func(a, b [IDLen]byte) int { return strings.Compare(string(a[:]), string(b[:])) })
	return h, err
}
