package app

import (
	"context"
	"sync"
	"time"
)

// coalescer answers identical requests that arrive while one is being
// answered with a single fresh answer. A request never gets an answer
// computed before it arrived: the one that finds its key in flight waits
// for the next run, which starts when the current one ends and serves
// every request that arrived meanwhile. Under load, 32 clients asking for
// the same list page cost one query per round instead of 32
// (docs/benchmarks.md); alone, a request runs at once.
type coalescer struct {
	mu      sync.Mutex
	flights map[string]*flight
}

// flight is a key whose answer is being computed; next gathers the
// requests that arrived since.
type flight struct{ next *round }

// round is one run shared by the requests that wait for it.
type round struct {
	done chan struct{}
	val  []byte
	err  error
	// ctx gives the run its values (correlation id); the run may last
	// until the latest deadline of its requests (none if one has none).
	ctx        context.Context
	deadline   time.Time
	noDeadline bool
}

func newCoalescer() *coalescer { return &coalescer{flights: map[string]*flight{}} }

// do returns fn's answer for key, computed by this request or shared with
// identical ones. fn must depend only on key and on its context's values.
func (g *coalescer) do(ctx context.Context, key string, fn func(context.Context) ([]byte, error)) ([]byte, error) {
	g.mu.Lock()
	if f, ok := g.flights[key]; ok {
		r := f.next
		if r == nil {
			r = &round{done: make(chan struct{}), ctx: ctx}
			f.next = r
		}
		if d, ok := ctx.Deadline(); !ok {
			r.noDeadline = true
		} else if d.After(r.deadline) {
			r.deadline = d
		}
		g.mu.Unlock()
		select {
		case <-r.done:
			return r.val, r.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f := &flight{}
	g.flights[key] = f
	g.mu.Unlock()
	val, err := fn(ctx)
	g.next(key, f, fn)
	return val, err
}

// next runs the round that gathered while f's last run ran, if any, in a
// goroutine of its own (the request that ran the last one has its answer
// and goes); otherwise the key is no longer in flight.
func (g *coalescer) next(key string, f *flight, fn func(context.Context) ([]byte, error)) {
	g.mu.Lock()
	r := f.next
	if r == nil {
		delete(g.flights, key)
		g.mu.Unlock()
		return
	}
	f.next = nil
	base := context.WithoutCancel(r.ctx)
	var ctx context.Context
	var cancel context.CancelFunc
	if r.noDeadline {
		ctx, cancel = context.WithCancel(base)
	} else {
		ctx, cancel = context.WithDeadline(base, r.deadline)
	}
	g.mu.Unlock()
	go func() {
		r.val, r.err = fn(ctx)
		cancel()
		close(r.done)
		g.next(key, f, fn)
	}()
}
