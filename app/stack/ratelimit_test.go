package stack

import (
	"context"
	"testing"
	"time"

	"tienda/app/config"
)

func TestMemoryTokenBucket(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	m := NewMemoryLimiter()
	m.now = func() time.Time { return now }
	r := config.Rate{N: 3, Window: 3 * time.Second} // one token a second
	steps := []struct {
		advance   time.Duration
		allowed   bool
		remaining int
	}{
		{0, true, 2},
		{0, true, 1},
		{0, true, 0},
		{0, false, 0},
		{500 * time.Millisecond, false, 0}, // half a token
		{500 * time.Millisecond, true, 0},  // one token refilled
		{10 * time.Second, true, 2},        // never more than N
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		d, err := m.Allow(context.Background(), "k", r)
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed != s.allowed || d.Remaining != s.remaining {
			t.Fatalf("step %d: %+v, want allowed %v remaining %d", i, d, s.allowed, s.remaining)
		}
		if !d.Allowed && (d.RetryAfter <= 0 || d.RetryAfter > time.Second) {
			t.Fatalf("step %d: retry after %v", i, d.RetryAfter)
		}
	}
	// Keys are independent, and full buckets are forgotten by sweep.
	if d, _ := m.Allow(context.Background(), "other", r); !d.Allowed || d.Remaining != 2 {
		t.Fatalf("other key: %+v", d)
	}
	now = now.Add(time.Hour)
	m.sweep()
	n := 0
	for i := range m.shards {
		n += len(m.shards[i].buckets)
	}
	if n != 0 {
		t.Fatalf("%d buckets left after sweep", n)
	}
}
