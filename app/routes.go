package app

import (
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
	"github.com/gofiber/fiber/v2/middleware/recover"

	"tienda/models"
)

// routes is the one index of every route the server answers.
func (s *Server) routes() {
	app := s.app
	// Order matters: the logger sees every request, including ones the
	// later layers refuse.
	app.Use(s.requestLogger)
	app.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: s.logPanic}))
	app.Use(s.securityHeaders)

	app.Get("/health", s.handleHealth)
	app.Get("/ready", s.handleReady)
	app.Use("/static", filesystem.New(filesystem.Config{Root: httpFS(s.static), MaxAge: int((365 * 24 * time.Hour).Seconds())}))

	api := app.Group("/api/v1")
	api.Post("/auth/token", s.handleToken)
	api.Post("/auth/refresh", s.handleRefresh)
	api.Post("/auth/logout", s.handleLogout)

	authed := api.Group("", s.requireAuth())
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
	s.chatRoutes(authed)

	app.Get("/", func(c *fiber.Ctx) error { return c.Redirect("/admin/", fiber.StatusFound) })
}

func (s *Server) logPanic(c *fiber.Ctx, e any) {
	s.logFor(c).Error("panic", "panic", e)
}
