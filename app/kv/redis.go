package kv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrRedisDown is what a call through Redis answers, at once, while the
// circuit breaker is open: the caller uses its fallback.
var ErrRedisDown = errors.New("redis unavailable (circuit open)")

// Redis defaults (RedisOptions).
const (
	DefaultRedisTimeout    = 200 * time.Millisecond
	DefaultRedisProbeEvery = 2 * time.Second
	defaultRedisThreshold  = 3
	purgeTimeout           = 30 * time.Second
)

// RedisOptions configure NewRedis; zero values take the defaults.
type RedisOptions struct {
	// Timeout bounds every call (and dial, read, write and pool wait) of
	// the client: Redis answers in a millisecond or is treated as down.
	Timeout time.Duration
	// ProbeEvery is how often a down Redis is probed (one PING).
	ProbeEvery time.Duration
	// Threshold is how many failed calls in a row open the breaker.
	Threshold int
	Log       *slog.Logger
	// OnFallback hears each call served by a fallback, by component
	// (storage, counter, rate_limiter, cache); OnState hears every change
	// of availability.
	OnFallback func(component string)
	OnState    func(up bool)
}

// Redis is the optional Redis client behind a circuit breaker. Every call
// goes through Call, with a short timeout; after Threshold failures in a
// row the breaker opens, and calls answer ErrRedisDown at once (the
// callers fall back: the database, this process's memory), so an outage
// costs a few timeouts instead of one per request. While it is open one
// goroutine (Run) probes with a PING every ProbeEvery; when Redis answers,
// the BeforeUp steps run (dropping copies a write may have missed) and
// only then does traffic return to Redis.
//
// A small breaker of our own rather than sony/gobreaker: gobreaker's
// half-open state lets real requests probe (each pays the timeout while
// Redis is still hung) and reports the change of state only after it has
// happened, so requests could read stale copies before the purge ran; it
// also has no way to open the breaker on purpose when a write reached the
// database but not Redis (Trip).
type Redis struct {
	Client *redis.Client
	opts   RedisOptions
	up     atomic.Bool
	fails  atomic.Int32

	mu       sync.Mutex
	beforeUp []func(context.Context) error
	runID    string // the Redis server's run_id last seen (a restart changes it)
}

// NewRedis builds the client for url (redis:// or rediss://) with short
// timeouts and no retries: a retry doubles the wait on a hung server and
// the breaker, not the client, decides when to try again. The breaker
// starts open; Start closes it once Redis answers.
func NewRedis(url string, o RedisOptions) (*Redis, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultRedisTimeout
	}
	if o.ProbeEvery <= 0 {
		o.ProbeEvery = DefaultRedisProbeEvery
	}
	if o.Threshold <= 0 {
		o.Threshold = defaultRedisThreshold
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	r := &Redis{opts: o}
	opts.MaxRetries = -1 // go-redis: 0 means its default of 3
	opts.DialTimeout = o.Timeout
	opts.ReadTimeout = o.Timeout
	opts.WriteTimeout = o.Timeout
	opts.PoolTimeout = o.Timeout
	opts.ContextTimeoutEnabled = true
	opts.OnConnect = r.onConnect
	r.Client = redis.NewClient(opts)
	return r, nil
}

// BeforeUp adds a step that must succeed, on every (re)connection to a
// Redis that was unavailable, before calls go to it again.
func (r *Redis) BeforeUp(step func(context.Context) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.beforeUp = append(r.beforeUp, step)
}

// Up reports whether calls go to Redis (the breaker is closed).
func (r *Redis) Up() bool { return r != nil && r.up.Load() }

// Fallback records that a call of component was served without Redis.
func (r *Redis) Fallback(component string) {
	if r.opts.OnFallback != nil {
		r.opts.OnFallback(component)
	}
}

// Call runs fn against Redis under the call timeout, unless the breaker is
// open (ErrRedisDown). A failure that says Redis is unreachable or hung
// counts towards opening the breaker; redis.Nil, a reply error and the
// caller's own cancellation do not.
func (r *Redis) Call(ctx context.Context, fn func(context.Context) error) error {
	if !r.up.Load() {
		return ErrRedisDown
	}
	cctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	err := fn(cctx)
	switch {
	case err == nil || errors.Is(err, redis.Nil):
		r.fails.Store(0)
	case ctx.Err() != nil:
		// The caller gave up: that says nothing about Redis.
	case isReplyError(err) && !unavailableReply(err):
		r.fails.Store(0)
	default:
		if int(r.fails.Add(1)) >= r.opts.Threshold {
			r.Trip(err)
		}
	}
	return err
}

