package app

import (
	"strings"
	"testing"
	"tienda/app/config"
	"time"
)

// TestRateLimiterRedisOutageFallsBackToMemory: when Redis is gone, the
// in-memory limiter decides (so limits still hold, per instance) instead
// of every request failing or passing unlimited.
func TestRateLimiterRedisOutageFallsBackToMemory(t *testing.T) {
	ts := newTestServer(t, "sqlite", withRedis(redisURL(t)), func(c *config.Config) {
		c.Prod.RateRead = config.Rate{N: 2, Window: time.Minute}
		c.MetricsToken = "outage-token-0123456789"
	})
	_ = ts.srv.redis.Close()
	want := []int{401, 401, 429, 429}
	for i, status := range want {
		if r := ts.do("GET", "/api/v1/products", nil); r.Status != status {
			t.Fatalf("request %d during the outage: %d %s", i, r.Status, r.Body)
		}
	}
	m := ts.do("GET", "/metrics", nil, "Authorization", "Bearer outage-token-0123456789")
	if !contains(m.Body, `tienda_redis_fallbacks_total{component="rate_limiter"} 4`) || !contains(m.Body, "tienda_redis_up 0") {
		t.Fatalf("outage not counted:\n%s", grepLines(m.Body, "tienda_redis"))
	}
	if contains(m.Body, `reason="rate_limiter_unavailable"`) {
		t.Fatal("the limiter was reported unavailable: the fallback should have decided")
	}
	if !contains(ts.logs.Bytes(), "redis unavailable") {
		t.Fatal("outage not logged")
	}
}

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }
