package ulid_test

import (
	"errors"
	"io"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/capq/capq/ulid"
)

// t0 is an arbitrary fixed time, 300µs into a millisecond.
var t0 = time.UnixMilli(1_700_000_000_000).Add(300 * time.Microsecond)

// fillReader is an Entropy source that returns an endless run of one byte.
type fillReader byte

func (r fillReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// fakeClock is a Clock and Sleep pair. Its time moves only when Set or
// Sleep is called. Sleep advances it by the slept duration, or by at most
// maxStep if that is set, to model sleeps that return early.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	maxStep time.Duration
	maxMs   int64 // M: the largest millisecond Now has returned
	slept   []time.Duration
}

func newFakeClock(start time.Time) *fakeClock {
	return &fakeClock{now: start, maxMs: -1 << 63}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.maxMs = max(c.maxMs, c.now.UnixMilli())
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *fakeClock) Sleep(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slept = append(c.slept, d)
	if c.maxStep > 0 {
		d = min(d, c.maxStep)
	}
	c.now = c.now.Add(d)
}

func (c *fakeClock) M() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.maxMs
}

func mustNew(t testing.TB, g *ulid.Generator) ulid.ULID {
	t.Helper()
	id, err := g.New()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return id
}

// Spec R6
func TestULIDLexicographicSortMatchesTimeOrder(t *testing.T) {
	t.Parallel()
	const n = 1000
	ids := make([]string, n)
	var prev ulid.ULID
	for i := range ids {
		id, err := ulid.New()
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && id.Ms() < prev.Ms() {
			t.Fatalf("ULID %d has time %d before the previous %d", i, id.Ms(), prev.Ms())
		}
		ids[i], prev = id.String(), id
	}
	sorted := slices.Clone(ids)
	sort.Strings(sorted)
	if !slices.Equal(sorted, ids) {
		t.Fatal("sorting the ULID strings changed their generation order")
	}
	if len(slices.Compact(sorted)) != n {
		t.Fatal("duplicate ULIDs")
	}
}

func TestMillionInOneMillisecond(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(t0)
	g := ulid.NewGenerator(ulid.GeneratorOptions{
		Clock:   clock.Now,
		Entropy: fillReader(0),
		Sleep:   func(time.Duration) { t.Fatal("Sleep called") },
	})
	const n = 1_000_000
	prev := mustNew(t, g)
	for i := 1; i < n; i++ {
		id := mustNew(t, g)
		if id.Compare(prev) <= 0 {
			t.Fatalf("ULID %d = %v is not after %v", i, id, prev)
		}
		if id.Ms() != uint64(t0.UnixMilli()) {
			t.Fatalf("ULID %d has time %d, want the frozen %d", i, id.Ms(), t0.UnixMilli())
		}
		prev = id
	}
	// Monotonic mode: the random part counted up from 0 by exactly one, to
	// 999,999 = YGHZ in base 32.
	if want := "01HF7YAT00000000000000YGHZ"; prev.String() != want {
		t.Errorf("last ULID = %v, want %v", prev, want)
	}
}

func TestConcurrentGoroutines(t *testing.T) {
	t.Parallel()
	const goroutines, perGoroutine = 8, 10_000
	g := ulid.NewGenerator(ulid.GeneratorOptions{})
	results := make([][]ulid.ULID, goroutines)
	var wg sync.WaitGroup
	for w := range goroutines {
		wg.Go(func() {
			ids := make([]ulid.ULID, perGoroutine)
			for i := range ids {
				id, err := g.New()
				if err != nil {
					t.Error(err)
					return
				}
				ids[i] = id
			}
			results[w] = ids
		})
	}
	wg.Wait()
	seen := make(map[ulid.ULID]bool, goroutines*perGoroutine)
	for w, ids := range results {
		for i, id := range ids {
			if i > 0 && id.Compare(ids[i-1]) <= 0 {
				t.Fatalf("goroutine %d: ULID %d = %v is not after %v", w, i, id, ids[i-1])
			}
			if seen[id] {
				t.Fatalf("duplicate ULID %v", id)
			}
			seen[id] = true
		}
	}
}

