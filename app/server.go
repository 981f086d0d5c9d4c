package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"tienda"
	"tienda/app/kv"
	"tienda/models"
)

// Server is the Tienda HTTP server: one Fiber app for the API, the admin
// and the operational endpoints, wired explicitly from its dependencies.
type Server struct {
	cfg      Config
	log      *slog.Logger
	db       *gorm.DB
	store    *models.Store
	migrator *models.Migrator
	tokens   *Tokens
	throttle *LoginThrottle
	counter  kv.Counter
	storage  fiber.Storage
	redis    redis.UniversalClient
	proxies  []netip.Prefix
	migrated atomic.Bool
	app      *fiber.App
	static   fs.FS
	// htmlErrors renders errors of browser pages (set by the admin).
	htmlErrors func(c *fiber.Ctx, e *APIError) error
	// production stack (prod.go): metrics, rate limiter, response cache, tracing.
	metrics  *Metrics
	limiter  limiter
	cache    *respCache
	tracing  *tracing
	openapi  []byte          // the OpenAPI document (openapi.go)
	verified *verifiedTokens // access tokens already verified (ratelimit.go)
	// chat is the knowledge base and chat (app/chat_server.go).
	chat *chatParts
	// background work started by the server, stopped by Shutdown.
	stopBG context.CancelFunc
	// draining is closed when shutdown begins: open event streams then
	// wind down with a final event instead of being cut off.
	draining  chan struct{}
	drainOnce sync.Once
}

// New builds the server over an open database.
func New(ctx context.Context, cfg Config, db *gorm.DB, log *slog.Logger) (*Server, error) {
	mig, err := models.NewMigrator(db, tienda.Migrations)
	if err != nil {
		return nil, err
	}
	static, err := fs.Sub(tienda.Static, "static")
	if err != nil {
		return nil, fmt.Errorf("static files: %w", err)
	}
	s := &Server{
		cfg: cfg, log: log, db: db, store: models.NewStore(db), migrator: mig,
		tokens:  NewTokens(cfg.SecretKey, cfg.AccessTokenTTL, cfg.RefreshTokenTTL),
		proxies: parseProxies(cfg.TrustedProxies), static: static, draining: make(chan struct{}),
	}
	if cfg.RedisURL != "" {
		opts, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return nil, errors.New("REDIS_URL is not a valid redis:// URL")
		}
		s.redis = redis.NewClient(opts)
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := s.redis.Ping(pctx).Err(); err != nil {
			return nil, fmt.Errorf("connect to Redis: %w", err)
		}
		s.counter = &kv.RedisCounter{Client: s.redis, Prefix: cfg.Prod.RedisPrefix}
		s.storage = newRedisStorage(s.redis, cfg.Prod.RedisPrefix+"kv:")
	} else {
		s.counter = &kv.SQLCounter{DB: db}
		s.storage = &kv.SQLStorage{DB: db, Log: log}
	}
	s.throttle = NewLoginThrottle(s.counter, log)
	bg, cancel := context.WithCancel(context.Background())
	s.stopBG = cancel
	if cfg.RedisURL == "" {
		go kv.GC(bg, db, 5*time.Minute, log)
	}
	if err := s.initProd(ctx, bg); err != nil {
		cancel()
		return nil, err
	}
	if err := s.startChat(bg); err != nil {
		cancel()
		return nil, err
	}
	s.app = fiber.New(fiber.Config{
		AppName:               "tienda",
		ErrorHandler:          s.errorHandler,
		BodyLimit:             cfg.MaxRequestSize,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          0, // SSE streams run long; keep-alive pings keep them honest
		IdleTimeout:           120 * time.Second,
		ReadBufferSize:        16 * 1024,
		DisableStartupMessage: true,

		// Bodies are streamed so that the size layer (limitBody) refuses
		// oversized and chunked bodies before they are read into memory.
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,

		// Values from Params, Query, Get, FormValue and Body are copies:
		// fasthttp reuses its buffers once a handler returns, and values
		// kept by goroutines, stream writers, caches and the history would
		// otherwise change under them.
		Immutable: true,
	})
	if err := s.routes(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// App exposes the Fiber app (tests drive it with app.Test).
func (s *Server) App() *fiber.App { return s.app }

// Store exposes the data layer (used by commands and tests).
func (s *Server) Store() *models.Store { return s.store }

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

// Close stops background work and releases connections the server opened.
func (s *Server) Close() {
	s.stopBG()
	s.tracing.shutdown(s.log)
	if s.redis != nil {
		_ = s.redis.Close()
	}
}
