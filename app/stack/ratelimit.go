package stack

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/gofiber/fiber/v2"

	"tienda/app/config"
	"tienda/app/kv"
	"tienda/app/obs"
	"tienda/app/web"
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

// redisLimiter is GCRA in Redis (go-redis/redis_rate), shared by every
// instance: one script decides atomically on Redis's clock, so concurrent
// requests on several instances never pass more than N per window. While
// Redis is unavailable (its breaker open, or a call failing) the fallback
// decides instead: this process's own limiter, so each instance then
// allows up to N per window on its own, and no request waits for Redis.
type redisLimiter struct {
	l        *redis_rate.Limiter
	redis    *kv.Redis
	prefix   string
	fallback Limiter
}

// NewRedisLimiter is the limiter shared by every instance through Redis,
// with fallback (NewMemoryLimiter) while Redis is unavailable.
func NewRedisLimiter(r *kv.Redis, prefix string, fallback Limiter) Limiter {
	return &redisLimiter{l: redis_rate.NewLimiter(r.Client), redis: r, prefix: prefix, fallback: fallback}
}

func (l *redisLimiter) Allow(ctx context.Context, key string, r config.Rate) (Decision, error) {
	var res *redis_rate.Result
	err := l.redis.Call(ctx, func(ctx context.Context) error {
		var err error
		res, err = l.l.Allow(ctx, l.prefix+key, redis_rate.Limit{Rate: r.N, Burst: r.N, Period: r.Window})
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return Decision{}, fmt.Errorf("redis rate limit: %w", err)
		}
		l.redis.Fallback("rate_limiter")
		return l.fallback.Allow(ctx, key, r)
	}
	d := Decision{Allowed: res.Allowed > 0, Limit: r.N, Remaining: res.Remaining, Reset: res.ResetAfter}
	if !d.Allowed {
		d.RetryAfter = res.RetryAfter
	}
	return d, nil
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

// limiterTimeout bounds one limiter call: a slow store must not slow every
// request down (the request then passes, see take).
const limiterTimeout = 250 * time.Millisecond

// RateLimit is the two rate limiting layers: Anonymous, by client address
// before authentication, and PerPrincipal, by user or API key after it.
// Each request is counted once, by the layer that knows who it is.
type RateLimit struct {
	Limiter Limiter
	Rates   config.ProdConfig
	Proxies web.Proxies
	Metrics *obs.Metrics
	Log     *slog.Logger
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

// hasCredentials is true when the request carries a bearer token or an
// API key: it is counted by PerPrincipal once they are verified.
func hasCredentials(c *fiber.Ctx) bool {
	return len(c.Request().Header.Peek(fiber.HeaderAuthorization)) > 0 || len(c.Request().Header.Peek(web.HeaderAPIKey)) > 0
}

// Anonymous is layer (5a): a cheap limit by client address (X-Forwarded-For
// only from TRUSTED_PROXIES, right-most untrusted entry) for requests
// without credentials and for the sign-in endpoints. A request with
// credentials that did not authenticate it (a 401 from the authentication
// layers, or a public route) is counted against its address afterwards,
// and answered 429 once the address's allowance is spent, so inventing
// tokens or keys never buys a fresh allowance.
func (l *RateLimit) Anonymous(c *fiber.Ctx) error {
	class := limitClass(c)
	if class == "" {
		return c.Next()
	}
	key := class + ":ip:" + l.Proxies.ClientIP(c)
	if class == classAuth || !hasCredentials(c) {
		if err := l.take(c, class, key); err != nil {
			return err
		}
		return c.Next()
	}
	err := c.Next()
	if web.PrincipalOf(c) == nil {
		if refused := l.take(c, class, key); refused != nil {
			return refused
		}
	}
	return err
}

// PerPrincipal is layer (5b), after authentication: the allowance of the
// user (a JWT or a session) or of the API key the request authenticated as.
func (l *RateLimit) PerPrincipal(c *fiber.Ctx) error {
	class := limitClass(c)
	p := web.PrincipalOf(c)
	if class == "" || class == classAuth || p == nil {
		return c.Next()
	}
	who := "user:" + strconv.FormatInt(p.UserID, 10)
	if p.APIKeyID != 0 {
		who = "key:" + strconv.FormatInt(p.APIKeyID, 10)
	}
	if err := l.take(c, class, class+":"+who); err != nil {
		return err
	}
	return c.Next()
}

// take counts one request of key and sets the RateLimit-* headers; it
// returns a 429 when the allowance is spent. A Redis outage is decided by
// the in-memory fallback (redisLimiter); a limiter that still fails lets
// the request through (logged and counted): refusing every request would
// turn a hiccup into an outage.
func (l *RateLimit) take(c *fiber.Ctx, class, key string) error {
	r := l.rateFor(class)
	if r.Off() {
		return nil
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), limiterTimeout)
	defer cancel()
	d, err := l.Limiter.Allow(ctx, key, r)
	if err != nil {
		level := slog.LevelWarn
		if errors.Is(err, context.Canceled) {
			level = slog.LevelDebug
		}
		web.Log(c, l.Log).Log(c.UserContext(), level, "rate limiter unavailable", "err", err)
		l.Metrics.Refused("rate_limiter_unavailable")
		return nil
	}
	reset := int(math.Ceil(d.Reset.Seconds()))
	c.Set("RateLimit-Limit", strconv.Itoa(d.Limit))
	c.Set("RateLimit-Remaining", strconv.Itoa(max(d.Remaining, 0)))
	c.Set("RateLimit-Reset", strconv.Itoa(reset))
	c.Set("RateLimit-Policy", strconv.Itoa(r.N)+";w="+strconv.Itoa(int(math.Ceil(r.Window.Seconds()))))
	if d.Allowed {
		return nil
	}
	l.Metrics.Limited(class)
	retry := max(int(math.Ceil(d.RetryAfter.Seconds())), 1)
	return &web.Error{Status: 429, Code: web.CodeRateLimited, Message: "Too many requests. Slow down and retry later.",
		Detail: "Retry in " + strconv.Itoa(retry) + " s.", Headers: map[string]string{fiber.HeaderRetryAfter: strconv.Itoa(retry)}}
}
