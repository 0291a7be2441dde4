package strongdm

import (
	"context"
	"testing"
	"time"
)

// A run far larger than the budget goes at the budget's pace and never asks
// for more than a bucket of strongDM's shape (full at the start, refilled
// continuously) would allow.
func TestBucketPace(t *testing.T) {
	const perMinute, calls = 450, 1000
	b := newBucket(perMinute)
	now := time.Date(2026, 3, 8, 9, 0, 0, 0, time.UTC)
	start := now
	sleep := func(_ context.Context, d time.Duration) error { now = now.Add(d); return nil }
	var at []time.Time
	for range calls {
		if err := b.wait(context.Background(), func() time.Time { return now }, sleep); err != nil {
			t.Fatal(err)
		}
		at = append(at, now)
	}

	// The first bucketful goes at once, the rest at perMinute a minute.
	if got := at[perMinute-1].Sub(start); got != 0 {
		t.Errorf("call %d waited %s, want no wait while the bucket is full", perMinute, got)
	}
	want := (calls - perMinute) * time.Minute / perMinute
	if got := at[calls-1].Sub(start); got < want || got > want+time.Second {
		t.Errorf("%d calls took %s, want %s", calls, got, want)
	}
	// Between any two calls, no more were sent than the bucket held plus
	// what it refilled meanwhile.
	for i := range at {
		for j := i; j < len(at); j++ {
			allowed := perMinute + at[j].Sub(at[i]).Minutes()*perMinute
			if n := float64(j - i + 1); n > allowed+1e-6 {
				t.Fatalf("calls %d..%d: %v calls in %s, more than %v", i, j, n, at[j].Sub(at[i]), allowed)
			}
		}
	}
}

// Time spent idle refills the bucket, never beyond full.
func TestBucketRefill(t *testing.T) {
	b := newBucket(60) // one a second
	t0 := time.Date(2026, 3, 8, 9, 0, 0, 0, time.UTC)
	for range 60 {
		if d := b.reserve(t0); d != 0 {
			t.Fatalf("wait %s with tokens left", d)
		}
	}
	if d := b.reserve(t0); d != time.Second {
		t.Errorf("empty bucket: wait %s, want 1s", d)
	}
	// An hour later the bucket is full again, not fuller.
	t1 := t0.Add(time.Hour)
	for i := range 60 {
		if d := b.reserve(t1); d != 0 {
			t.Fatalf("call %d after an hour: wait %s", i, d)
		}
	}
	if d := b.reserve(t1); d == 0 {
		t.Error("the bucket held more than its size after an hour idle")
	}
}
