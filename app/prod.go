package app

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/compress"
	"github.com/prometheus/client_golang/prometheus"
)

// initProd wires the production stack into a new server: metrics, the rate
// limiter (memory or Redis), the response cache with its invalidation on
// every committed write, and tracing when configured. bg ends at Close.
func (s *Server) initProd(ctx context.Context, bg context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	s.metrics = NewMetrics(sqlDB)
	s.verified = newVerifiedTokens(10_000)
	s.metrics.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tienda_ready", Help: "1 when the database answers and every migration is applied (as /ready), else 0.",
	}, s.readyGauge))
	if s.redis != nil {
		s.limiter = &redisLimiter{c: s.redis, prefix: s.cfg.Prod.RedisPrefix + "rl:"}
	} else {
		ml := newMemoryLimiter()
		go ml.run(bg, time.Minute)
		s.limiter = ml
	}
	if s.cfg.Prod.CacheTTL > 0 {
		s.cache = &respCache{ttl: s.cfg.Prod.CacheTTL, gens: s.storage, m: s.metrics}
		if s.redis != nil {
			s.cache.bodies = &redisBodies{c: s.redis, prefix: s.cfg.Prod.RedisPrefix}
		} else {
			s.cache.bodies = newMemoryBodies(10_000)
		}
	}
	s.store.OnChange = s.onChange
	s.throttle.OnRejected = func() { s.metrics.refused("login_throttled") }
	if s.openapi, err = BuildOpenAPI(); err != nil {
		return err
	}
	if s.tracing, err = newTracing(ctx, s.cfg.Prod.OTLPEndpoint, s.db); err != nil {
		return err
	}
	if s.tracing != nil {
		s.store.Span = s.tracing.dbSpan(s.db.Dialector.Name())
	}
	return nil
}

// readyGauge evaluates readiness at scrape time.
func (s *Server) readyGauge() float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if s.ping(ctx) != nil {
		return 0
	}
	if !s.migrated.Load() {
		n, err := s.migrator.Pending(ctx)
		if err != nil || n > 0 {
			return 0
		}
		s.migrated.Store(true)
	}
	return 1
}

// onChange runs after every committed write (models.Store.OnChange): the
// resource's cached responses become stale everywhere, and the business
// counters move. It runs before the write's response is sent.
func (s *Server) onChange(ctx context.Context, objectType, action string) {
	s.metrics.ObjectChanged(objectType, action)
	s.invalidate(ctx, objectType)
}

// invalidate drops every cached response about objectType, on every instance.
func (s *Server) invalidate(ctx context.Context, objectType string) {
	if s.cache == nil {
		return
	}
	if err := s.cache.bump(objectType); err != nil {
		// The write is committed; a failed invalidation must not be hidden.
		LoggerFrom(ctx, s.log).ErrorContext(ctx, "cache invalidation failed", "err", err, "type", objectType)
	}
}

// Metrics returns the server's metrics, for code that records business
// events (the chat service, the indexer).
func (s *Server) Metrics() *Metrics { return s.metrics }

// compressLayer compresses responses (brotli or gzip, as the client
// accepts) except event streams, which must flush event by event.
func (s *Server) compressLayer() fiber.Handler {
	if !s.cfg.Prod.Compress {
		return func(c *fiber.Ctx) error { return c.Next() }
	}
	return compress.New(compress.Config{
		Level: compress.LevelBestSpeed,
		Next: func(c *fiber.Ctx) bool {
			return strings.Contains(c.Get(fiber.HeaderAccept), "text/event-stream") || strings.HasSuffix(c.Path(), "/stream")
		},
	})
}

// serveMetrics serves /metrics on METRICS_ADDR when set, reporting a
// failure on errc; the returned function stops it.
func (s *Server) serveMetrics(errc chan<- error) func() {
	if s.cfg.Prod.MetricsAddr == "" {
		return func() {}
	}
	srv := s.metricsServer()
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	s.log.Info("metrics listening", "addr", s.cfg.Prod.MetricsAddr)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
}
