package strongdm

import (
	"context"
	"math"
	"sync"
	"time"
)

// strongDM's documented budgets are 5,000 reads and 500 writes a minute per
// API key, refilled continuously (WIRE.md, "Rate limiting"). The client
// keeps a tenth in reserve for other users of the key and for attempts
// already in flight.
const (
	defaultReadsPerMinute  = 4500
	defaultWritesPerMinute = 450
)

// bucket paces calls with a token bucket of the same shape as strongDM's
// own: it starts full with perMinute tokens and refills continuously at
// perMinute a minute. As long as strongDM's bucket for the key is full when
// a run starts, ours empties first, so the client waits instead of being
// refused. A caller that finds the bucket empty reserves the next token and
// sleeps until it is due, so concurrent callers queue in order.
type bucket struct {
	size float64 // tokens when full
	rate float64 // tokens per second

	mu      sync.Mutex
	tokens  float64 // may go negative: reserved by sleeping callers
	last    time.Time
	started bool
}

func newBucket(perMinute int) *bucket {
	return &bucket{size: float64(perMinute), rate: float64(perMinute) / 60}
}

// reserve takes a token at time t and returns how long the caller must wait
// before using it.
func (b *bucket) reserve(t time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.started {
		b.tokens, b.last, b.started = b.size, t, true
	}
	// A clock that goes back (a test's) refills nothing.
	if t.After(b.last) {
		b.tokens = min(b.size, b.tokens+t.Sub(b.last).Seconds()*b.rate)
		b.last = t
	}
	b.tokens--
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(math.Ceil(-b.tokens / b.rate * float64(time.Second)))
}

// wait blocks, through sleep, until the caller may send one call.
func (b *bucket) wait(ctx context.Context, now func() time.Time, sleep func(context.Context, time.Duration) error) error {
	d := b.reserve(now())
	if d <= 0 {
		return nil
	}
	return sleep(ctx, d)
}