// Trip opens the breaker now: Redis is failing, or a write reached the
// database but maybe not Redis, so its copy must not be read again before
// the BeforeUp steps have run.
func (r *Redis) Trip(cause error) {
	if r.up.CompareAndSwap(true, false) {
		r.opts.Log.Warn("redis unavailable: falling back to the database and memory until it answers again",
			"err", cause, "probe_every", r.opts.ProbeEvery.String())
		r.state(false)
	}
}

func (r *Redis) state(up bool) {
	if r.opts.OnState != nil {
		r.opts.OnState(up)
	}
}

// Start tries Redis once (a PING, then the BeforeUp steps: Tienda may have
// written to the database alone before this process started) and closes
// the breaker if that works. A Redis that does not answer is no reason
// not to start: Run keeps probing. ctx bounds the attempt.
func (r *Redis) Start(ctx context.Context) error {
	if err := r.probe(ctx); err != nil {
		r.opts.Log.Warn("redis unavailable at start: running on the database and memory until it answers", "err", err)
		return err
	}
	return nil
}

// Run probes a down Redis every ProbeEvery until ctx ends.
func (r *Redis) Run(ctx context.Context) {
	t := time.NewTicker(r.opts.ProbeEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !r.up.Load() {
			if err := r.probe(ctx); err != nil && ctx.Err() == nil {
				r.opts.Log.Debug("redis still unavailable", "err", err)
			}
		}
	}
}

// probe PINGs, runs the BeforeUp steps, then closes the breaker.
func (r *Redis) probe(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	err := r.Client.Ping(pctx).Err()
	cancel()
	if err != nil {
		return fmt.Errorf("redis ping: %w", err)
	}
	r.mu.Lock()
	steps := append([]func(context.Context) error(nil), r.beforeUp...)
	r.mu.Unlock()
	sctx, cancel := context.WithTimeout(ctx, purgeTimeout)
	defer cancel()
	for _, step := range steps {
		if err := step(sctx); err != nil {
			return fmt.Errorf("redis recovery: %w", err)
		}
	}
	r.fails.Store(0)
	if r.up.CompareAndSwap(false, true) {
		r.opts.Log.Info("redis available: using it again")
		r.state(true)
	}
	return nil
}

// onConnect notices a restarted Redis (its run_id changes): a server that
// came back from a snapshot holds copies older than the database, so the
// breaker opens until the BeforeUp steps have dropped them. (A restart
// within the probe interval would otherwise go unnoticed: the pool just
// reconnects.)
func (r *Redis) onConnect(ctx context.Context, cn *redis.Conn) error {
	info, err := cn.Info(ctx, "server").Result()
	if err != nil {
		// The command that dialled meets the same failure and reports it.
		return nil
	}
	id := ""
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "run_id:"); ok {
			id = v
		}
	}
	r.mu.Lock()
	prev := r.runID
	r.runID = id
	r.mu.Unlock()
	if prev != "" && id != "" && prev != id {
		r.Trip(errors.New("redis restarted (new run_id)"))
	}
	return nil
}

// isReplyError: Redis answered, with an error (WRONGTYPE, NOSCRIPT...).
func isReplyError(err error) bool {
	var re redis.Error
	return errors.As(err, &re)
}

