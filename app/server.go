// Package app is Tienda's composition root: New wires every part from the
// configuration, routes.go lists every route and the middleware order,
// Serve and Close run and stop the server. The parts live in packages
// named for what they hold (config, web, stack, auth, api, adminpanel,
// admin, chat, kv, obs); nothing imports app but cmd/tienda.
package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"gorm.io/gorm"

	"tienda"
	"tienda/app/adminpanel"
	"tienda/app/api"
	"tienda/app/auth"
	"tienda/app/config"
	"tienda/app/graphql"
	"tienda/app/kv"
	"tienda/app/obs"
	"tienda/app/stack"
	"tienda/app/web"
	"tienda/models"
)

// Server is the Tienda HTTP server: one Fiber app for the API, the admin
// and the operational endpoints.
type Server struct {
	cfg      config.Config
	log      *slog.Logger
	db       *gorm.DB
	store    *models.Store
	migrator *models.Migrator
	static   fs.FS
	redis    *kv.Redis // nil without REDIS_URL
	storage  fiber.Storage
	throttle *auth.LoginThrottle
	proxies  web.Proxies
	metrics  *obs.Metrics
	tracing  *obs.Tracing
	errors   *web.ErrorHandler
	stack    *stack.Stack
	limits   *stack.RateLimit
	auth     *auth.Auth
	cache    *api.Cache
	ops      *api.Ops
	chat     *chatParts
	chatAPI  *api.Chat
	graphql  *graphql.Handler
	panel    *adminpanel.Panel
	app      *fiber.App
	// background work started by the server, stopped by Close.
	stopBG context.CancelFunc
	// draining is closed when shutdown begins: open event streams then
	// wind down with a final event instead of being cut off.
	draining  chan struct{}
	drainOnce sync.Once
}

// New builds the server over an open database.
func New(ctx context.Context, cfg config.Config, db *gorm.DB, log *slog.Logger) (*Server, error) {
	mig, err := models.NewMigrator(db, tienda.Migrations)
	if err != nil {
		return nil, err
	}
	static, err := fs.Sub(tienda.Static, "static")
	if err != nil {
		return nil, fmt.Errorf("static files: %w", err)
	}
	s := &Server{
		cfg: cfg, log: log, db: db, store: models.NewStore(db), migrator: mig, static: static,
		proxies: web.NewProxies(cfg.TrustedProxies), draining: make(chan struct{}),
	}
	// The database holds sessions, the cache's generations and the login
	// counters in every configuration; Redis, when set, is in front of it
	// and never the only copy (kv.CachedStorage), so it may go away.
	dbStorage := &kv.SQLStorage{DB: db, Log: log}
	var counter kv.Counter = &kv.SQLCounter{DB: db}
	s.storage = dbStorage
	if cfg.RedisURL != "" {
		rc, err := kv.NewRedis(cfg.RedisURL, kv.RedisOptions{
			Timeout: cfg.Prod.RedisTimeout, ProbeEvery: cfg.Prod.RedisProbe, Log: log,
			// s.metrics exists before the first call (wire, then Start).
			OnFallback: func(component string) { s.metrics.RedisFallback(component) },
		})
		if err != nil {
			return nil, errors.New("REDIS_URL is not a valid redis:// URL")
		}
		s.redis = rc
		counter = &kv.RedisCounter{Redis: rc, Prefix: cfg.Prod.RedisPrefix, Fallback: counter}
		s.storage = kv.NewCachedStorage(dbStorage, rc, cfg.Prod.RedisPrefix+"kv:")
	}
	s.throttle = auth.NewLoginThrottle(counter, log)
	bg, cancel := context.WithCancel(context.Background())
	s.stopBG = cancel
	go kv.GC(bg, db, 5*time.Minute, log)
	if err := s.wire(ctx, bg); err != nil {
		cancel()
		if s.redis != nil {
			_ = s.redis.Close()
		}
		return nil, err
	}
	if s.redis != nil {
		// Redis is optional: one that does not answer now is probed in the
		// background, and the database and memory serve meanwhile.
		sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
		_ = s.redis.Start(sctx)
		scancel()
		go s.redis.Run(bg)
	}
	s.app = fiber.New(fiber.Config{
		AppName:               "tienda",
		ErrorHandler:          s.errors.Handle,
		BodyLimit:             cfg.MaxRequestSize,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          0, // SSE streams run long; keep-alive pings keep them honest
		IdleTimeout:           120 * time.Second,
		ReadBufferSize:        16 * 1024,
		DisableStartupMessage: true,

		// Bodies are streamed so that the size layer (LimitBody) refuses
		// oversized and chunked bodies before they are read into memory.
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,

		// Values from Params, Query, Get, FormValue and Body are copies:
		// fasthttp reuses its buffers once a handler returns, and values
		// kept by goroutines, stream writers, caches and the history would
		// otherwise change under them.
		Immutable: true,
	})
	s.routes()
	return s, nil
}

