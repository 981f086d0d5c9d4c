package stack

import (
	"context"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"tienda/app/config"
	"tienda/app/obs"
	"tienda/app/web"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"
)

// Decision is the answer of a limiter for one request.
type Decision struct {
	Allowed    bool
	Limit      int
	Remaining  int
	Reset      time.Duration // until the client has its full allowance again
	RetryAfter time.Duration // when refused: until the next request may pass
}

// Limiter takes one request of key out of the allowance r.
type Limiter interface {
	Allow(ctx context.Context, key string, r config.Rate) (Decision, error)
}

// memoryLimiter is a token bucket per key, in this process: the default
// when no REDIS_URL is set. Buckets refill continuously at N per Window
// and hold at most N tokens; full buckets are forgotten by sweep.
type memoryLimiter struct {
	seed   maphash.Seed
	shards [32]limiterShard
	now    func() time.Time
}

type limiterShard struct {
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
	full   time.Time // when the bucket will be full again (sweep forgets it then)
}

// NewMemoryLimiter is the limiter of one process (no REDIS_URL); Run
// sweeps it.
func NewMemoryLimiter() *memoryLimiter {
	m := &memoryLimiter{seed: maphash.MakeSeed(), now: time.Now}
	for i := range m.shards {
		m.shards[i].buckets = map[string]*bucket{}
	}
	return m
}

func (m *memoryLimiter) Allow(_ context.Context, key string, r config.Rate) (Decision, error) {
	sh := &m.shards[maphash.String(m.seed, key)%uint64(len(m.shards))]
	now := m.now()
	perSec := float64(r.N) / r.Window.Seconds()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	b, ok := sh.buckets[key]
	if !ok {
		b = &bucket{tokens: float64(r.N), last: now}
		sh.buckets[key] = b
	}
	b.tokens = math.Min(float64(r.N), b.tokens+now.Sub(b.last).Seconds()*perSec)
	b.last = now
	d := Decision{Limit: r.N}
	if b.tokens >= 1 {
		b.tokens--
		d.Allowed = true
	} else {
		d.RetryAfter = time.Duration((1 - b.tokens) / perSec * float64(time.Second))
	}
	d.Remaining = int(b.tokens)
	d.Reset = time.Duration((float64(r.N) - b.tokens) / perSec * float64(time.Second))
	b.full = now.Add(d.Reset)
	return d, nil
}

// sweep forgets buckets that are full again (they behave like new ones).
func (m *memoryLimiter) sweep() {
	now := m.now()
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		for k, b := range sh.buckets {
			if !now.Before(b.full) {
				delete(sh.buckets, k)
			}
		}
		sh.mu.Unlock()
	}
}

// Run forgets full buckets every interval until ctx ends.
func (m *memoryLimiter) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.sweep()
		}
	}
}

// redisLimiter is a sliding window log in Redis, shared by every
// instance. One Lua script trims the window, counts and adds the request
// atomically, on Redis's own clock, so concurrent requests on several
// instances can never pass more than N in any window.
type redisLimiter struct {
	c      redis.UniversalClient
	prefix string
}

var slidingWindow = redis.NewScript(`
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local n = redis.call('ZCARD', key)
local allowed = 0
if n < limit then
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, window)
  n = n + 1
  allowed = 1
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
local reset = window
if oldest[2] then reset = tonumber(oldest[2]) + window - now end
return {allowed, limit - n, reset}`)

func (l *redisLimiter) Allow(ctx context.Context, key string, r config.Rate) (Decision, error) {
	res, err := slidingWindow.Run(ctx, l.c, []string{l.prefix + key}, r.N, r.Window.Milliseconds(), web.NewID()).Int64Slice()
	if err != nil || len(res) != 3 {
		return Decision{}, fmt.Errorf("redis rate limit: %w", err)
	}
	d := Decision{Allowed: res[0] == 1, Limit: r.N, Remaining: int(res[1]), Reset: time.Duration(res[2]) * time.Millisecond}
	if !d.Allowed {
		d.RetryAfter = d.Reset
	}
	return d, nil
}

// NewRedisLimiter is the limiter shared by every instance through Redis.
func NewRedisLimiter(c redis.UniversalClient, prefix string) Limiter {
	return &redisLimiter{c: c, prefix: prefix}
}

// Limit classes.
const (
	classAuth  = "auth"
	classWrite = "write"
	classRead  = "read"
)

// limitClass sorts a request into its limit: sign-in endpoints, writes,
// reads. Operational endpoints and CORS preflights are not limited.
func limitClass(c *fiber.Ctx) string {
	p := c.Path()
	if web.IsOpsPath(p) || c.Method() == fiber.MethodOptions {
		return ""
	}
	if strings.HasPrefix(p, "/api/v1/auth/") || (p == "/admin/login" && c.Method() == fiber.MethodPost) {
		return classAuth
	}
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead:
		return classRead
	}
	return classWrite
}

// RateLimit is the rate limiting layer's dependencies.
type RateLimit struct {
	Limiter Limiter
	Rates   config.ProdConfig
	Metrics *obs.Metrics
	Log     *slog.Logger
	// Client names the client a request is counted against (the user of a
	// valid token, a valid API key, else the client's address); class is
	// the request's limit class.
	Client func(c *fiber.Ctx, class string) string
}

func (l *RateLimit) rateFor(class string) config.Rate {
	switch class {
	case classAuth:
		return l.Rates.RateAuth
	case classWrite:
		return l.Rates.RateWrite
	}
	return l.Rates.RateRead
}

// Handler is the rate limiting layer: RateLimit-* headers on every
// limited response, 429 RATE_LIMITED with Retry-After when the allowance
// is spent. A store outage lets requests through (logged and counted):
// refusing every request would turn a Redis hiccup into an outage.
func (l *RateLimit) Handler(c *fiber.Ctx) error {
	class := limitClass(c)
	if class == "" {
		return c.Next()
	}
	r := l.rateFor(class)
	if r.Off() {
		return c.Next()
	}
	key := class + ":" + l.Client(c, class)
	d, err := l.Limiter.Allow(c.UserContext(), key, r)
	if err != nil {
		web.Log(c, l.Log).WarnContext(c.UserContext(), "rate limiter unavailable", "err", err)
		l.Metrics.Refused("rate_limiter_unavailable")
		return c.Next()
	}
	reset := int(math.Ceil(d.Reset.Seconds()))
	c.Set("RateLimit-Limit", strconv.Itoa(d.Limit))
	c.Set("RateLimit-Remaining", strconv.Itoa(max(d.Remaining, 0)))
	c.Set("RateLimit-Reset", strconv.Itoa(reset))
	c.Set("RateLimit-Policy", strconv.Itoa(r.N)+";w="+strconv.Itoa(int(math.Ceil(r.Window.Seconds()))))
	if !d.Allowed {
		l.Metrics.Limited(class)
		retry := max(int(math.Ceil(d.RetryAfter.Seconds())), 1)
		return &web.Error{Status: 429, Code: web.CodeRateLimited, Message: "Too many requests. Slow down and retry later.",
			Detail: "Retry in " + strconv.Itoa(retry) + " s.", Headers: map[string]string{fiber.HeaderRetryAfter: strconv.Itoa(retry)}}
	}
	return c.Next()
}
