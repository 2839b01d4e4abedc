package jetstream

import (
	"math/rand/v2"
	"time"
)

// Backoff is the schedule of pauses after failed passes.
//
// After the n-th consecutive failure (n >= 1) the forwarder waits a random
// duration in [d/2, d], where d = min(Max, Min·2^(n-1)). The random half
// ("equal jitter") keeps many producer hosts that lost the same server from
// coming back in lock step, while the fixed half keeps the pause growing.
// The count of consecutive failures resets at the first acknowledged
// publish.
type Backoff struct {
	// Min is the upper end of the first pause. Zero means 100ms.
	Min time.Duration
	// Max caps every pause. Zero means 30s.
	Max time.Duration
}

// Defaults of Backoff.
const (
	DefaultBackoffMin = 100 * time.Millisecond
	DefaultBackoffMax = 30 * time.Second
)

func (b Backoff) withDefaults() Backoff {
	if b.Min <= 0 {
		b.Min = DefaultBackoffMin
	}
	if b.Max <= 0 {
		b.Max = DefaultBackoffMax
	}
	if b.Max < b.Min {
		b.Max = b.Min
	}
	return b
}

// Ceiling returns d, the upper end of the pause after the n-th consecutive
// failure; n < 1 counts as 1.
func (b Backoff) Ceiling(n int) time.Duration {
	b = b.withDefaults()
	d := b.Min
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2 // cannot overflow: d < Max before doubling
	}
	return min(d, b.Max)
}

// Delay returns the pause after the n-th consecutive failure, drawn from
// [Ceiling(n)/2, Ceiling(n)] by r, a number in [0, 1) (r outside that range
// is clamped). Delay(n, rand.Float64()) is what the forwarder waits.
func (b Backoff) Delay(n int, r float64) time.Duration {
	d := b.Ceiling(n)
	r = min(max(r, 0), 1)
	return d/2 + time.Duration(r*float64(d-d/2))
}

func (b Backoff) next(n int) time.Duration { return b.Delay(n, rand.Float64()) }
