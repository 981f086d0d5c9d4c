package models

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Creates of a direct model on PostgreSQL that arrive while earlier ones
// are being written share one statement (insertWithHistory). A statement
// costs PostgreSQL about as much for eight rows as for one: on the
// products schema pgbench wrote 3,700 single-row creates/s from 32
// clients and 13,500 rows/s as 8-row statements from 4 (docs/benchmarks.md).
// Nothing waits to fill a batch: a create that finds no batch in flight
// is written at once, alone, so a quiet server answers as fast as before.

const (
	// maxBatchRows bounds one statement (17 bind variables a product row,
	// far under PostgreSQL's 65,535).
	maxBatchRows = 64
	// maxBatchesInFlight is how many statements of one queue may run at
	// once. One makes the biggest batches, hence the fewest round trips:
	// with the peers' wrk script (32 connections, 2 vCPUs) details went from
	// 10.5-10.8k/s with 8 in flight, 12.6-13.1k with 4 and 11.5-15.9k with
	// 2 to 16.6-17.4k with 1, and their p99 from 11 to 6.5 ms; creates
	// from 2.9-3.2k/s (8) to 5.6-5.8k (1). A slow statement holds up the
	// others of its model, as any statement would under a table lock.
	maxBatchesInFlight = 1
)

// waiter is a request in a queue: its caller's context, and where its
// answer goes.
type waiter struct {
	ctx  context.Context
	done chan error
}

func newWaiter(ctx context.Context) waiter { return waiter{ctx: ctx, done: make(chan error, 1)} }

func (w *waiter) waiting() *waiter { return w }

// queued is what a queue holds.
type queued interface{ waiting() *waiter }

// stillWaiting answers the requests of batch whose callers have given up
// with their context's error, and returns the others.
func stillWaiting[R queued](batch []R) []R {
	live := make([]R, 0, len(batch))
	for _, r := range batch {
		w := r.waiting()
		if err := w.ctx.Err(); err != nil {
			w.done <- err
			continue
		}
		live = append(live, r)
	}
	return live
}

// createReq is one record waiting for its create.
type createReq struct {
	waiter
	rec   Entity
	entry HistoryEntry
	now   time.Time
}

// queue gathers the requests that arrive while earlier ones are served,
// for up to maxBatchesInFlight goroutines that serve them a batch at a time.
type queue[R any] struct {
	mu      sync.Mutex
	pending []R
	running int
	serving int // requests taken from pending and not answered yet
}

// add queues r, and starts a goroutine to serve the queue with serve
// unless enough are running already.
func (q *queue[R]) add(r R, serve func([]R)) {
	q.mu.Lock()
	q.pending = append(q.pending, r)
	start := q.running < maxBatchesInFlight
	if start {
		q.running++
	}
	q.mu.Unlock()
	if start {
		go q.drain(serve)
	}
}

// drain serves what is queued, a batch at a time, until the queue is empty.
func (q *queue[R]) drain(serve func([]R)) {
	q.mu.Lock()
	for {
		n := min(len(q.pending), maxBatchRows)
		if n == 0 {
			q.running--
			q.mu.Unlock()
			return
		}
		batch := make([]R, n)
		copy(batch, q.pending)
		q.pending = append(q.pending[:0], q.pending[n:]...)
		q.serving += n
		q.mu.Unlock()
		serve(batch)
		q.mu.Lock()
		q.serving -= n
	}
}

// size is how many requests wait for a batch, and how many are in the
// one being served.
func (q *queue[R]) size() (waiting, serving int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending), q.serving
}

// queueOf is the queue of model t in m, made on first use.
func queueOf[R any](m *sync.Map, t reflect.Type) *queue[R] {
	v, _ := m.LoadOrStore(t, &queue[R]{})
	return v.(*queue[R])
}

// span starts the tracing span of a statement the store runs without
// GORM (a no-op without tracing).
func (s *Store) span(ctx context.Context) (context.Context, func(error)) {
	if s.Span == nil {
		return ctx, func(error) {}
	}
	return s.Span(ctx, "db.query")
}

// createBatched creates rec, and its history entry, in a statement it may
// share with other creates of the same model.
func (s *Store) createBatched(ctx context.Context, rec Entity, now time.Time) (err error) {
	e, err := newHistoryEntry(ctx, rec, "create", nil, rec)
	if err != nil {
		return err
	}
	ctx, end := s.span(ctx)
	defer func() { end(err) }()
	req := &createReq{waiter: newWaiter(ctx), rec: rec, entry: e, now: now}
	queueOf[*createReq](&s.creates, reflect.TypeOf(rec)).add(req, s.writeBatch)
	return <-req.done
}

// writeBatch answers every request of batch. A request whose caller has
// given up is left out. When PostgreSQL refuses the shared statement (one
// record it refuses fails them all), each record is written alone, so
// that only the refused one fails, with its own error. Any other failure
// (a lost connection, a timeout) is every record's answer: the statement
// may have committed, and writing the records again could store them twice.
func (s *Store) writeBatch(batch []*createReq) {
	live := stillWaiting(batch)
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
		if refused(err) {
			r.done <- s.insertWithHistory(r.ctx, []*createReq{r})
			continue
		}
		r.done <- err
	}
}

// refused reports whether err is PostgreSQL's answer that it did not run
// a statement (so nothing of it was committed).
func refused(err error) bool {
	var pgErr *pgconn.PgError
	var conflict *ConflictError
	return errors.As(err, &pgErr) || errors.As(err, &conflict)
}

// batchContext is the context of a shared statement: no one caller's
// cancellation stops the others' records, and its deadline is the latest
// of theirs (none if one of them has none). Its values (correlation id
// for the query log) are the first request's.
func batchContext[R queued](reqs []R) (context.Context, context.CancelFunc) {
	ctx := context.WithoutCancel(reqs[0].waiting().ctx)
	var latest time.Time
	for _, r := range reqs {
		d, ok := r.waiting().ctx.Deadline()
		if !ok {
			return context.WithCancel(ctx)
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(ctx, latest)
}