func TestTimestampNeverAheadOfClock(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var maxMs int64
	clock := func() time.Time {
		now := time.Now()
		mu.Lock()
		maxMs = max(maxMs, now.UnixMilli())
		mu.Unlock()
		return now
	}
	g := ulid.NewGenerator(ulid.GeneratorOptions{Clock: clock})
	start := time.Now().Truncate(time.Millisecond)
	var id ulid.ULID
	for i := range 100_000 {
		id = mustNew(t, g)
		if int64(id.Ms()) > maxMs {
			t.Fatalf("ULID %d has time %d, after the latest clock reading %d", i, id.Ms(), maxMs)
		}
	}
	end := time.Now()
	if got := id.Time(); got.Before(start) || got.After(end) {
		t.Errorf("last ULID time %v is outside [%v, %v]", got, start, end)
	}
}

func TestClockSteppedBack(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(t0)
	g := ulid.NewGenerator(ulid.GeneratorOptions{
		Clock:   clock.Now,
		Entropy: fillReader(0x80),
		Sleep:   func(time.Duration) { t.Fatal("Sleep called") },
	})
	base := t0.UnixMilli()
	steps := []struct {
		name   string
		offset int64 // clock reading, ms after base
		wantMs int64 // expected ULID time, ms after base
	}{
		{"start", 0, 0},
		{"forward", 5, 5},
		{"back 15 ms", -10, 5},
		{"still back", -10, 5},
		{"back to base", 0, 5},
		{"catching up", 5, 5},
		{"past L", 6, 6},
		{"back 1 h", -3_600_000, 6},
		{"forward again", 100, 100},
	}
	var prev ulid.ULID
	for i, step := range steps {
		clock.Set(time.UnixMilli(base + step.offset))
		id := mustNew(t, g)
		if got := int64(id.Ms()) - base; got != step.wantMs {
			t.Errorf("%s: ULID time = base%+d ms, want base%+d ms", step.name, got, step.wantMs)
		}
		if int64(id.Ms()) > clock.M() {
			t.Errorf("%s: ULID time %d is after M = %d", step.name, id.Ms(), clock.M())
		}
		if i > 0 && id.Compare(prev) <= 0 {
			t.Errorf("%s: %v is not after %v", step.name, id, prev)
		}
		prev = id
	}
}

func TestRandomOverflowWaitsForNextMillisecond(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		restart    time.Duration // clock offset from t0 after the first ULID
		maxStep    time.Duration // if set, the most one Sleep moves the clock
		wantSleeps []time.Duration
	}{
		{"sleep the rest of the ms", 0, 0, []time.Duration{700 * time.Microsecond}},
		{"sleeps return early", 0, 200 * time.Microsecond, []time.Duration{700 * time.Microsecond,
			500 * time.Microsecond, 300 * time.Microsecond, 100 * time.Microsecond}},
		{"clock stepped back 3 ms", -3 * time.Millisecond, 0, []time.Duration{3700 * time.Microsecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock(t0)
			clock.maxStep = tt.maxStep
			g := ulid.NewGenerator(ulid.GeneratorOptions{
				Clock:   clock.Now,
				Entropy: fillReader(0xFF), // the first ULID of each ms has no room left
				Sleep:   clock.Sleep,
			})
			first := mustNew(t, g)
			if len(clock.slept) != 0 {
				t.Fatalf("slept %v before any overflow", clock.slept)
			}
			clock.Set(t0.Add(tt.restart))
			second := mustNew(t, g)

			if !slices.Equal(clock.slept, tt.wantSleeps) {
				t.Errorf("slept %v, want %v", clock.slept, tt.wantSleeps)
			}
			if second.Compare(first) <= 0 {
				t.Errorf("%v is not after %v", second, first)
			}
			if second.Ms() != first.Ms()+1 {
				t.Errorf("second ULID time = %d, want %d", second.Ms(), first.Ms()+1)
			}
			if int64(second.Ms()) > clock.M() {
				t.Errorf("ULID time %d is after M = %d", second.Ms(), clock.M())
			}
		})
	}
}

