package api

import (
	"context"
	"html/template"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"gorm.io/gorm"

	"tienda/app/kv"
	"tienda/app/web"
	"tienda/models"
)

// Ops serves the operational endpoints: health, readiness, the OpenAPI
// document and the docs page.
type Ops struct {
	DB       *gorm.DB
	Migrator *models.Migrator
	// openapi is the document, reflected once, on its first request:
	// reflecting every route's types is most of what start-up would cost.
	openapi struct {
		once sync.Once
		doc  []byte
		err  error
	}
	// Redis, when REDIS_URL is set, is reported by /ready as "ok" or
	// "degraded" (its breaker open: the fallbacks serve). It is optional,
	// so a degraded Redis leaves /ready at 200.
	Redis    *kv.Redis
	migrated atomic.Bool
}

// Health: the process is alive.
func (o *Ops) Health(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

// Ready: the database answers and every migration is applied; 503
// with the reason otherwise. It recovers without a restart. With Redis
// configured the body says whether it is in use ("redis": "ok") or
// bypassed ("degraded").
func (o *Ops) Ready(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	c.Set(fiber.HeaderCacheControl, "no-store")
	if err := o.ping(ctx); err != nil {
		return c.Status(503).JSON(fiber.Map{"status": "unavailable", "reason": "database unreachable"})
	}
	if !o.migrated.Load() {
		n, err := o.Migrator.Pending(ctx)
		if err != nil {
			return c.Status(503).JSON(fiber.Map{"status": "unavailable", "reason": "cannot read migration status"})
		}
		if n > 0 {
			return c.Status(503).JSON(fiber.Map{"status": "unavailable", "reason": "migrations pending", "pending": n})
		}
		o.migrated.Store(true) // a running binary's migration set never grows
	}
	body := fiber.Map{"status": "ready"}
	if o.Redis != nil {
		body["redis"] = "ok"
		if !o.Redis.Up() {
			body["redis"] = "degraded"
		}
	}
	return c.JSON(body)
}

func (o *Ops) ping(ctx context.Context) error {
	sqlDB, err := o.DB.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// ReadyGauge evaluates readiness at scrape time (1 ready, 0 not).
func (o *Ops) ReadyGauge() float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if o.ping(ctx) != nil {
		return 0
	}
	if !o.migrated.Load() {
		n, err := o.Migrator.Pending(ctx)
		if err != nil || n > 0 {
			return 0
		}
		o.migrated.Store(true)
	}
	return 1
}

// SwaggerUI is the vendored Swagger UI (static/vendor, see its VENDOR.md).
const SwaggerUI = "/static/vendor/swagger-ui-dist@5.35.0"

// docsPage loads only files from this server: no inline script or style,
// so it works under the page CSP and offline.
var docsPage = template.Must(template.New("docs").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tienda API</title>
<link rel="stylesheet" href="{{.UI}}/swagger-ui.css">
<link rel="icon" type="image/png" href="{{.UI}}/favicon-32x32.png">
</head>
<body>
<nav class="tienda-api-links"><a href="/api/graphiql">The same API in GraphQL: open GraphiQL</a> (endpoint /api/v1/graphql)</nav>
<div id="swagger-ui"></div>
<script src="{{.UI}}/swagger-ui-bundle.js" nonce="{{.Nonce}}"></script>
<script src="/static/js/api-docs.js" nonce="{{.Nonce}}"></script>
</body>
</html>
`))

// Docs: GET /api/docs, the interactive API documentation.
func (o *Ops) Docs(c *fiber.Ctx) error {
	nonce := web.Nonce(c)
	c.Type("html", "utf-8")
	return docsPage.Execute(c.Response().BodyWriter(), struct{ UI, Nonce string }{SwaggerUI, nonce})
}
