package app

import (
	"strings"
	"testing"
	"tienda/app/config"
	"time"
)

// TestRateLimiterOutageLetsRequestsThrough: when Redis is gone, requests
// pass (logged and counted) instead of every request failing.
func TestRateLimiterOutageLetsRequestsThrough(t *testing.T) {
	ts := newTestServer(t, "sqlite", withRedis(redisURL(t)), func(c *config.Config) {
		c.Prod.RateRead = config.Rate{N: 1, Window: time.Minute}
		c.MetricsToken = "outage-token-0123456789"
	})
	_ = ts.srv.redis.Close()
	for i := 0; i < 3; i++ {
		if r := ts.do("GET", "/api/v1/products", nil); r.Status != 401 {
			t.Fatalf("request %d during the outage: %d %s", i, r.Status, r.Body)
		}
	}
	m := ts.do("GET", "/metrics", nil, "Authorization", "Bearer outage-token-0123456789")
	if !contains(m.Body, `tienda_requests_refused_total{reason="rate_limiter_unavailable"} 3`) {
		t.Fatalf("outage not counted")
	}
	if !contains(ts.logs.Bytes(), "rate limiter unavailable") {
		t.Fatal("outage not logged")
	}
}

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }
