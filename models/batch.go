package models

import (
	"context"
	"reflect"
	"sync"
	"time"
)

// Creates of a direct model on PostgreSQL that arrive while earlier ones
// are being written share one statement (insertWithHistory). A statement
// costs PostgreSQL about as much for eight rows as for one: on the
// products schema pgbench wrote 3,700 single-row creates/s from 32
// clients and 13,500 rows/s as 8-row statements from 4 (docs/benchmarks.md).
// Nothing waits to fill a batch: a create that finds no batch in flight
// is written at once, alone, so a quiet server answers as fast as before.

const (
	// maxBatchRows bounds one statement (19 bind variables a product row).
	maxBatchRows = 64
	// maxBatchesInFlight is how many statements of one model may run at
	// once, each on its own pooled connection.
	maxBatchesInFlight = 4
)

// createReq is one record waiting for its create.
type createReq struct {
	ctx   context.Context
	rec   Entity
	entry HistoryEntry
	now   time.Time
	done  chan error
}

// createBatcher queues the creates of one model.
type createBatcher struct {
	mu      sync.Mutex
	pending []*createReq
	running int // goroutines writing batches, at most maxBatchesInFlight
}

// createBatched creates rec, and its history entry, in a statement it may
// share with other creates of the same model.
func (s *Store) createBatched(ctx context.Context, rec Entity, now time.Time) (err error) {
	e, err := newHistoryEntry(ctx, rec, "create", nil, rec)
	if err != nil {
		return err
	}
	if s.Span != nil {
		var end func(error)
		ctx, end = s.Span(ctx, "db.query")
		defer func() { end(err) }()
	}
	req := &createReq{ctx: ctx, rec: rec, entry: e, now: now, done: make(chan error, 1)}
	v, _ := s.batchers.LoadOrStore(reflect.TypeOf(rec), &createBatcher{})
	b := v.(*createBatcher)
	b.mu.Lock()
	b.pending = append(b.pending, req)
	start := b.running < maxBatchesInFlight
	if start {
		b.running++
	}
	b.mu.Unlock()
	if start {
		go s.writeBatches(b)
	}
	return <-req.done
}

// writeBatches writes what is queued, a batch at a time, until the queue
// is empty.
func (s *Store) writeBatches(b *createBatcher) {
	for {
		b.mu.Lock()
		n := min(len(b.pending), maxBatchRows)
		if n == 0 {
			b.running--
			b.mu.Unlock()
			return
		}
		batch := make([]*createReq, n)
		copy(batch, b.pending)
		b.pending = append(b.pending[:0], b.pending[n:]...)
		b.mu.Unlock()
		s.writeBatch(batch)
	}
}

// writeBatch answers every request of batch. A request whose caller has
// given up is left out; when the shared statement fails (one record the
// database refuses fails them all), each record is written alone, so
// that only the refused one fails, with its own error.
func (s *Store) writeBatch(batch []*createReq) {
	live := make([]*createReq, 0, len(batch))
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- err
			continue
		}
		live = append(live, r)
	}
	switch len(live) {
	case 0:
		return
	case 1:
		live[0].done <- s.insertWithHistory(live[0].ctx, live)
		return
	}
	ctx, cancel := batchContext(live)
	err := s.insertWithHistory(ctx, live)
	cancel()
	for _, r := range live {
		if err != nil {
			r.done <- s.insertWithHistory(r.ctx, []*createReq{r})
			continue
		}
		r.done <- nil
	}
}

// batchContext is the context of a shared statement: no one caller's
// cancellation stops the others' records, and its deadline is the latest
// of theirs (none if one of them has none). Its values (correlation id
// for the query log) are the first request's.
func batchContext(reqs []*createReq) (context.Context, context.CancelFunc) {
	ctx := context.WithoutCancel(reqs[0].ctx)
	var latest time.Time
	for _, r := range reqs {
		d, ok := r.ctx.Deadline()
		if !ok {
			return context.WithCancel(ctx)
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(ctx, latest)
}
