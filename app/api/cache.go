package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"

	"tienda/app/kv"
	"tienda/app/obs"
	"tienda/app/web"
)

// Cache caches GET list and detail responses of the API. Entries are
// keyed by resource, the resource's generation, the caller's permission
// class, the path and the full (normalised) query. Every committed write
// of a resource replaces its generation in the shared store (the database
// or Redis), so after a successful write no instance can serve an entry
// made before it: they all read the new generation first.
type Cache struct {
	TTL     time.Duration
	Gens    fiber.Storage // shared by every instance
	Bodies  BodyStore     // this process's memory, or Redis (memory while it is down)
	Metrics *obs.Metrics
	Log     *slog.Logger
}

// BodyStore keeps cached bodies for a while.
type BodyStore interface {
	get(ctx context.Context, key string) ([]byte, bool, error)
	set(ctx context.Context, key string, val []byte, ttl time.Duration) error
}

const genPrefix = "cache:gen:"

// generation is the resource's current generation ("" before any write).
func (rc *Cache) generation(kind string) (string, error) {
	b, err := rc.Gens.Get(genPrefix + kind)
	if err != nil {
		return "", fmt.Errorf("cache generation: %w", err)
	}
	return string(b), nil
}

// Bump starts a new generation of kind: every cached entry of it is stale.
func (rc *Cache) Bump(kind string) error {
	if err := rc.Gens.Set(genPrefix+kind, []byte(web.NewID()), 0); err != nil {
		return fmt.Errorf("cache invalidate %s: %w", kind, err)
	}
	return nil
}

// permClass names what the caller may see and do; callers of one class
// share entries.
func permClass(p *web.Principal) string {
	var b strings.Builder
	for _, f := range []struct {
		on bool
		c  byte
	}{{p.Superuser, 's'}, {p.Staff, 't'}, {p.ReadOnly, 'r'}} {
		if f.on {
			b.WriteByte(f.c)
		}
	}
	// Answers do not depend on other permissions today; keying by them
	// keeps it so if one ever does.
	perms := sha256.Sum256([]byte(strings.Join(p.Perms.Sorted(), ",")))
	return "p" + b.String() + hex.EncodeToString(perms[:4])
}

// cacheKey hashes everything the response depends on.
func cacheKey(kind, gen, class string, c *fiber.Ctx) string {
	h := sha256.Sum256([]byte(kind + "\x00" + gen + "\x00" + class + "\x00" + c.Path() + "\x00" + normalizedQuery(c)))
	return "cache:resp:" + kind + ":" + hex.EncodeToString(h[:16])
}

// normalizedQuery is the request's query with its parameters sorted, so
// that the same question asked in another order is the same key.
func normalizedQuery(c *fiber.Ctx) string {
	raw := string(c.Request().URI().QueryString())
	q, err := url.ParseQuery(raw)
	if err != nil {
		return "raw:" + raw
	}
	return q.Encode()
}

// entry layout: ETag, newline, body.
func encodeEntry(etag string, body []byte) []byte {
	out := make([]byte, 0, len(etag)+1+len(body))
	out = append(out, etag...)
	out = append(out, '\n')
	return append(out, body...)
}

func decodeEntry(b []byte) (string, []byte, bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return "", nil, false
	}
	return string(b[:i]), b[i+1:], true
}

// Serve answers a GET of resource kind with h through the response cache
// and conditional requests (ETag / If-None-Match → 304). Errors and non-200
// answers are never cached; a cache outage only costs the cache. A nil
// cache serves h directly.
func (rc *Cache) Serve(c *fiber.Ctx, kind string, h fiber.Handler) error {
	p := web.PrincipalOf(c)
	if rc == nil || p == nil || !p.Can("view", kind) {
		return h(c)
	}
	// Answers depend on the caller: shared caches must not keep them,
	// browsers must revalidate (cheap: If-None-Match gets a 304).
	c.Set(fiber.HeaderCacheControl, "private, no-cache")
	c.Vary(fiber.HeaderAuthorization, web.HeaderAPIKey)
	ctx := c.UserContext()
	gen, err := rc.generation(kind)
	if err != nil {
		web.Log(c, rc.Log).WarnContext(ctx, "cache unavailable", "err", err)
		return conditional(c, h(c))
	}
	key := cacheKey(kind, gen, permClass(p), c)
	if raw, ok, err := rc.Bodies.get(ctx, key); err == nil && ok {
		if etag, body, ok := decodeEntry(raw); ok {
			rc.Metrics.CacheResult(kind, true)
			c.Set("X-Cache", "HIT")
			c.Set(fiber.HeaderETag, etag)
			c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
			return conditional(c, c.Send(body))
		}
	} else if err != nil {
		web.Log(c, rc.Log).WarnContext(ctx, "cache read failed", "err", err)
	}
	rc.Metrics.CacheResult(kind, false)
	c.Set("X-Cache", "MISS")
	if err := h(c); err != nil {
		return err
	}
	if c.Response().StatusCode() != fiber.StatusOK {
		return nil
	}
	body := c.Response().Body()
	etag := string(c.Response().Header.Peek(fiber.HeaderETag))
	if etag == "" {
		etag = web.WeakETag(body)
		c.Set(fiber.HeaderETag, etag)
	}
	if err := rc.Bodies.set(ctx, key, encodeEntry(etag, body), rc.TTL); err != nil {
		web.Log(c, rc.Log).WarnContext(ctx, "cache write failed", "err", err)
	}
	return conditional(c, nil)
}