// unavailableReply: a reply that means "not serving now".
func unavailableReply(err error) bool {
	msg := err.Error()
	for _, p := range []string{"LOADING", "READONLY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "BUSY"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// Close closes the client.
func (r *Redis) Close() error { return r.Client.Close() }

// CachedStorage is a fiber.Storage in the database with a copy in Redis in
// front of it (Django's cached_db sessions): writes go to the database,
// then to Redis; reads try Redis, then the database, and put the value
// back into Redis. The database is the truth, so a Redis restart or FLUSH
// loses nothing, and while Redis is down everything works from the
// database alone. A write that reached the database but not Redis opens
// the breaker, and every return of Redis first drops every copy under the
// prefix (Purge), so no copy older than the database is ever read.
type CachedStorage struct {
	db     *SQLStorage
	redis  *Redis
	prefix string
}

// NewCachedStorage keeps the copies under prefix in Redis, and registers
// their purge as a BeforeUp step of r.
func NewCachedStorage(db *SQLStorage, r *Redis, prefix string) *CachedStorage {
	s := &CachedStorage{db: db, redis: r, prefix: prefix}
	r.BeforeUp(s.Purge)
	return s
}

// tombstoneTTL keeps a deleted key's empty marker in Redis, so that a
// reader that missed the cache just before the delete cannot put the old
// value back.
const tombstoneTTL = time.Minute

// Get reads Redis, then the database (and copies the value into Redis
// unless a newer write got there first).
func (s *CachedStorage) Get(key string) ([]byte, error) {
	ctx := context.Background()
	var val []byte
	err := s.redis.Call(ctx, func(ctx context.Context) error {
		var err error
		val, err = s.redis.Client.Get(ctx, s.prefix+key).Bytes()
		return err
	})
	switch {
	case err == nil && len(val) == 0:
		return nil, nil // a tombstone: deleted
	case err == nil:
		return val, nil
	case errors.Is(err, redis.Nil):
	default:
		s.redis.Fallback("storage")
	}
	val, exp, err := s.db.get(key)
	if err != nil || val == nil {
		return val, err
	}
	var ttl time.Duration
	if exp > 0 {
		if ttl = time.Until(time.Unix(exp, 0)); ttl <= 0 {
			return val, nil
		}
	}
	// SETNX: a write that landed meanwhile wins. A failure only costs the copy.
	_ = s.redis.Call(ctx, func(ctx context.Context) error {
		return s.redis.Client.SetNX(ctx, s.prefix+key, val, ttl).Err()
	})
	return val, nil
}

// Set writes the database, then Redis.
func (s *CachedStorage) Set(key string, val []byte, exp time.Duration) error {
	if key == "" || len(val) == 0 {
		return nil
	}
	if err := s.db.Set(key, val, exp); err != nil {
		return err
	}
	s.mirror(func(ctx context.Context) error {
		return s.redis.Client.Set(ctx, s.prefix+key, val, exp).Err()
	})
	return nil
}

// Delete deletes from the database, then leaves a tombstone in Redis.
func (s *CachedStorage) Delete(key string) error {
	if err := s.db.Delete(key); err != nil {
		return err
	}
	s.mirror(func(ctx context.Context) error {
		return s.redis.Client.Set(ctx, s.prefix+key, []byte{}, tombstoneTTL).Err()
	})
	return nil
}

// mirror applies a write that the database has taken to Redis. If Redis
// may have missed it, its copy is stale: the breaker opens, and the purge
// runs before Redis is read again.
func (s *CachedStorage) mirror(write func(context.Context) error) {
	err := s.redis.Call(context.Background(), write)
	switch {
	case err == nil:
	case errors.Is(err, ErrRedisDown):
		s.redis.Fallback("storage")
	default:
		s.redis.Fallback("storage")
		s.redis.Trip(fmt.Errorf("a write reached the database but maybe not Redis: %w", err))
	}
}

// Reset removes every key from both.
func (s *CachedStorage) Reset() error {
	if err := s.db.Reset(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), purgeTimeout)
	defer cancel()
	if err := s.Purge(ctx); err != nil {
		s.redis.Trip(err)
	}
	return nil
}

// Purge drops every copy under the prefix from Redis (never other keys).
func (s *CachedStorage) Purge(ctx context.Context) error {
	iter := s.redis.Client.Scan(ctx, 0, s.prefix+"*", 1000).Iterator()
	batch := make([]string, 0, 1000)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := s.redis.Client.Unlink(ctx, batch...).Err()
		batch = batch[:0]
		if err != nil {
			return fmt.Errorf("purge %s*: %w", s.prefix, err)
		}
		return nil
	}
	for iter.Next(ctx) {
		if batch = append(batch, iter.Val()); len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("purge %s*: %w", s.prefix, err)
	}
	return flush()
}

// Close does nothing: the database and the client belong to the server.
func (s *CachedStorage) Close() error { return nil }
