package app

import (
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"

	"tienda/app/adminpanel"
	"tienda/app/api"
	"tienda/app/graphql"
	"tienda/app/stack"
	"tienda/models"
)

// routes is the one index of every route the server answers, and of the
// middleware order.
func (s *Server) routes() {
	app := s.app
	st := s.stack
	// The stack, in order. The logger sees every request, including the
	// ones later layers refuse; the size limit runs before CORS, rate
	// limiting and authentication, so an oversized request is never
	// authenticated; a 429 goes through the logger's error handling and so
	// carries the correlation id.
	app.Use(s.metrics.Middleware)   // metrics: in-flight, latency by route template and status
	app.Use(s.tracing.Middleware()) // OpenTelemetry span (only when OTEL_EXPORTER_OTLP_ENDPOINT is set)
	app.Use(st.Logger)              // (1) correlation id + one access line
	app.Use(st.Recover())
	app.Use(stack.Deadline(s.cfg.RequestTimeout, s.longDeadlines())) // every request's deadline
	app.Use(st.SecurityHeaders)                                      // (2) CSP, HSTS, frame/content-type/referrer/permissions
	app.Use(st.CompressLayer())                                      // brotli/gzip, never for event streams
	app.Use(st.LimitBody)                                            // (3) MAX_REQUEST_SIZE, before any body is read
	app.Use(st.CORS())                                               // (4) CORS_ORIGINS
	app.Use(s.limits.Anonymous)                                      // (5a) by client address: anonymous requests, sign-in, failed credentials

	// Operations.
	app.Get("/health", s.ops.Health)
	app.Get("/ready", s.ops.Ready)
	app.Get("/metrics", s.metrics.Endpoint(s.cfg.MetricsToken, s.cfg.Prod.MetricsAddr != ""))
	app.Use("/static", filesystem.New(filesystem.Config{Root: http.FS(s.static), MaxAge: int((365 * 24 * time.Hour).Seconds())}))
	app.Get("/", func(c *fiber.Ctx) error { return c.Redirect(adminpanel.Base+"/", fiber.StatusFound) })
	// Pages link the SVG icon; browsers that ask for /favicon.ico anyway get it too.
	app.Get("/favicon.ico", func(c *fiber.Ctx) error { return c.Redirect("/static/favicon.svg", fiber.StatusMovedPermanently) })

	// The API: documentation and sign-in are public.
	app.Get("/api/docs", s.ops.Docs)
	app.Get("/api/graphiql", s.graphql.GraphiQL)
	v1 := app.Group("/api/v1")
	v1.Get("/openapi.json", s.ops.OpenAPIDoc)
	v1.Post("/auth/token", s.auth.Token)
	v1.Post("/auth/refresh", s.auth.Refresh)
	v1.Post("/auth/logout", s.auth.Logout)

	// (6) JWT, (7) API key, then (5b) the allowance of whoever they authenticated.
	authed := v1.Group("", s.auth.JWT(), s.auth.APIKey, s.limits.PerPrincipal)
	products := &api.Resource[models.Product, *models.Product]{Store: s.store, Cache: s.cache, Kind: "product", Title: "Product",
		Path: "/api/v1/products", Spec: models.ProductList, Writable: []string{"name", "description", "price", "stock"},
		Filters: api.ProductFilters, RequireIfMatch: s.cfg.RequireIfMatch}
	authed.Get("/products", products.List)
	authed.Post("/products", products.Create)
	authed.Get("/products/:id", products.Get)
	authed.Put("/products/:id", products.Replace)
	authed.Patch("/products/:id", products.Patch)
	authed.Delete("/products/:id", products.Delete)
	documents := &api.Resource[models.Document, *models.Document]{Store: s.store, Cache: s.cache, Kind: "document", Title: "Document",
		Path: "/api/v1/documents", Spec: models.DocumentList, Writable: []string{"title", "content"},
		RequireIfMatch: s.cfg.RequireIfMatch}
	authed.Post("/documents/search", s.chatAPI.Search) // before /documents/:id
	authed.Get("/documents", documents.List)
	authed.Post("/documents", documents.Create)
	authed.Get("/documents/:id", documents.Get)
	authed.Put("/documents/:id", documents.Replace)
	authed.Patch("/documents/:id", documents.Patch)
	authed.Delete("/documents/:id", documents.Delete)
	authed.Get("/api-keys", s.auth.ListKeys)
	authed.Post("/api-keys", s.auth.CreateKey)
	authed.Delete("/api-keys/:id", s.auth.RevokeKey)
	authed.Post("/embeddings", s.chatAPI.Embeddings)
	authed.Post("/chat", s.chatAPI.Chat)
	authed.Post("/chat/stream", s.chatAPI.Stream)
	authed.Get("/chat/models", s.chatAPI.Models)
	// GraphQL: the same store, rules and permissions (queries by GET or POST).
	authed.Get("/graphql", s.graphql.Serve)
	authed.Post("/graphql", s.graphql.Serve)

	// The admin: sign-in is public, everything else needs a staff session.
	p := s.panel
	adm := app.Group(adminpanel.Base, p.Headers, p.Sessions, p.CSRF)
	adm.Get("/login", p.LoginForm)
	adm.Post("/login", p.Login)
	staff := adm.Group("", p.RequireStaff)
	staff.Get("/", p.Dashboard)
	staff.Post("/logout", p.Logout)
	staff.Get("/logout", p.LogoutRedirect)
	staff.Get("/chat", p.ChatPage)
	staff.Get("/recent-actions", p.RecentActions)
	staff.Get("/account", p.Account)
	staff.Post("/account/password", p.ChangePassword)
	staff.Post("/chat/stream", s.chatAPI.Stream)
	staff.Get("/api-keys", p.APIKeys)
	staff.Post("/api-keys", p.CreateAPIKey)
	staff.Get("/api-keys/:id/revoke", p.RevokeAPIKey)
	staff.Post("/api-keys/:id/revoke", p.RevokeAPIKey)
	// Every registered model (products, documents, users) gets the same
	// pages; a slug no model has falls through to a 404.
	site := p.Site()
	staff.Get("/:model", site.List)
	staff.Get("/:model/new", site.AddForm)
	staff.Post("/:model/new", site.Create)
	staff.Get("/:model/export.csv", site.Export)
	staff.Post("/:model/bulk", site.Bulk)
	staff.Get("/:model/:id", site.ChangeForm)
	staff.Post("/:model/:id", site.Update)
	staff.Get("/:model/:id/delete", site.DeleteForm)
	staff.Post("/:model/:id/delete", site.Delete)
	staff.Get("/:model/:id/history", site.History)
	staff.Post("/:model/:id/history/:entry/revert", site.Revert)
}

// longDeadlines are the routes that wait for the language model: their
// deadline is LLM_TIMEOUT on top of REQUEST_TIMEOUT (the database part).
// GraphQL's searchDocuments may too; its other operations get
// REQUEST_TIMEOUT from the endpoint itself.
func (s *Server) longDeadlines() map[string]time.Duration {
	d := s.cfg.RequestTimeout + s.cfg.LLMTimeout
	return map[string]time.Duration{
		"/api/v1/chat": d, "/api/v1/chat/stream": d, "/admin/chat/stream": d,
		"/api/v1/documents/search": d, "/api/v1/embeddings": d, "/api/v1/chat/models": d, graphql.Path: d,
	}
}