// switchReader fails with err while err is set, else reads zeros.
type switchReader struct{ err error }

func (r *switchReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	clear(p)
	return len(p), nil
}

func TestEntropyErrorLeavesStateUnchanged(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(t0)
	entropy := &switchReader{}
	g := ulid.NewGenerator(ulid.GeneratorOptions{Clock: clock.Now, Entropy: entropy})
	first := mustNew(t, g)

	errBoom := errors.New("boom")
	tests := []struct {
		name string
		err  error
	}{
		{"reader error", errBoom},
		{"short read", io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		entropy.err = tt.err
		clock.Set(t0.Add(time.Millisecond)) // a new ms: needs fresh entropy
		id, err := g.New()
		if !errors.Is(err, tt.err) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.err)
		}
		if !id.IsZero() {
			t.Errorf("%s: returned %v with an error", tt.name, id)
		}
	}

	// Back in the first millisecond, the generator carries on from first,
	// as if the failed calls had not happened.
	entropy.err = nil
	clock.Set(t0)
	next := mustNew(t, g)
	if want := first.String()[:25] + "1"; next.String() != want {
		t.Errorf("after errors New = %v, want %v", next, want)
	}
}

func TestClockOutOfRange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		clock   time.Time
		wantErr error
	}{
		{"epoch", time.UnixMilli(0), nil},
		{"MaxTime", time.UnixMilli(int64(ulid.MaxTime)), nil},
		{"MaxTime+1", time.UnixMilli(int64(ulid.MaxTime) + 1), ulid.ErrBigTime},
		{"far future", time.Date(20000, 1, 1, 0, 0, 0, 0, time.UTC), ulid.ErrBigTime},
		{"before epoch", time.UnixMilli(-1), ulid.ErrNegativeTime},
		{"zero time.Time", time.Time{}, ulid.ErrNegativeTime},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := ulid.NewGenerator(ulid.GeneratorOptions{
				Clock:   func() time.Time { return tt.clock },
				Entropy: fillReader(0),
			})
			id, err := g.New()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("New: err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && int64(id.Ms()) != tt.clock.UnixMilli() {
				t.Errorf("ULID time = %d, want %d", id.Ms(), tt.clock.UnixMilli())
			}
		})
	}
}

func TestClockOutOfRangeAfterStart(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(t0)
	g := ulid.NewGenerator(ulid.GeneratorOptions{Clock: clock.Now, Entropy: fillReader(0)})
	first := mustNew(t, g)

	clock.Set(time.UnixMilli(int64(ulid.MaxTime) + 1))
	if _, err := g.New(); !errors.Is(err, ulid.ErrBigTime) {
		t.Fatalf("err = %v, want ErrBigTime", err)
	}
	// A clock stepped back before the epoch is just a step back (G3).
	clock.Set(time.UnixMilli(-5))
	id := mustNew(t, g)
	if id.Compare(first) <= 0 || id.Ms() != first.Ms() {
		t.Errorf("New = %v, want the successor of %v", id, first)
	}
}

func TestDefault(t *testing.T) {
	t.Parallel()
	if g1, g2 := ulid.Default(), ulid.Default(); g1 != g2 {
		t.Fatal("Default returned two different generators")
	}
	a, err := ulid.New()
	if err != nil {
		t.Fatal(err)
	}
	b := mustNew(t, ulid.Default())
	if b.Compare(a) <= 0 {
		t.Errorf("Default().New() = %v is not after New() = %v", b, a)
	}
}

func TestZeroGenerator(t *testing.T) {
	t.Parallel()
	var g ulid.Generator
	a, b := mustNew(t, &g), mustNew(t, &g)
	if b.Compare(a) <= 0 {
		t.Errorf("%v is not after %v", b, a)
	}
}

func BenchmarkNew(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ulid.New(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewParallel(b *testing.B) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := ulid.New(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
