package app

import (
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
	"github.com/gofiber/fiber/v2/middleware/recover"

	"tienda/models"
)

// routes is the one index of every route the server answers.
func (s *Server) routes() error {
	app := s.app
	// The seed's stack, in order. The logger sees every request, including
	// the ones later layers refuse; the size limit runs before CORS, rate
	// limiting and authentication, so an oversized request is never
	// authenticated; a 429 goes through the logger's error handling and so
	// carries the correlation id.
	app.Use(s.observe)              // metrics: in-flight, latency by route template and status
	app.Use(s.tracing.middleware()) // OpenTelemetry span (only when OTEL_EXPORTER_OTLP_ENDPOINT is set)
	app.Use(s.requestLogger)        // (1) correlation id + one access line
	app.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: s.logPanic}))
	app.Use(s.securityHeaders) // (2) CSP, HSTS, frame/content-type/referrer/permissions
	app.Use(s.compressLayer()) // brotli/gzip, never for event streams
	app.Use(s.limitBody)       // (3) MAX_REQUEST_SIZE, before any body is read
	app.Use(s.corsLayer())     // (4) CORS_ORIGINS
	app.Use(s.rateLimit)       // (5) per user / API key / client IP; auth, write, read

	app.Get("/health", s.handleHealth)
	app.Get("/ready", s.handleReady)
	app.Get("/metrics", s.handleMetrics())
	app.Use("/static", filesystem.New(filesystem.Config{Root: httpFS(s.static), MaxAge: int((365 * 24 * time.Hour).Seconds())}))

	app.Get("/api/docs", s.handleDocs)
	api := app.Group("/api/v1")
	api.Get("/openapi.json", s.handleOpenAPI)
	api.Post("/auth/token", s.handleToken)
	api.Post("/auth/refresh", s.handleRefresh)
	api.Post("/auth/logout", s.handleLogout)

	authed := api.Group("", s.jwtAuth(), s.apiKeyAuth) // (6) JWT, (7) API key
	products := &resource[models.Product, *models.Product]{
		s: s, kind: "product", title: "Product", path: "/api/v1/products", spec: models.ProductList,
		writable: []string{"name", "description", "price", "stock"}, filters: productFilters,
	}
	products.mount(authed, "/products")
	documents := &resource[models.Document, *models.Document]{
		s: s, kind: "document", title: "Document", path: "/api/v1/documents", spec: models.DocumentList,
		writable: []string{"title", "content"},
	}
	documents.mount(authed, "/documents")
	authed.Get("/api-keys", s.handleListAPIKeys)
	authed.Post("/api-keys", s.handleCreateAPIKey)
	authed.Delete("/api-keys/:id", s.handleRevokeAPIKey)
	s.chatRoutes(authed)

	app.Get("/", func(c *fiber.Ctx) error { return c.Redirect("/admin/", fiber.StatusFound) })
	return s.adminRoutes()
}

func (s *Server) logPanic(c *fiber.Ctx, e any) {
	s.logFor(c).Error("panic", "panic", e)
}