// conditional turns a 200 whose ETag the client already has into a 304.
func conditional(c *fiber.Ctx, err error) error {
	if err != nil || c.Response().StatusCode() != fiber.StatusOK {
		return err
	}
	etag := string(c.Response().Header.Peek(fiber.HeaderETag))
	if etag == "" {
		etag = web.WeakETag(c.Response().Body())
		c.Set(fiber.HeaderETag, etag)
	}
	if web.NoneMatch(c.Get(fiber.HeaderIfNoneMatch), etag) {
		c.Response().ResetBody()
		return c.SendStatus(fiber.StatusNotModified)
	}
	return nil
}

// memoryBodies keeps bodies in this process, bounded by count.
type memoryBodies struct {
	mu      sync.Mutex
	max     int
	entries map[string]memEntry
}

type memEntry struct {
	val []byte
	exp time.Time
}

// NewMemoryBodies keeps at most max bodies in this process.
func NewMemoryBodies(max int) BodyStore {
	return &memoryBodies{max: max, entries: map[string]memEntry{}}
}

func (m *memoryBodies) get(_ context.Context, key string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if !ok || time.Now().After(e.exp) {
		return nil, false, nil
	}
	return e.val, true, nil
}

func (m *memoryBodies) set(_ context.Context, key string, val []byte, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.entries) >= m.max {
		now := time.Now()
		for k, e := range m.entries {
			if now.After(e.exp) {
				delete(m.entries, k)
			}
		}
		// Still full: drop about half (map order is random).
		for k := range m.entries {
			if len(m.entries) < m.max/2 {
				break
			}
			delete(m.entries, k)
		}
	}
	m.entries[key] = memEntry{val: bytes.Clone(val), exp: time.Now().Add(ttl)}
	return nil
}

// NewRedisBodies keeps bodies in Redis (shared by every instance), and in
// fallback (NewMemoryBodies: this process) while Redis is unavailable.
// Entries are keyed by the resource's generation, which lives in the
// database too, so an entry made in memory during an outage is as fresh as
// one in Redis.
func NewRedisBodies(r *kv.Redis, prefix string, fallback BodyStore) BodyStore {
	return &redisBodies{r: r, prefix: prefix, fallback: fallback}
}

// redisBodies keeps bodies in Redis with their TTL.
type redisBodies struct {
	r        *kv.Redis
	prefix   string
	fallback BodyStore
}

func (r *redisBodies) get(ctx context.Context, key string) ([]byte, bool, error) {
	var b []byte
	err := r.r.Call(ctx, func(ctx context.Context) error {
		var err error
		b, err = r.r.Client.Get(ctx, r.prefix+key).Bytes()
		return err
	})
	switch {
	case err == nil:
		return b, true, nil
	case errors.Is(err, redis.Nil):
		return nil, false, nil
	case ctx.Err() != nil:
		return nil, false, fmt.Errorf("redis cache get: %w", err)
	}
	r.r.Fallback("cache")
	return r.fallback.get(ctx, key)
}

func (r *redisBodies) set(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	err := r.r.Call(ctx, func(ctx context.Context) error {
		return r.r.Client.Set(ctx, r.prefix+key, val, ttl).Err()
	})
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("redis cache set: %w", err)
	}
	r.r.Fallback("cache")
	return r.fallback.set(ctx, key, val, ttl)
}
