package ulid

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"time"
)

// GeneratorOptions configures a Generator. Each zero field takes the
// default named in its comment; tests replace them to control time and
// randomness.
type GeneratorOptions struct {
	// Clock returns the current time. Default: time.Now.
	Clock func() time.Time

	// Entropy supplies the random part of each ULID that starts a new
	// millisecond. It is only read with the generator's mutex held, so it
	// need not be safe for concurrent use. Default: crypto/rand.Reader.
	Entropy io.Reader

	// Sleep pauses the calling goroutine for at least the given duration. It
	// is called only on random-part overflow (rule G4). Default: time.Sleep.
	Sleep func(time.Duration)
}

// Generator creates strictly increasing ULIDs under the rules G1 to G5 of
// the package documentation. It is safe for concurrent use and must not be
// copied after first use. Create one with NewGenerator; a zero Generator
// behaves as NewGenerator(GeneratorOptions{}).
type Generator struct {
	clock   func() time.Time
	entropy io.Reader
	sleep   func(time.Duration)

	mu      sync.Mutex
	last    ULID     // the last ULID returned; valid if started
	started bool     // whether any ULID has been returned
	rnd     [10]byte // scratch for Entropy reads; see fresh
}

// NewGenerator returns a Generator that uses opts, with zero fields
// replaced by their defaults.
func NewGenerator(opts GeneratorOptions) *Generator {
	g := &Generator{clock: opts.Clock, entropy: opts.Entropy, sleep: opts.Sleep}
	g.setDefaults()
	return g
}

// setDefaults replaces g's unset options by their defaults.
func (g *Generator) setDefaults() {
	if g.clock == nil {
		g.clock = time.Now
	}
	if g.entropy == nil {
		g.entropy = rand.Reader
	}
	if g.sleep == nil {
		g.sleep = time.Sleep
	}
}

// New returns a ULID strictly greater than every ULID g returned before,
// with a timestamp no later than the latest clock reading g has seen. It
// waits only when a millisecond's random part is exhausted (rule G4). On
// error it returns the zero ULID and leaves g's state unchanged (rule G5).
// New does not allocate unless it returns an error.
func (g *Generator) New() (ULID, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.clock == nil { // a zero Generator
		g.setDefaults()
	}
	for {
		now := g.clock()
		ms := now.UnixMilli()
		if !g.started || ms > int64(g.last.Ms()) {
			return g.fresh(ms) // G2: a new, later millisecond
		}
		// G2 same millisecond, or G3 clock stepped back: keep L, add one.
		if next, ok := g.last.incremented(); ok {
			g.last = next
			return next, nil
		}
		// G4: the random part is exhausted; wait for millisecond L+1.
		g.sleep(time.UnixMilli(int64(g.last.Ms()) + 1).Sub(now))
	}
}

// fresh builds, records and returns a ULID for millisecond ms with random
// bits read from g.entropy. It must be called with g.mu held.
func (g *Generator) fresh(ms int64) (ULID, error) {
	switch {
	case ms < 0:
		return ULID{}, fmt.Errorf("%w: %d ms", ErrNegativeTime, ms)
	case uint64(ms) > MaxTime:
		return ULID{}, fmt.Errorf("%w: %d ms > %d ms", ErrBigTime, ms, MaxTime)
	}
	// Read into g.rnd, not into a local: a local passed to an interface
	// method escapes and would cost an allocation per call.
	if _, err := io.ReadFull(g.entropy, g.rnd[:]); err != nil {
		return ULID{}, fmt.Errorf("ulid: read entropy: %w", err)
	}
	var id ULID
	id[0] = byte(ms >> 40)
	id[1] = byte(ms >> 32)
	id[2] = byte(ms >> 24)
	id[3] = byte(ms >> 16)
	id[4] = byte(ms >> 8)
	id[5] = byte(ms)
	copy(id[6:], g.rnd[:])
	g.last, g.started = id, true
	return id, nil
}

// incremented returns id with its 80-bit random part increased by one and
// its timestamp unchanged. It reports false if the random part is all ones
// and so cannot be increased.
func (id ULID) incremented() (ULID, bool) {
	hi := binary.BigEndian.Uint16(id[6:8])
	lo := binary.BigEndian.Uint64(id[8:16])
	lo++
	if lo == 0 {
		if hi == 0xFFFF {
			return id, false
		}
		hi++
	}
	binary.BigEndian.PutUint16(id[6:8], hi)
	binary.BigEndian.PutUint64(id[8:16], lo)
	return id, true
}

// Default returns the process-wide Generator, built on first use with the
// zero GeneratorOptions (time.Now, crypto/rand.Reader, time.Sleep). Every
// caller gets the same Generator, so all ULIDs made through it in one
// process are in one strictly increasing order.
func Default() *Generator {
	return defaultGenerator()
}

var defaultGenerator = sync.OnceValue(func() *Generator {
	return NewGenerator(GeneratorOptions{})
})

// New returns Default().New(): the next ULID of the process-wide order.
func New() (ULID, error) {
	return Default().New()
}
