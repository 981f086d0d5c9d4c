package web

import (
	"log/slog"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// ErrorHandler is Fiber's one error handler: every error of every route
// ends here. API paths get the JSON envelope; admin pages get HTML from
// the HTML hook when it is set.
type ErrorHandler struct {
	Log *slog.Logger
	// HTML renders the error as a page of the admin (nil: always JSON).
	HTML func(c *fiber.Ctx, e *Error) error
	// Headers sets the security headers on a response that never went
	// through the middleware (fasthttp's own errors, e.g. 431).
	Headers func(c *fiber.Ctx)
}

// Handle answers err.
func (h *ErrorHandler) Handle(c *fiber.Ctx, err error) error {
	ae := AsError(err)
	if h.Headers != nil && len(c.Response().Header.Peek(fiber.HeaderXContentTypeOptions)) == 0 {
		h.Headers(c)
	}
	cid := CorrelationID(c)
	log := Log(c, h.Log)
	if ae.Status >= 500 {
		// The cause is logged with the correlation id, never sent to the client.
		log.ErrorContext(c.UserContext(), "request failed", "err", err, "status", ae.Status)
	}
	if h.HTML != nil && WantsHTML(c) {
		return h.HTML(c, ae)
	}
	out := *ae
	out.CorrelationID = cid
	for k, v := range ae.Headers {
		c.Set(k, v)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(ae.Status).JSON(out)
}

// WantsHTML is true for browser pages (the admin), false for the API and
// for the admin's own JSON requests (the chat playground's fetch sends
// JSON and accepts an event stream): those get the JSON envelope, whose
// message and fields the page shows.
func WantsHTML(c *fiber.Ctx) bool {
	p := c.Path()
	if p != "/admin" && !strings.HasPrefix(p, "/admin/") {
		return false
	}
	accept := c.Get(fiber.HeaderAccept)
	if strings.HasPrefix(string(c.Request().Header.ContentType()), fiber.MIMEApplicationJSON) && !strings.Contains(accept, "text/html") {
		return false
	}
	return true
}

// IsPage is true for the paths that serve HTML to browsers (the admin, the
// API docs and GraphiQL), which get the page CSP with a nonce.
func IsPage(p string) bool {
	return p == "/admin" || strings.HasPrefix(p, "/admin/") || p == "/api/docs" || strings.HasPrefix(p, "/api/docs/") ||
		p == "/api/graphiql"
}

// IsOpsPath is true for the operational endpoints (health, readiness,
// metrics, static files): no rate limit applies and no span is made.
func IsOpsPath(p string) bool {
	return p == "/health" || p == "/ready" || p == "/metrics" || strings.HasPrefix(p, "/static/")
}
