package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Rate is a limit of N requests per Window (N == 0: unlimited).
type Rate struct {
	N      int
	Window time.Duration
}

// Off reports whether the rate imposes no limit.
func (r Rate) Off() bool { return r.N <= 0 || r.Window <= 0 }

func (r Rate) String() string {
	if r.Off() {
		return "off"
	}
	return strconv.Itoa(r.N) + "/" + r.Window.String()
}

// ParseRate reads "N/duration" (e.g. "60/1m") or "off".
func ParseRate(s string) (Rate, error) {
	s = strings.TrimSpace(s)
	if s == "off" || s == "0" {
		return Rate{}, nil
	}
	n, d, ok := strings.Cut(s, "/")
	if !ok {
		return Rate{}, fmt.Errorf("%q is not N/duration (e.g. 60/1m) or off", s)
	}
	count, err := strconv.Atoi(strings.TrimSpace(n))
	if err != nil || count < 0 {
		return Rate{}, fmt.Errorf("%q: %q is not a whole number", s, n)
	}
	win, err := time.ParseDuration(strings.TrimSpace(d))
	if err != nil || win <= 0 {
		return Rate{}, fmt.Errorf("%q: %q is not a positive duration", s, d)
	}
	return Rate{N: count, Window: win}, nil
}

// ProdConfig is the configuration of the production stack: rate limits,
// response cache, compression, metrics and tracing.
type ProdConfig struct {
	RateAuth  Rate // RATE_LIMIT_AUTH: sign-in and token endpoints, per client
	RateWrite Rate // RATE_LIMIT_WRITE: POST, PUT, PATCH, DELETE, per client
	RateRead  Rate // RATE_LIMIT_READ: everything else under /api and /admin
	// CacheTTL bounds how long a cached GET response lives (0: no cache).
	CacheTTL time.Duration
	// Compress turns gzip/brotli response compression on.
	Compress bool
	// MetricsAddr, when set, serves /metrics on this separate (internal)
	// address instead of the public port.
	MetricsAddr string
	// OTLPEndpoint turns tracing on (OTEL_EXPORTER_OTLP_ENDPOINT).
	OTLPEndpoint string
	// RedisPrefix starts every key Tienda writes to Redis (REDIS_PREFIX).
	RedisPrefix string
	// RedisTimeout bounds every Redis call (REDIS_TIMEOUT); RedisProbe is
	// how often an unavailable Redis is tried again (REDIS_PROBE_INTERVAL).
	RedisTimeout time.Duration
	RedisProbe   time.Duration
}

// loadProdConfig reads the production stack's variables.
func loadProdConfig(getenv func(string) string) (ProdConfig, error) {
	get := func(k, def string) string {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
		return def
	}
	var p ProdConfig
	var err error
	rates := []struct {
		key, def string
		dst      *Rate
	}{
		{"RATE_LIMIT_AUTH", "10/1m", &p.RateAuth},
		{"RATE_LIMIT_WRITE", "120/1m", &p.RateWrite},
		{"RATE_LIMIT_READ", "600/1m", &p.RateRead},
	}
	for _, r := range rates {
		if *r.dst, err = ParseRate(get(r.key, r.def)); err != nil {
			return p, fmt.Errorf("%s: %w", r.key, err)
		}
	}
	if p.CacheTTL, err = time.ParseDuration(get("CACHE_TTL", "60s")); err != nil || p.CacheTTL < 0 {
		return p, fmt.Errorf("CACHE_TTL must be a duration such as 60s (0 turns the cache off)")
	}
	switch v := get("COMPRESS", "on"); v {
	case "on", "true", "1":
		p.Compress = true
	case "off", "false", "0":
	default:
		return p, fmt.Errorf("COMPRESS must be on or off, not %q", v)
	}
	p.MetricsAddr = get("METRICS_ADDR", "")
	if p.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(p.MetricsAddr); err != nil {
			return p, fmt.Errorf("METRICS_ADDR must be host:port such as 127.0.0.1:9090: %w", err)
		}
	}
	p.OTLPEndpoint = get("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	p.RedisPrefix = get("REDIS_PREFIX", "tienda:")
	if p.RedisTimeout, err = time.ParseDuration(get("REDIS_TIMEOUT", "200ms")); err != nil || p.RedisTimeout <= 0 || p.RedisTimeout > 10*time.Second {
		return p, fmt.Errorf("REDIS_TIMEOUT must be a duration from 1ms to 10s such as 200ms")
	}
	if p.RedisProbe, err = time.ParseDuration(get("REDIS_PROBE_INTERVAL", "2s")); err != nil || p.RedisProbe < 10*time.Millisecond {
		return p, fmt.Errorf("REDIS_PROBE_INTERVAL must be a duration of at least 10ms such as 2s")
	}
	return p, nil
}