// wire builds the parts: metrics and tracing, the middleware stack and
// rate limiter, authentication, the response cache, the chat, the API
// handlers and the admin panel. bg ends at Close.
func (s *Server) wire(ctx, bg context.Context) error {
	cfg := s.cfg
	sqlDB, err := s.db.DB()
	if err != nil {
		return fmt.Errorf("database handle: %w", err)
	}
	s.metrics = obs.NewMetrics(sqlDB)
	if s.tracing, err = obs.NewTracing(ctx, cfg.Prod.OTLPEndpoint, s.db); err != nil {
		return err
	}
	s.errors = &web.ErrorHandler{Log: s.log}
	s.stack = &stack.Stack{Log: s.log, Metrics: s.metrics, Proxies: s.proxies, Errors: s.errors,
		MaxBody: cfg.MaxRequestSize, CORSOrigins: cfg.CORSOrigins, Compress: cfg.Prod.Compress}
	s.errors.Headers = s.stack.SetSecurityHeaders
	s.auth = auth.New(s.store, auth.NewTokens(cfg.SecretKey, cfg.AccessTokenTTL, cfg.RefreshTokenTTL), s.throttle, s.proxies, s.metrics, s.log)
	ml := stack.NewMemoryLimiter()
	go ml.Run(bg, time.Minute)
	var limiter stack.Limiter = ml
	if s.redis != nil {
		limiter = stack.NewRedisLimiter(s.redis, cfg.Prod.RedisPrefix+"rl:", ml)
	}
	s.limits = &stack.RateLimit{Limiter: limiter, Rates: cfg.Prod, Proxies: s.proxies, Metrics: s.metrics, Log: s.log}
	if cfg.Prod.CacheTTL > 0 {
		s.cache = &api.Cache{TTL: cfg.Prod.CacheTTL, Gens: s.storage, Metrics: s.metrics, Log: s.log}
		s.cache.Bodies = api.NewMemoryBodies(10_000)
		if s.redis != nil {
			s.cache.Bodies = api.NewRedisBodies(s.redis, cfg.Prod.RedisPrefix, s.cache.Bodies)
		}
	}
	s.store.OnChange = s.onChange
	s.throttle.OnRejected = func() { s.metrics.Refused("login_throttled") }
	s.ops = &api.Ops{DB: s.db, Migrator: s.migrator, Redis: s.redis}
	s.metrics.Registry().MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tienda_ready", Help: "1 when the database answers and every migration is applied (as /ready), else 0.",
	}, s.ops.ReadyGauge))
	if s.redis != nil {
		s.metrics.WatchRedis(s.redis.Up)
	}
	if err := s.startChat(bg); err != nil {
		return err
	}
	s.chatAPI = &api.Chat{Service: s.chat.service, Retriever: s.chat.retriever, Embedder: s.chat.embedder,
		Provider: s.chat.provider, DB: s.db, Budget: cfg.Chat.DailyTokenBudget, Metrics: s.metrics, Log: s.log,
		Ping: s.chat.ssePing, Draining: s.draining, ShutdownTimeout: cfg.ShutdownTimeout, Validate: s.store.Validate,
		StreamTimeout: cfg.RequestTimeout + cfg.LLMTimeout}
	s.graphql = graphql.New(graphql.Options{Store: s.store, Retriever: s.chat.retriever, Metrics: s.metrics,
		Tracer: s.tracing.Tracer("tienda/graphql"), Log: s.log, Introspection: cfg.GraphQLIntrospection, Timeout: cfg.RequestTimeout})
	s.panel, err = adminpanel.New(adminpanel.Config{Store: s.store, Storage: s.storage, SecretKey: cfg.SecretKey,
		Static: s.static, Throttle: s.throttle, Proxies: s.proxies, Provider: s.chat.provider, Log: s.log,
		Currency: cfg.Currency, MaxBody: cfg.MaxRequestSize})
	if err != nil {
		return err
	}
	s.errors.HTML = s.panel.RenderError
	return nil
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
	if err := s.cache.Bump(objectType); err != nil {
		// The write is committed; a failed invalidation must not be hidden.
		web.LoggerFrom(ctx, s.log).ErrorContext(ctx, "cache invalidation failed", "err", err, "type", objectType)
	}
}

// App exposes the Fiber app (tests drive it with app.Test).
func (s *Server) App() *fiber.App { return s.app }

// Store exposes the data layer (used by commands and tests).
func (s *Server) Store() *models.Store { return s.store }

// Metrics returns the server's metrics.
func (s *Server) Metrics() *obs.Metrics { return s.metrics }

// Serve accepts connections on ln until ctx ends, then drains in-flight
// requests for up to ShutdownTimeout.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	errc := make(chan error, 2)
	go func() { errc <- s.app.Listener(ln) }()
	stopMetrics := s.serveMetrics(errc)
	select {
	case err := <-errc:
		stopMetrics()
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "timeout", s.cfg.ShutdownTimeout.String())
	s.drainOnce.Do(func() { close(s.draining) })
	err := s.app.ShutdownWithTimeout(s.cfg.ShutdownTimeout)
	stopMetrics()
	s.Close()
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// serveMetrics serves /metrics on METRICS_ADDR when set, reporting a
// failure on errc; the returned function stops it.
func (s *Server) serveMetrics(errc chan<- error) func() {
	if s.cfg.Prod.MetricsAddr == "" {
		return func() {}
	}
	srv := s.metrics.Server(s.cfg.Prod.MetricsAddr)
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

// Close stops background work and releases connections the server opened.
func (s *Server) Close() {
	s.stopBG()
	s.tracing.Shutdown(s.log)
	if s.redis != nil {
		_ = s.redis.Close()
	}
}
