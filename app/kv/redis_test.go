package kv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"tienda/models/testdb"
)

// testRedisURL is TEST_REDIS_URL; the test skips without it (CI sets it).
func testRedisURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("TEST_REDIS_URL")
	if u == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("TEST_REDIS_URL is not set in CI")
		}
		t.Skip("TEST_REDIS_URL not set")
	}
	return u
}

// redisViaProxy is TEST_REDIS_URL through a proxy that can stall, so a
// test can hang "Redis" without touching the shared server.
func redisViaProxy(t *testing.T) (string, *testdb.Proxy) {
	t.Helper()
	u, err := url.Parse(testRedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "6379")
	}
	p := testdb.NewProxy(t, target)
	u.Host = p.Addr()
	return u.String(), p
}

// startRedis opens url with o, probes it until the test ends, and fails
// unless it is up (when up is true).
func startRedis(t *testing.T, url string, o RedisOptions) *Redis {
	t.Helper()
	r, err := NewRedis(url, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := r.Start(ctx); err != nil {
		t.Fatalf("start: %v", err)
	}
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = r.Close()
	})
	return r
}

// direct is a plain client of the test Redis (to look behind the store).
func direct(t *testing.T) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(testRedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func testPrefix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "test:" + hex.EncodeToString(b) + ":"
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still not %s after %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRedisBreakerOpensAndProbes: a hung Redis costs Threshold timeouts,
// then every call answers ErrRedisDown at once; the prober closes the
// breaker again once Redis answers.
func TestRedisBreakerOpensAndProbes(t *testing.T) {
	url, proxy := redisViaProxy(t)
	var mu sync.Mutex
	var states []bool
	var fallbacks atomic.Int32
	r := startRedis(t, url, RedisOptions{Timeout: 100 * time.Millisecond, ProbeEvery: 50 * time.Millisecond,
		OnState:    func(up bool) { mu.Lock(); states = append(states, up); mu.Unlock() },
		OnFallback: func(string) { fallbacks.Add(1) }})
	ctx := context.Background()
	ping := func(ctx context.Context) error { return r.Client.Ping(ctx).Err() }
	if err := r.Call(ctx, ping); err != nil || !r.Up() {
		t.Fatalf("up: %v %v", err, r.Up())
	}
	proxy.Stall()
	start := time.Now()
	for i := range defaultRedisThreshold {
		if err := r.Call(ctx, ping); err == nil || errors.Is(err, ErrRedisDown) {
			t.Fatalf("call %d on a hung Redis: %v", i, err)
		}
	}
	if took := time.Since(start); took > time.Duration(defaultRedisThreshold)*300*time.Millisecond {
		t.Fatalf("%d calls took %v with a 100ms timeout", defaultRedisThreshold, took)
	}
	if r.Up() {
		t.Fatal("breaker still closed after the threshold")
	}
	start = time.Now()
	for range 1000 {
		if err := r.Call(ctx, ping); !errors.Is(err, ErrRedisDown) {
			t.Fatalf("open breaker let a call through: %v", err)
		}
	}
	if took := time.Since(start); took > 50*time.Millisecond {
		t.Fatalf("1000 calls on an open breaker took %v", took)
	}
	// Probes keep failing while it hangs...
	time.Sleep(300 * time.Millisecond)
	if r.Up() {
		t.Fatal("a probe closed the breaker while Redis hangs")
	}
	// ...and the first one after it answers closes the breaker.
	proxy.Resume()
	waitFor(t, 2*time.Second, "up again", r.Up)
	if err := r.Call(ctx, ping); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(states) != 3 || !states[0] || states[1] || !states[2] {
		t.Fatalf("state changes %v, want [true false true]", states)
	}
	mu.Unlock()
	// A reply error is Redis answering: it never opens the breaker.
	for range 2 * defaultRedisThreshold {
		_ = r.Call(ctx, func(ctx context.Context) error { return r.Client.Do(ctx, "NOSUCHCOMMAND").Err() })
	}
	if !r.Up() {
		t.Fatal("reply errors opened the breaker")
	}
	r.Fallback("x")
	if fallbacks.Load() != 1 {
		t.Fatal("fallback not reported")
	}
}

// TestRedisStartsDown: a Redis that does not answer at start-up does not
// stop the start; the prober brings it in when it answers.
func TestRedisStartsDown(t *testing.T) {
	url, proxy := redisViaProxy(t)
	proxy.Stall()
	r, err := NewRedis(url, RedisOptions{Timeout: 100 * time.Millisecond, ProbeEvery: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	start := time.Now()
	if err := r.Start(context.Background()); err == nil || r.Up() {
		t.Fatalf("start on a hung Redis: %v, up %v", err, r.Up())
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("start took %v", took)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	proxy.Resume()
	waitFor(t, 2*time.Second, "up", r.Up)
}

// TestCachedStorage: the database holds every value and Redis a copy in
// front of it; a FLUSH of the copies (a Redis restart) loses nothing; an
// outage is served by the database at once; after it no copy older than
// the database is read.
func TestCachedStorage(t *testing.T) {
	for _, d := range testdb.Dialects() {
		t.Run(d, func(t *testing.T) {
			url, proxy := redisViaProxy(t)
			r := startRedis(t, url, RedisOptions{Timeout: 100 * time.Millisecond, ProbeEvery: 50 * time.Millisecond})
			prefix := testPrefix() + "kv:"
			db := testdb.Open(t, d)
			sql := &SQLStorage{DB: db}
			s := NewCachedStorage(sql, r, prefix)
			c := direct(t)
			ctx := context.Background()
			get := func(key string) string {
				t.Helper()
				v, err := s.Get(key)
				if err != nil {
					t.Fatalf("get %s: %v", key, err)
				}
				return string(v)
			}
			inRedis := func(key string) (string, bool) {
				v, err := c.Get(ctx, prefix+key).Result()
				if errors.Is(err, redis.Nil) {
					return "", false
				}
				if err != nil {
					t.Fatal(err)
				}
				return v, true
			}

			// Writes go to both.
			if err := s.Set("a", []byte("one"), time.Hour); err != nil {
				t.Fatal(err)
			}
			if v, _ := sql.Get("a"); string(v) != "one" {
				t.Fatalf("database copy %q", v)
			}
			if v, _ := inRedis("a"); v != "one" {
				t.Fatalf("redis copy %q", v)
			}
			// The copies are flushed (a restart without persistence): the
			// database answers and the copy comes back, with its expiry.
			if err := c.Del(ctx, prefix+"a").Err(); err != nil {
				t.Fatal(err)
			}
			if v := get("a"); v != "one" {
				t.Fatalf("after a flush: %q", v)
			}
			if v, _ := inRedis("a"); v != "one" {
				t.Fatalf("copy not restored: %q", v)
			}
			if ttl := c.TTL(ctx, prefix+"a").Val(); ttl <= 59*time.Minute || ttl > time.Hour {
				t.Fatalf("restored copy's TTL %v", ttl)
			}
			// A delete leaves a tombstone, so a late reader cannot put the
			// old value back.
			if err := s.Delete("a"); err != nil {
				t.Fatal(err)
			}
			if v := get("a"); v != "" {
				t.Fatalf("deleted key reads %q", v)
			}
			if err := c.SetNX(ctx, prefix+"a", "one", 0).Err(); err != nil || c.Get(ctx, prefix+"a").Val() != "" {
				t.Fatalf("tombstone did not hold: %v", err)
			}

			// Outage: Redis hangs.
			for _, k := range []string{"kept", "changed", "deleted"} {
				if err := s.Set(k, []byte("before"), time.Hour); err != nil {
					t.Fatal(err)
				}
			}
			proxy.Stall()
			start := time.Now()
			for range 20 {
				if v := get("kept"); v != "before" {
					t.Fatalf("during the outage: %q", v)
				}
			}
			if err := s.Set("changed", []byte("during"), time.Hour); err != nil {
				t.Fatal(err)
			}
			if err := s.Delete("deleted"); err != nil {
				t.Fatal(err)
			}
			if err := s.Set("new", []byte("during"), time.Hour); err != nil {
				t.Fatal(err)
			}
			if took := time.Since(start); took > time.Second {
				t.Fatalf("24 calls during the outage took %v (timeout 100ms)", took)
			}
			if r.Up() {
				t.Fatal("breaker closed during the outage")
			}
			if get("changed") != "during" || get("deleted") != "" || get("new") != "during" {
				t.Fatal("the database did not serve the outage's writes")
			}
			// Behind the proxy, Redis still holds the old copies...
			if v, _ := inRedis("changed"); v != "before" {
				t.Fatalf("redis copy during the outage %q", v)
			}
			// ...which the recovery drops before anything reads them.
			proxy.Resume()
			waitFor(t, 2*time.Second, "up again", r.Up)
			if get("changed") != "during" || get("deleted") != "" || get("new") != "during" || get("kept") != "before" {
				t.Fatalf("after the outage: changed=%q deleted=%q new=%q kept=%q", get("changed"), get("deleted"), get("new"), get("kept"))
			}
			if v, _ := inRedis("changed"); v != "during" {
				t.Fatalf("copy after the outage %q", v)
			}
			// Other keys of the Redis database are never touched.
			other := testPrefix() + "other"
			c.Set(ctx, other, "x", time.Minute)
			if err := s.Purge(ctx); err != nil {
				t.Fatal(err)
			}
			if c.Get(ctx, other).Val() != "x" {
				t.Fatal("purge removed a key outside its prefix")
			}
		})
	}
}

// TestRedisCounterFallsBack: while Redis hangs, the counters count in the
// database, promptly.
func TestRedisCounterFallsBack(t *testing.T) {
	url, proxy := redisViaProxy(t)
	var falls atomic.Int32
	r := startRedis(t, url, RedisOptions{Timeout: 100 * time.Millisecond, ProbeEvery: 50 * time.Millisecond,
		OnFallback: func(string) { falls.Add(1) }})
	c := &RedisCounter{Redis: r, Prefix: testPrefix(), Fallback: &SQLCounter{DB: testdb.Open(t, "sqlite")}}
	ctx := context.Background()
	if n, _, err := c.Incr(ctx, "k", time.Minute); err != nil || n != 1 {
		t.Fatalf("incr: %d %v", n, err)
	}
	proxy.Stall()
	start := time.Now()
	for i := 1; i <= 10; i++ {
		n, left, err := c.Incr(ctx, "k", time.Minute)
		if err != nil || n != int64(i) || left <= 0 {
			t.Fatalf("incr %d during the outage: %d %v %v", i, n, left, err)
		}
	}
	if n, _, err := c.Get(ctx, "k"); err != nil || n != 10 {
		t.Fatalf("get during the outage: %d %v", n, err)
	}
	if err := c.Reset(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("12 calls took %v", took)
	}
	if falls.Load() < 10 {
		t.Fatalf("%d fallbacks counted", falls.Load())
	}
	proxy.Resume()
	waitFor(t, 2*time.Second, "up again", r.Up)
	// Back in Redis, where the count of before the outage is (plus the
	// increment that timed out on its way: a stalled network delivers it
	// late, as a real one may).
	before := falls.Load()
	if n, _, err := c.Incr(ctx, "k", time.Minute); err != nil || n < 2 || n > 3 || falls.Load() != before {
		t.Fatalf("incr after the outage: %d %v", n, err)
	}
}
