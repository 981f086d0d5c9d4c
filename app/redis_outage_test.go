package app

import (
	"context"
	"maps"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"tienda/app/config"
	"tienda/models"
	"tienda/models/testdb"
)

// redisProxy puts a stall-able TCP proxy in front of the test Redis and
// returns its URL: a test can hang "Redis" without stopping the shared one.
func redisProxy(t *testing.T) (string, *testdb.Proxy) {
	t.Helper()
	u, err := url.Parse(redisURL(t))
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

// deleteKeys removes every key under prefix from the test Redis (a FLUSH
// of Tienda's keys; never FLUSHDB, which is shared).
func deleteKeys(t *testing.T, prefix string) int {
	t.Helper()
	opts, err := redis.ParseURL(redisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx := context.Background()
	keys, err := c.Keys(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) > 0 {
		if err := c.Del(ctx, keys...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	return len(keys)
}

// TestRedisOutageKeepsAdminAndAPI: with REDIS_URL set and Redis hung, a
// signed-in staff session still loads admin pages and submits CSRF-checked
// forms, sign-in works, API requests answer at close to normal speed,
// /ready says 200 with redis "degraded", and a metric says so. When Redis
// answers again, sessions made before and during the outage work, one
// ended during the outage stays ended, and a FLUSH of Redis loses none.
func TestRedisOutageKeepsAdminAndAPI(t *testing.T) {
	proxyURL, proxy := redisProxy(t)
	ts := newTestServer(t, models.SQLite, withRedis(proxyURL), func(c *config.Config) {
		c.MetricsToken = "redis-outage-token-0123456789"
		c.Prod.RedisProbe = 200 * time.Millisecond // the default 2s would only slow the test down
	})
	prefix := ts.srv.cfg.Prod.RedisPrefix
	before := ts.signedIn("ana", false)
	leaver := ts.signedIn("leo", false)
	pwDuring := ts.createUser("duri", true, false)
	token := ts.staffToken("api-user")
	seedProducts(t, ts, models.Product{Name: "Silla", Price: models.Cents(1000), Stock: 3})
	wantStatus(t, before.get("/admin/products"), 200)
	readyRedis := func() (int, string) {
		r := ts.do("GET", "/ready", nil)
		s, _ := r.Map(t)["redis"].(string)
		return r.Status, s
	}
	if st, s := readyRedis(); st != 200 || s != "ok" {
		t.Fatalf("/ready before: %d redis=%q", st, s)
	}

	proxy.Stall() // Redis hangs: the worst case, every call waits for its timeout

	// API requests answer normally, each fast: the first few pay the
	// Redis timeout (200ms) until the breaker opens, the rest none.
	var slowest time.Duration
	var total time.Duration
	const n = 30
	for i := range n {
		start := time.Now()
		r := ts.do("GET", "/api/v1/products", nil, "Authorization", token)
		took := time.Since(start)
		total += took
		slowest = max(slowest, took)
		if r.Status != 200 {
			t.Fatalf("API request %d during the outage: %d %s", i, r.Status, r.Body)
		}
		if took > time.Second {
			t.Fatalf("API request %d during the outage took %v", i, took)
		}
	}
	t.Logf("API during the outage: slowest %v, mean %v over %d requests", slowest, total/n, n)
	if r := ts.do("GET", "/api/v1/products", nil); r.Status != 401 {
		t.Fatalf("anonymous request during the outage: %d", r.Status)
	}
	if st, s := readyRedis(); st != 200 || s != "degraded" {
		t.Fatalf("/ready during the outage: %d redis=%q", st, s)
	}

	// The admin: the session signed in before still works, forms pass CSRF.
	start := time.Now()
	wantStatus(t, before.get("/admin/products"), 200)
	wantStatus(t, before.get("/admin/products/new"), 200)
	resp := before.post("/admin/products/new", url.Values{"name": {"Mesa"}, "description": {""}, "price": {"20.00"}, "stock": {"1"}})
	wantStatus(t, resp, http.StatusSeeOther)
	var p models.Product
	if err := ts.store.DB.Where("name = ?", "Mesa").Take(&p).Error; err != nil {
		t.Fatalf("form during the outage saved nothing: %v", err)
	}
	// Sign-in (throttle counters in the database now) and sign-out work.
	during := ts.browser()
	during.login("duri", pwDuring)
	wantStatus(t, during.get("/admin/"), 200)
	wantStatus(t, leaver.get("/admin/"), 200)
	ghost := ts.browser() // keeps the cookies the logout clears from leaver
	ghost.cookies = maps.Clone(leaver.cookies)
	if r := leaver.post("/admin/logout", nil); r.Status != http.StatusSeeOther {
		t.Fatalf("logout during the outage: %d", r.Status)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("admin pages during the outage took %v", took)
	}
	m := string(ts.do("GET", "/metrics", nil, "Authorization", "Bearer redis-outage-token-0123456789").Body)
	for _, want := range []string{"tienda_redis_up 0", `tienda_redis_fallbacks_total{component="rate_limiter"}`,
		`tienda_redis_fallbacks_total{component="cache"}`, `tienda_redis_fallbacks_total{component="storage"}`,
		`tienda_redis_fallbacks_total{component="counter"}`} {
		if !strings.Contains(m, want) {
			t.Fatalf("metrics lack %s:\n%s", want, grepLines([]byte(m), "tienda_redis"))
		}
	}

	// Redis answers again: the server goes back to it by itself.
	proxy.Resume()
	if !eventually(t, 5*time.Second, func() bool { _, s := readyRedis(); return s == "ok" }) {
		t.Fatal("/ready still degraded after Redis came back")
	}
	for name, b := range map[string]*browser{"before": before, "during": during} {
		if r := b.get("/admin/products"); r.Status != 200 {
			t.Fatalf("session made %s the outage after it: %d", name, r.Status)
		}
	}
	resp = before.post("/admin/products/new", url.Values{"name": {"Banco"}, "description": {""}, "price": {"5.00"}, "stock": {"1"}})
	wantStatus(t, resp, http.StatusSeeOther)
	// The session ended during the outage stays ended: Redis's old copy of
	// it was dropped before Redis was read again.
	if r := ghost.get("/admin/products"); r.Status != http.StatusSeeOther || !strings.HasPrefix(location(r), "/admin/login") {
		t.Fatalf("session ended during the outage came back: %d %s", r.Status, location(r))
	}
	m = string(ts.do("GET", "/metrics", nil, "Authorization", "Bearer redis-outage-token-0123456789").Body)
	if !strings.Contains(m, "tienda_redis_up 1") {
		t.Fatalf("tienda_redis_up after recovery:\n%s", grepLines([]byte(m), "tienda_redis_up"))
	}

	// A Redis restart (every key of Tienda's gone): sessions live on.
	if deleteKeys(t, prefix+"kv:") == 0 {
		t.Fatal("no session copies in Redis to flush")
	}
	for name, b := range map[string]*browser{"before": before, "during": during} {
		if r := b.get("/admin/products"); r.Status != 200 {
			t.Fatalf("session made %s the outage after a flush: %d", name, r.Status)
		}
	}
	deleteKeys(t, prefix)
	wantStatus(t, before.post("/admin/products/new", url.Values{"name": {"Taburete"}, "description": {""}, "price": {"7.00"}, "stock": {"1"}}), http.StatusSeeOther)
	if r := ts.do("GET", "/api/v1/products", nil, "Authorization", token); r.Status != 200 {
		t.Fatalf("API after a flush: %d", r.Status)
	}
}

// TestRedisDownAtStart: a server whose Redis does not answer starts
// anyway, degraded, and uses Redis once it answers.
func TestRedisDownAtStart(t *testing.T) {
	proxyURL, proxy := redisProxy(t)
	proxy.Stall()
	start := time.Now()
	ts := newTestServer(t, models.SQLite, withRedis(proxyURL), func(c *config.Config) { c.Prod.RedisProbe = 100 * time.Millisecond })
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("start with Redis hung took %v", took)
	}
	b := ts.signedIn("ana", false)
	wantStatus(t, b.get("/admin/products"), 200)
	if r := ts.do("GET", "/ready", nil); r.Status != 200 || r.Map(t)["redis"] != "degraded" {
		t.Fatalf("/ready: %d %s", r.Status, r.Body)
	}
	proxy.Resume()
	if !eventually(t, 5*time.Second, func() bool { return ts.do("GET", "/ready", nil).Map(t)["redis"] == "ok" }) {
		t.Fatal("never used Redis")
	}
	wantStatus(t, b.get("/admin/products"), 200)
}
